/** log_timestamp_format: the log prefix through the shared strftime (src/text/strftime.ts). */
import { strftime } from '../text/strftime.js';
import type { TimestampFormatter } from './log.js';

export function strftimeFormatter(format: string): TimestampFormatter {
  return (d) => strftime(format, d);
}

/**
 * The debug lines Mosquitto's clients print with -d ("Client X sending CONNECT", ...),
 * formatted only when debugging is on.
 */
import type { PublishPacket } from '../protocol/index.js';

/** How a client shows its id: "(null)" while it has none, as libmosquitto prints it. */
export function shownId(clientId: string | undefined): string {
  return clientId === undefined || clientId === '' ? '(null)' : clientId;
}

export function publishSummary(direction: 'sending' | 'received', p: PublishPacket, mid: number): string {
  const len = typeof p.payload === 'string' ? Buffer.byteLength(p.payload) : p.payload.length;
  return `${direction} PUBLISH (d${p.dup ? 1 : 0}, q${p.qos}, r${p.retain ? 1 : 0}, m${mid}, '${p.topic}', ... (${len} bytes))`;
}

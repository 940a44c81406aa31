/**
 * A small strftime(3) for the C/POSIX locale: the conversions glibc documents, over a
 * Date in local time (or UTC on request). Used by ts-mosquitto_sub's -F '@' codes and by
 * the broker's log_timestamp_format; deliberately free of any CLI or broker import.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

export interface StrftimeOptions {
  /** Format in UTC rather than local time. */
  utc?: boolean;
}

interface Fields {
  year: number;
  month: number; // 0-11
  day: number; // 1-31
  hours: number;
  minutes: number;
  seconds: number;
  weekday: number; // 0 = Sunday
  yearDay: number; // 0-365
  offsetMinutes: number; // east of UTC
  epochSeconds: number;
}

function fieldsOf(date: Date, utc: boolean): Fields {
  const year = utc ? date.getUTCFullYear() : date.getFullYear();
  const month = utc ? date.getUTCMonth() : date.getMonth();
  const day = utc ? date.getUTCDate() : date.getDate();
  const yearStart = Date.UTC(year, 0, 1);
  const yearDay = Math.round((Date.UTC(year, month, day) - yearStart) / 86400000);
  return {
    year,
    month,
    day,
    hours: utc ? date.getUTCHours() : date.getHours(),
    minutes: utc ? date.getUTCMinutes() : date.getMinutes(),
    seconds: utc ? date.getUTCSeconds() : date.getSeconds(),
    weekday: utc ? date.getUTCDay() : date.getDay(),
    yearDay,
    offsetMinutes: utc ? 0 : -date.getTimezoneOffset(),
    epochSeconds: Math.floor(date.getTime() / 1000),
  };
}

function pad(n: number, width: number, fill = '0'): string {
  const s = String(n);
  return s.length >= width ? s : fill.repeat(width - s.length) + s;
}

/** ISO 8601 week number and week-based year (for %G, %g, %V). */
function isoWeek(f: Fields): { week: number; year: number } {
  const wday = (f.weekday + 6) % 7; // Monday = 0
  let year = f.year;
  let week = Math.floor((f.yearDay - wday + 10) / 7);
  if (week < 1) {
    year -= 1;
    const prevDays = isLeap(year) ? 366 : 365;
    week = Math.floor((f.yearDay + prevDays - wday + 10) / 7);
  } else {
    const days = isLeap(year) ? 366 : 365;
    if (f.yearDay - wday + 3 >= days) {
      // Thursday of this week falls in next year.
      week = 1;
      year += 1;
    }
  }
  return { week, year };
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function zone(f: Fields): string {
  const off = f.offsetMinutes;
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return sign + pad(Math.floor(abs / 60), 2) + pad(abs % 60, 2);
}

function zoneName(date: Date, utc: boolean): string {
  if (utc) return 'GMT';
  const tz = process.env.TZ;
  if (tz === undefined || tz === '' || tz === 'UTC' || tz === 'UTC0' || tz === ':UTC' || tz === 'Etc/UTC') {
    if (date.getTimezoneOffset() === 0) return 'UTC';
  }
  const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date);
  const name = parts.find((p) => p.type === 'timeZoneName');
  return name !== undefined ? name.value : '';
}

/** Expand one conversion character; returns undefined for an unknown one. */
function convert(c: string, f: Fields, date: Date, utc: boolean): string | undefined {
  switch (c) {
    case 'a': return DAYS[f.weekday].slice(0, 3);
    case 'A': return DAYS[f.weekday];
    case 'b':
    case 'h': return MONTHS[f.month].slice(0, 3);
    case 'B': return MONTHS[f.month];
    case 'c':
      return `${DAYS[f.weekday].slice(0, 3)} ${MONTHS[f.month].slice(0, 3)} ${pad(f.day, 2, ' ')} ` +
        `${pad(f.hours, 2)}:${pad(f.minutes, 2)}:${pad(f.seconds, 2)} ${f.year}`;
    case 'C': return pad(Math.floor(f.year / 100), 2);
    case 'd': return pad(f.day, 2);
    case 'D': return `${pad(f.month + 1, 2)}/${pad(f.day, 2)}/${pad(f.year % 100, 2)}`;
    case 'e': return pad(f.day, 2, ' ');
    case 'F': return `${f.year}-${pad(f.month + 1, 2)}-${pad(f.day, 2)}`;
    case 'g': return pad(isoWeek(f).year % 100, 2);
    case 'G': return String(isoWeek(f).year);
    case 'H': return pad(f.hours, 2);
    case 'I': return pad(f.hours % 12 === 0 ? 12 : f.hours % 12, 2);
    case 'j': return pad(f.yearDay + 1, 3);
    case 'k': return pad(f.hours, 2, ' ');
    case 'l': return pad(f.hours % 12 === 0 ? 12 : f.hours % 12, 2, ' ');
    case 'm': return pad(f.month + 1, 2);
    case 'M': return pad(f.minutes, 2);
    case 'n': return '\n';
    case 'p': return f.hours < 12 ? 'AM' : 'PM';
    case 'P': return f.hours < 12 ? 'am' : 'pm';
    case 'r': {
      const h = f.hours % 12 === 0 ? 12 : f.hours % 12;
      return `${pad(h, 2)}:${pad(f.minutes, 2)}:${pad(f.seconds, 2)} ${f.hours < 12 ? 'AM' : 'PM'}`;
    }
    case 'R': return `${pad(f.hours, 2)}:${pad(f.minutes, 2)}`;
    case 's': return String(f.epochSeconds);
    case 'S': return pad(f.seconds, 2);
    case 't': return '\t';
    case 'T': return `${pad(f.hours, 2)}:${pad(f.minutes, 2)}:${pad(f.seconds, 2)}`;
    case 'u': return String(f.weekday === 0 ? 7 : f.weekday);
    case 'U': return pad(Math.floor((f.yearDay + 7 - f.weekday) / 7), 2);
    case 'V': return pad(isoWeek(f).week, 2);
    case 'w': return String(f.weekday);
    case 'W': return pad(Math.floor((f.yearDay + 7 - ((f.weekday + 6) % 7)) / 7), 2);
    case 'x': return `${pad(f.month + 1, 2)}/${pad(f.day, 2)}/${pad(f.year % 100, 2)}`;
    case 'X': return `${pad(f.hours, 2)}:${pad(f.minutes, 2)}:${pad(f.seconds, 2)}`;
    case 'y': return pad(f.year % 100, 2);
    case 'Y': return String(f.year);
    case 'z': return zone(f);
    case 'Z': return zoneName(date, utc);
    case '%': return '%';
    default: return undefined;
  }
}

/** Format `date` with a strftime(3) format string. Unknown conversions are kept as written. */
export function strftime(format: string, date: Date, options: StrftimeOptions = {}): string {
  const utc = options.utc === true;
  const f = fieldsOf(date, utc);
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%' || i + 1 >= format.length) {
      out += ch;
      continue;
    }
    const c = format[++i];
    const v = convert(c, f, date, utc);
    out += v === undefined ? '%' + c : v;
  }
  return out;
}

/** Expand a single conversion character, as -F's '@X' does (only X reaches strftime). */
export function strftimeOne(conversion: string, date: Date, options: StrftimeOptions = {}): string {
  return strftime('%' + conversion, date, options);
}

// Parsing the text of a cell into numbers and instants, under a shop's conventions.
// Both return NaN for text they cannot read, so the caller can quarantine the row with the field's name.

export interface NumberConvention {
  /** decimal separator: '.' (default) or ',' */
  decimal: '.' | ',';
  /** thousands separator to drop: '' (none), ',', '.', ' ' or "'" */
  thousands: '' | ',' | '.' | ' ' | "'";
}

const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseNumber(text: string, convention: NumberConvention = { decimal: '.', thousands: '' }): number {
  let t = text.trim();
  if (t === '') return NaN;
  if (convention.thousands) t = t.split(convention.thousands).join('');
  if (convention.decimal === ',') t = t.replace(',', '.');
  return PLAIN_NUMBER.test(t) ? Number(t) : NaN;
}

// ---- timestamps ----

export interface TimestampConvention {
  /** 'auto' (ISO 8601 and its common variants), 'unix' (seconds), 'unix-ms', or a pattern such as 'M/D/YYYY H:mm' */
  format: string;
  /** zone for times written without one: 'UTC' or a fixed offset like '+01:00' */
  timezone: string;
}

export type TimestampParser = (text: string) => number; // epoch milliseconds or NaN

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return false;
  if (d > DAYS[mo - 1]) return false;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return false;
  return true;
}

/** '+01:00', '-0400', 'Z', 'UTC' → minutes east of UTC; NaN when unreadable. */
export function parseOffset(text: string): number {
  const t = text.trim();
  if (t === 'Z' || t === 'UTC' || t === 'GMT' || t === '') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(t);
  if (!m) return NaN;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -minutes : minutes;
}

function digits(s: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** ISO 8601 and friends: 2011-12-09, 2011-12-09 12:50, 2011-12-09T12:50:00.123Z, 2025-05-11 09:55:16 -0400. */
function parseIsoLike(text: string, defaultOffsetMin: number): number {
  const s = text.trim();
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  const y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  if (y < 0 || mo < 0 || d < 0) return NaN;
  let h = 0, mi = 0, sec = 0, ms = 0;
  let i = 10;
  if (i < n && (s[i] === ' ' || s[i] === 'T')) {
    if (n < i + 6 || s.charCodeAt(i + 3) !== 58) return NaN;
    h = digits(s, i + 1, 2);
    mi = digits(s, i + 4, 2);
    if (h < 0 || mi < 0) return NaN;
    i += 6;
    if (i < n && s.charCodeAt(i) === 58) {
      sec = digits(s, i + 1, 2);
      if (sec < 0) return NaN;
      i += 3;
      if (i < n && s.charCodeAt(i) === 46) {
        let j = i + 1;
        let frac = 0, scale = 1;
        while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) {
          if (scale < 1000) { frac = frac * 10 + (s.charCodeAt(j) - 48); scale *= 10; }
          j++;
        }
        if (j === i + 1) return NaN;
        ms = Math.round((frac * 1000) / scale);
        i = j;
      }
    }
  }
  let offset = defaultOffsetMin;
  if (i < n) {
    offset = parseOffset(s.slice(i));
    if (Number.isNaN(offset)) return NaN;
  }
  if (!validDate(y, mo, d, h, mi, sec)) return NaN;
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offset * 60_000;
}

const TOKENS: Array<[string, string, string]> = [
  ['YYYY', '(\\d{4})', 'year'],
  ['YY', '(\\d{2})', 'year2'],
  ['MM', '(\\d{2})', 'month'],
  ['M', '(\\d{1,2})', 'month'],
  ['DD', '(\\d{2})', 'day'],
  ['D', '(\\d{1,2})', 'day'],
  ['HH', '(\\d{2})', 'hour'],
  ['H', '(\\d{1,2})', 'hour'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
  ['SSS', '(\\d{1,3})', 'ms'],
  ['A', '(AM|PM|am|pm)', 'ampm'],
  ['Z', '(Z|[+-]\\d{2}:?\\d{2})', 'zone'],
];

/** Compiles 'M/D/YYYY H:mm'-style patterns; throws a RangeError naming what is wrong. */
function compilePattern(pattern: string, defaultOffsetMin: number): TimestampParser {
  let regex = '^';
  const parts: string[] = [];
  let i = 0;
  while (i < pattern.length) {
    const token = TOKENS.find(([t]) => pattern.startsWith(t, i));
    if (token) {
      regex += token[1];
      parts.push(token[2]);
      i += token[0].length;
    } else {
      regex += pattern[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  if (!parts.includes('year') && !parts.includes('year2')) throw new RangeError(`timestamp format "${pattern}" has no year (YYYY or YY)`);
  if (!parts.includes('month') || !parts.includes('day')) throw new RangeError(`timestamp format "${pattern}" needs a month (MM or M) and a day (DD or D)`);
  const re = new RegExp(regex + '$');
  return (text) => {
    const m = re.exec(text.trim());
    if (!m) return NaN;
    let y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, offset = defaultOffsetMin;
    let pm: boolean | undefined;
    parts.forEach((part, k) => {
      const v = m[k + 1];
      switch (part) {
        case 'year': y = Number(v); break;
        case 'year2': y = 2000 + Number(v); break;
        case 'month': mo = Number(v); break;
        case 'day': d = Number(v); break;
        case 'hour': h = Number(v); break;
        case 'minute': mi = Number(v); break;
        case 'second': sec = Number(v); break;
        case 'ms': ms = Number(v.padEnd(3, '0')); break;
        case 'ampm': pm = v.toLowerCase() === 'pm'; break;
        case 'zone': offset = parseOffset(v); break;
      }
    });
    if (pm !== undefined) {
      if (h < 1 || h > 12) return NaN;
      h = (h % 12) + (pm ? 12 : 0);
    }
    if (!validDate(y, mo, d, h, mi, sec)) return NaN;
    return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offset * 60_000;
  };
}

export function timestampParser(convention: TimestampConvention): TimestampParser {
  const offset = parseOffset(convention.timezone);
  if (Number.isNaN(offset)) {
    throw new RangeError(`timezone "${convention.timezone}" is not understood; use UTC or a fixed offset such as +01:00`);
  }
  switch (convention.format) {
    case 'auto':
    case 'iso':
      return (text) => parseIsoLike(text, offset);
    case 'unix':
      return (text) => parseNumber(text) * 1000;
    case 'unix-ms':
      return (text) => parseNumber(text);
    default:
      return compilePattern(convention.format, offset);
  }
}

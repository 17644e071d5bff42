// Parsing the text of a cell into numbers and instants, under a shop's conventions.
// Both return NaN for text they cannot read, so the caller can quarantine the row with the field's name.

export interface NumberConvention {
  /** decimal separator: '.' (default) or ',' */
  decimal: '.' | ',';
  /** thousands separator to drop: '' (none), ',', '.', ' ' or "'" */
  thousands: '' | ',' | '.' | ' ' | "'";
}

const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

// An integer part grouped by thousands: 1-3 digits, then groups of exactly 3 (1.234.567, 12 345, -1'000).
// Anything else with the separator in it (2.50, 1.2.3, 12.34.567) is not a number: dropping every
// separator would read a mistyped or differently formatted value silently wrong (2.50 as 250).
const GROUPED = {
  ',': /^[+-]?\d{1,3}(?:,\d{3})+$/,
  '.': /^[+-]?\d{1,3}(?:\.\d{3})+$/,
  ' ': /^[+-]?\d{1,3}(?: \d{3})+$/,
  "'": /^[+-]?\d{1,3}(?:'\d{3})+$/,
};

// A currency symbol a spreadsheet writes with the amount, before it (after a sign) or after it.
const CURRENCY_SYMBOL = /^([+-]?)\s*[$€£¥₹₽₩₺₪₫฿]\s*([^$€£¥₹₽₩₺₪₫฿]*)$|^([^$€£¥₹₽₩₺₪₫฿]*?)\s*[$€£¥₹₽₩₺₪₫฿]$/u;

/** Whether a character code may be a currency symbol: '$', or anything beyond ASCII (a digit never is). */
const maybeSymbol = (code: number): boolean => code === 36 || code > 127;

/**
 * An amount of money rounded to 1e-6, as feature sums are: no float noise in sums (3.0999999999999996) or in
 * the difference of two equal amounts (a refund of 17.76 against 24 × 0.74 = 17.759999999999998).
 */
export function roundMoney(amount: number): number {
  return Math.round(amount * 1e6) / 1e6;
}

export function parseNumber(text: string, convention: NumberConvention = { decimal: '.', thousands: '' }): number {
  let t = text.trim();
  if (t === '') return NaN;
  // accounting exports write a negative amount in parentheses: (10.00), ($5.00), (1.234,50 €)
  if (t.charCodeAt(0) === 40 && t.charCodeAt(t.length - 1) === 41) {
    const inner = t.slice(1, -1).trim();
    if (inner === '' || inner[0] === '-' || inner[0] === '+' || inner.includes('(')) return NaN;
    const v = parseNumber(inner, convention);
    return v === 0 ? 0 : -v;
  }
  // "€ 3,00", "12,50 €", "-$5": the amount, in whatever currency the mapping says (checked by its ends, so
  // a plain number pays no regular expression)
  const first = t.charCodeAt(0), last = t.charCodeAt(t.length - 1);
  if (maybeSymbol(first) || maybeSymbol(last) || ((first === 43 || first === 45) && maybeSymbol(t.charCodeAt(1)))) {
    const m = CURRENCY_SYMBOL.exec(t);
    if (!m) return NaN;
    t = m[3] ?? `${m[1]}${m[2]}`;
    if (t === '' || t === '+' || t === '-') return NaN;
  }
  const { decimal, thousands } = convention;
  // French and other locales group thousands with a no-break space (U+00A0) or a narrow one (U+202F)
  if (thousands === ' ') t = t.replace(/[\u00a0\u202f]/g, ' ');
  if (thousands !== '' && t.includes(thousands)) {
    // the separator only in the integer part, before the decimal separator
    const end = t.indexOf(decimal);
    const integer = end < 0 ? t : t.slice(0, end);
    if (!GROUPED[thousands].test(integer) || t.includes(thousands, integer.length)) return NaN;
    t = integer.split(thousands).join('') + t.slice(integer.length);
  }
  if (decimal === ',') {
    // with a decimal comma a '.' is no decimal point: 1.234 (thousands written without thousands: '.') is not 1.234
    if (t.includes('.')) return NaN;
    t = t.replace(',', '.');
  }
  return PLAIN_NUMBER.test(t) ? Number(t) : NaN;
}

// ---- typed values ----

/** A point in time from a typed source: `zoned` false for a wall-clock time without a zone (Parquet TIMESTAMP, DATE). */
export interface Instant {
  epochMs: number;
  zoned: boolean;
}

/** A value that arrived typed (a JSON number; a Parquet number, decimal or timestamp): used as it is, not re-read as text. */
export type TypedValue = number | Instant;

// ---- timestamps ----

export interface TimestampConvention {
  /** 'auto' (ISO 8601 and its common variants), 'unix' (seconds), 'unix-ms', or a pattern such as 'M/D/YYYY H:mm' */
  format: string;
  /** zone for times written without one: 'UTC', a fixed offset like '+01:00', or an IANA zone like 'Europe/Berlin' */
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

/** Real zones lie within -12:00 and +14:00 (Etc/GMT+12 and Pacific/Kiritimati). */
const MIN_OFFSET_MINUTES = -12 * 60;
const MAX_OFFSET_MINUTES = 14 * 60;

/** '+01:00', '-0400', 'Z', 'UTC' → minutes east of UTC; NaN when unreadable or no real zone's (+25:00, +01:75). */
export function parseOffset(text: string): number {
  const t = text.trim();
  if (t === 'Z' || t === 'UTC' || t === 'GMT' || t === '') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(t);
  if (!m) return NaN;
  const minutesPart = Number(m[3] ?? 0);
  const minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + minutesPart);
  if (minutesPart > 59 || minutes < MIN_OFFSET_MINUTES || minutes > MAX_OFFSET_MINUTES) return NaN;
  return minutes;
}

/** 400 Gregorian years, in ms: the calendar repeats after them, leap days included. */
const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;

/**
 * Epoch ms of a UTC date and time (month 1-12) for any 4-digit year. Date.UTC reads years 0-99 as
 * 1900-1999 (0001-01-01 would be 1901): those are computed 400 years later and moved back by the cycle.
 */
function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  return y >= 100 ? Date.UTC(y, mo - 1, d, h, mi, s, ms) : Date.UTC(y + 400, mo - 1, d, h, mi, s, ms) - GREGORIAN_CYCLE_MS;
}

/**
 * The offset (ms east of UTC) to subtract from a wall-clock time in a zone, the wall-clock time given as
 * if it were UTC (Date.UTC of its fields): instant = local - zone(local).
 */
export type WallClockZone = (localMs: number) => number;

const HOUR_MS = 3_600_000;

/**
 * 'UTC', a fixed offset ('+01:00') or an IANA zone name ('Europe/Berlin'); throws a RangeError starting
 * with "timezone" for anything else. In an IANA zone, daylight saving applies, with java.time's rules:
 * a time that occurs twice (the hour repeated when clocks go back) is the earlier instant; a time that
 * does not occur (the hour skipped when clocks go forward) is shifted forward by the gap (02:30 → 03:30).
 */
export function wallClockZone(timezone: string): WallClockZone {
  const fixed = parseOffset(timezone);
  if (!Number.isNaN(fixed)) {
    const ms = fixed * 60_000;
    return () => ms;
  }
  if (/^[+-]\d{2}(:?\d{2})?$/.test(timezone.trim())) {
    throw new RangeError(`timezone "${timezone}" is no real offset: offsets lie between -12:00 and +14:00, with minutes up to 59`);
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  } catch {
    throw new RangeError(`timezone "${timezone}" is not understood; use UTC, a fixed offset such as +01:00, or a zone name such as Europe/Berlin`);
  }
  // the zone's offset at an instant, from the wall clock Intl shows for it
  const offsetAt = (instant: number): number => {
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(instant)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const whole = instant - (((instant % 1000) + 1000) % 1000);
    return utcMs(p.year, p.month, p.day, p.hour, p.minute, p.second) - whole;
  };
  const resolve = (local: number): number => {
    // a transition is never two within a day: the offsets a day either side are the only candidates
    const before = offsetAt(local - 24 * HOUR_MS);
    const after = offsetAt(local + 24 * HOUR_MS);
    const fitsBefore = offsetAt(local - before) === before;
    const fitsAfter = offsetAt(local - after) === after;
    if (fitsBefore && fitsAfter) return Math.max(before, after); // repeated: the larger offset is the earlier instant
    if (fitsBefore) return before;
    if (fitsAfter) return after;
    return before; // skipped: the offset from before the gap moves the time forward by the gap
  };
  // Intl is slow (microseconds a call) and a file holds ~500k timestamps: the offset is cached per local
  // hour. Transitions fall on a local hour or half hour, so an hour whose first and last second resolve
  // alike is all alike; the rare hour with a transition inside it is resolved per value.
  const cache = new Map<number, number>();
  return (local) => {
    const hour = Math.floor(local / HOUR_MS);
    let offset = cache.get(hour);
    if (offset === undefined) {
      const first = resolve(hour * HOUR_MS);
      offset = first === resolve(hour * HOUR_MS + HOUR_MS - 1000) ? first : NaN;
      if (cache.size >= 1_000_000) cache.clear(); // a century of hours; a bound, not a limit anyone meets
      cache.set(hour, offset);
    }
    return Number.isNaN(offset) ? resolve(local) : offset;
  };
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
function parseIsoLike(text: string, zone: WallClockZone): number {
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
  let offset = NaN; // minutes, when the text has its own
  if (i < n) {
    offset = parseOffset(s.slice(i));
    if (Number.isNaN(offset)) return NaN;
  }
  if (!validDate(y, mo, d, h, mi, sec)) return NaN;
  const local = utcMs(y, mo, d, h, mi, sec, ms);
  return local - (Number.isNaN(offset) ? zone(local) : offset * 60_000);
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
  ['hh', '(\\d{2})', 'hour12'],
  ['h', '(\\d{1,2})', 'hour12'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
  ['SSS', '(\\d{1,3})', 'ms'],
  ['A', '(AM|PM|am|pm)', 'ampm'],
  ['Z', '(Z|[+-]\\d{2}:?\\d{2})', 'zone'],
];

/** The pattern tokens, for error messages. */
export const TIMESTAMP_TOKENS = TOKENS.map(([t]) => t);

/**
 * Compiles 'M/D/YYYY H:mm'-style patterns; throws a RangeError naming what is wrong.
 * Any other letter is refused rather than taken as literal text: 'dd/MM/yyyy' would otherwise compile
 * and silently match nothing. Literal letters go in [brackets]; the ISO separator T is allowed as is.
 */
function compilePattern(pattern: string, zone: WallClockZone): TimestampParser {
  let regex = '^';
  const parts: string[] = [];
  let i = 0;
  while (i < pattern.length) {
    const token = TOKENS.find(([t]) => pattern.startsWith(t, i));
    if (token) {
      regex += token[1];
      parts.push(token[2]);
      i += token[0].length;
    } else if (pattern[i] === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw new RangeError(`timestamp format "${pattern}" has a "[" without its "]"`);
      regex += escapeRegExp(pattern.slice(i + 1, end));
      i = end + 1;
    } else if (/[A-Za-z]/.test(pattern[i]) && pattern[i] !== 'T') {
      let j = i + 1;
      while (pattern[j] === pattern[i]) j++;
      const unknown = pattern.slice(i, j);
      const upper = unknown.toUpperCase();
      const lower = unknown.toLowerCase();
      const suggestion = TIMESTAMP_TOKENS.includes(upper) ? upper : TIMESTAMP_TOKENS.includes(lower) ? lower : null;
      throw new RangeError(
        `timestamp format "${pattern}": "${unknown}" is not a pattern token${suggestion ? ` (did you mean ${suggestion}?)` : ''}; ` +
          `the tokens are ${TIMESTAMP_TOKENS.join(', ')} (put other letters in [brackets])`,
      );
    } else {
      regex += escapeRegExp(pattern[i]);
      i++;
    }
  }
  if (!parts.includes('year') && !parts.includes('year2')) throw new RangeError(`timestamp format "${pattern}" has no year (YYYY or YY)`);
  if (!parts.includes('month') || !parts.includes('day')) throw new RangeError(`timestamp format "${pattern}" needs a month (MM or M) and a day (DD or D)`);
  if (parts.includes('hour12') && !parts.includes('ampm')) {
    throw new RangeError(`timestamp format "${pattern}": h and hh are the 12-hour clock and need A (AM/PM); use H or HH for the 24-hour clock`);
  }
  const re = new RegExp(regex + '$');
  const hasZone = parts.includes('zone');
  return (text) => {
    const m = re.exec(text.trim());
    if (!m) return NaN;
    let y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, offset = NaN;
    let pm: boolean | undefined;
    parts.forEach((part, k) => {
      const v = m[k + 1];
      switch (part) {
        case 'year': y = Number(v); break;
        // POSIX strptime's %y pivot: 69-99 are 1969-1999, 00-68 are 2000-2068
        case 'year2': y = Number(v) + (Number(v) >= 69 ? 1900 : 2000); break;
        case 'month': mo = Number(v); break;
        case 'day': d = Number(v); break;
        case 'hour': case 'hour12': h = Number(v); break;
        case 'minute': mi = Number(v); break;
        case 'second': sec = Number(v); break;
        case 'ms': ms = Number(v.padEnd(3, '0')); break;
        case 'ampm': pm = v.toLowerCase() === 'pm'; break;
        case 'zone': offset = parseOffset(v); break;
      }
    });
    // an offset no zone has (+25:00) is no timestamp, not a time in the mapping's zone
    if (hasZone && Number.isNaN(offset)) return NaN;
    if (pm !== undefined) {
      if (h < 1 || h > 12) return NaN;
      h = (h % 12) + (pm ? 12 : 0);
    }
    if (!validDate(y, mo, d, h, mi, sec)) return NaN;
    const local = utcMs(y, mo, d, h, mi, sec, ms);
    return local - (Number.isNaN(offset) ? zone(local) : offset * 60_000);
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * For a text the 'auto' format cannot read, the patterns that would read it, e.g.
 * "M/D/YYYY H:mm or D/M/YYYY H:mm" for 1/4/2011 10:00 — both when the value itself does not tell
 * day from month (no guessing), the one that fits when it does. null for text that is no date at all.
 */
export function timestampFormatHint(text: string): string | null {
  const m = /^(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})(?:([ T])(\d{1,2}):(\d{2})(:\d{2}(?:\.\d{1,3})?)?(?:\s*([AaPp][Mm]))?)?$/.exec(text.trim());
  if (!m) return null;
  const [, a, sep, b, c, between, hour, , seconds, ampm] = m;
  let time = '';
  if (hour !== undefined) {
    time = `${between === 'T' ? 'T' : ' '}${ampm ? 'h:mm' : 'H:mm'}${seconds ? (seconds.length > 3 ? ':ss.SSS' : ':ss') : ''}${ampm ? ' A' : ''}`;
  }
  const candidates: string[] = [];
  if (a.length === 4 && c.length <= 2) {
    candidates.push(`YYYY${sep}M${sep}D`);
  } else if (a.length <= 2 && (c.length === 4 || c.length === 2)) {
    const year = c.length === 4 ? 'YYYY' : 'YY';
    const first = Number(a), second = Number(b);
    if (first >= 1 && first <= 12 && second >= 1 && second <= 31) candidates.push(`M${sep}D${sep}${year}`);
    if (second >= 1 && second <= 12 && first >= 1 && first <= 31) candidates.push(`D${sep}M${sep}${year}`);
  }
  const fits = candidates.map((p) => p + time).filter((p) => !Number.isNaN(hintParser(p)(text)));
  return fits.length ? fits.join(' or ') : null;
}

const UTC: WallClockZone = () => 0;
const HINT_PARSERS = new Map<string, TimestampParser>();
function hintParser(pattern: string): TimestampParser {
  let parser = HINT_PARSERS.get(pattern);
  if (!parser) HINT_PARSERS.set(pattern, (parser = compilePattern(pattern, UTC)));
  return parser;
}

export function timestampParser(convention: TimestampConvention): TimestampParser {
  const zone = wallClockZone(convention.timezone);
  switch (convention.format) {
    case 'auto':
    case 'iso':
      return (text) => parseIsoLike(text, zone);
    case 'unix':
      return (text) => parseNumber(text) * 1000;
    case 'unix-ms':
      return (text) => parseNumber(text);
    default:
      return compilePattern(convention.format, zone);
  }
}

// Strict reading of the dates and times users give on the command line. Date.parse is too lenient for
// that: it rolls 2011-02-30 over to 2 March and reads 12/01/2011 as a US date in local time.
import { FloyoError } from './errors.js';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/;

function realDay(y: number, m: number, d: number): boolean {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Whether `value` is a calendar date YYYY-MM-DD that exists ('2024-02-29' yes; '2023-02-29', '1990-1-1' no). */
export function isDay(value: string): boolean {
  const m = DAY.exec(value);
  return m !== null && realDay(+m[1], +m[2], +m[3]);
}

/** A calendar date YYYY-MM-DD that exists; otherwise a FloyoError naming `what` (e.g. "--as-of"). */
export function parseDay(value: string, what: string): string {
  if (!isDay(value)) throw new FloyoError(`${what} must be a date YYYY-MM-DD, got "${value}"`);
  return value;
}

/**
 * A point in time: a date YYYY-MM-DD (its last second, UTC) or an ISO timestamp YYYY-MM-DDTHH:MM[:SS]
 * with an optional zone (UTC without one, as the data's timestamps). Returns UTC in whole seconds.
 */
export function parseInstant(value: string, what: string): string {
  const bad = () => new FloyoError(`${what} must be a date (YYYY-MM-DD) or an ISO timestamp (YYYY-MM-DDTHH:MM:SS, optionally with Z or ±HH:MM), got "${value}"`);
  const day = DAY.exec(value);
  if (day) {
    if (!realDay(+day[1], +day[2], +day[3])) throw bad();
    return `${value}T23:59:59Z`;
  }
  const m = INSTANT.exec(value);
  if (!m || !realDay(+m[1], +m[2], +m[3]) || +m[4] > 23 || +m[5] > 59 || +(m[6] ?? 0) > 59) throw bad();
  const zone = m[7] ?? 'Z';
  const t = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (Number.isNaN(t.getTime())) throw bad();
  return isoSeconds(t.getTime());
}

/** A time in ISO 8601 UTC to the second (2011-12-09T12:50:00Z), as every time in Floyo's output. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

/** `day` moved by `days` (negative: earlier). */
export function shiftDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

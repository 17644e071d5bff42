// The shop's calendar: which days exist in the span, how busy each one is (yearly and weekly
// seasonality, holidays, day-to-day noise), and when in the day orders arrive. All dates are UTC
// calendar days; the output has no time zone, like the UCI data.
import type { Rng } from '../ml/random.js';
import { FloyoError } from '../errors.js';
import { aliasTable, type AliasTable } from './sampling.js';

const DAY_MS = 86_400_000;
export const MINUTES_PER_DAY = 1440;

/** Relative order volume by month (Jan..Dec), shaped like the UCI data: a Sep–Nov ramp to a November peak. */
export const MONTH_WEIGHT = [0.8, 0.72, 0.88, 0.8, 0.92, 0.92, 0.95, 0.92, 1.25, 1.45, 1.95, 1.3] as const;
/** Relative order volume by weekday, Sunday first: busiest Thursday, quiet weekend. */
export const WEEKDAY_WEIGHT = [0.75, 1.0, 1.05, 1.05, 1.15, 0.9, 0.5] as const;
/** Orders per hour of the day (0..23), a working-hours curve peaking around noon. */
export const HOUR_WEIGHT = [
  0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.4, 1.2, 4, 7, 10, 11, 13, 12, 11, 10, 6, 3, 1.6, 1.3, 0.9, 0.5, 0.25, 0.1,
] as const;
/** The shop is closed on Christmas Day, Boxing Day and New Year's Day; the days after Christmas are slow. */
const CLOSED = new Set(['12-25', '12-26', '01-01']);
const POST_CHRISTMAS = 0.35;
/** Day-to-day noise on volume: log-normal with this sigma. */
const DAILY_NOISE = 0.1;

/** Parses YYYY-MM-DD strictly (a real calendar date) into days since 1970-01-01. */
export function parseDay(text: string, flag: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) throw new FloyoError(`${flag} must be a date as YYYY-MM-DD, got "${text}"`, { field: flag });
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw new FloyoError(`${flag} is not a calendar date: "${text}"`, { field: flag });
  }
  if (y < 1900 || y > 2200) throw new FloyoError(`${flag} must be between 1900 and 2200, got "${text}"`, { field: flag });
  return Math.round(ms / DAY_MS);
}

export function formatDay(epochDay: number): string {
  return new Date(epochDay * DAY_MS).toISOString().slice(0, 10);
}

export interface Calendar {
  readonly firstDay: number;
  readonly days: number;
  /** 'YYYY-MM-DD ' per day of the span (with the separating space) */
  readonly dayText: string[];
  /** relative order volume per day (0 when closed) */
  readonly volume: Float64Array;
  /** 'HH:MM:00' per minute of the day */
  readonly minuteText: string[];
  /** when orders are placed within a day */
  readonly minuteOfDay: AliasTable;
}

export function buildCalendar(firstDay: number, lastDay: number, rng: Rng): Calendar {
  const days = lastDay - firstDay + 1;
  const dayText: string[] = new Array(days);
  const volume = new Float64Array(days);
  for (let d = 0; d < days; d++) {
    const date = new Date((firstDay + d) * DAY_MS);
    const iso = date.toISOString().slice(0, 10);
    dayText[d] = iso + ' ';
    const monthDay = iso.slice(5);
    const noise = Math.exp(DAILY_NOISE * rng.normal());
    if (CLOSED.has(monthDay)) { volume[d] = 0; continue; }
    let w = yearly(date) * WEEKDAY_WEIGHT[date.getUTCDay()] * noise;
    if (date.getUTCMonth() === 11 && date.getUTCDate() > 21) w *= POST_CHRISTMAS;
    volume[d] = w;
  }
  if (!volume.some((v) => v > 0)) {
    throw new FloyoError(`the span ${formatDay(firstDay)}..${formatDay(lastDay)} has only days the shop is closed (25-26 Dec, 1 Jan)`, { field: '--from' });
  }
  const minuteText: string[] = new Array(MINUTES_PER_DAY);
  const minuteWeight = new Float64Array(MINUTES_PER_DAY);
  for (let m = 0; m < MINUTES_PER_DAY; m++) {
    const h = Math.floor(m / 60);
    minuteText[m] = `${String(h).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00`;
    minuteWeight[m] = HOUR_WEIGHT[h];
  }
  return { firstDay, days, dayText, volume, minuteText, minuteOfDay: aliasTable(minuteWeight) };
}

/** Month weights interpolated linearly between mid-months, so volume ramps rather than steps. */
function yearly(date: Date): number {
  const month = date.getUTCMonth();
  const daysInMonth = new Date(Date.UTC(date.getUTCFullYear(), month + 1, 0)).getUTCDate();
  const pos = (date.getUTCDate() - 0.5) / daysInMonth - 0.5; // -0.5..0.5 around mid-month
  const other = pos < 0 ? (month + 11) % 12 : (month + 1) % 12;
  const t = Math.abs(pos);
  return MONTH_WEIGHT[month] * (1 - t) + MONTH_WEIGHT[other] * t;
}

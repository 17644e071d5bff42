// The shop's customers: who they are (type, country, favourite categories), when they first order
// (some are already customers when the span starts, the rest arrive over time, more in busy seasons),
// how often they come back and when they stop (churn). Customer index order is arrival order, so the
// customers who arrive on one day are a contiguous range; CustomerIDs are shuffled so that they do not
// give arrival order away.
import type { Rng } from '../ml/random.js';
import type { Calendar } from './calendar.js';
import type { Catalog } from './catalog.js';
import { aliasTable, sampleAlias } from './sampling.js';

export type CustomerTypeKey = 'regular' | 'wholesaler' | 'occasional' | 'oneOff';

export interface CustomerType {
  readonly key: CustomerTypeKey;
  readonly label: string;
  /** share of customers */
  readonly share: number;
  /** relative repeat-order rate per active day; --orders fixes the common scale */
  readonly frequency: number;
  /** median order lines (products) per order */
  readonly basketLines: number;
  /** log-normal sigma of lines per order */
  readonly basketSigma: number;
  /** how many packs of a product a line takes: [multiplier, weight] */
  readonly packs: ReadonlyArray<readonly [number, number]>;
  /** mean days from the first order until the customer stops buying (exponential); 0: one order only */
  readonly lifetimeDays: number;
  /** share of orders from which some lines come back later */
  readonly returnRate: number;
}

export const CUSTOMER_TYPES: readonly CustomerType[] = [
  {
    key: 'regular', label: 'loyal regular', share: 0.15, frequency: 1, basketLines: 18, basketSigma: 0.5,
    packs: [[1, 0.45], [2, 0.25], [3, 0.08], [4, 0.1], [6, 0.05], [8, 0.04], [12, 0.03]],
    lifetimeDays: 1500, returnRate: 0.03,
  },
  {
    key: 'wholesaler', label: 'big-spending wholesaler', share: 0.05, frequency: 0.6, basketLines: 45, basketSigma: 0.45,
    packs: [[2, 0.1], [4, 0.15], [6, 0.12], [8, 0.1], [10, 0.1], [12, 0.14], [16, 0.06], [20, 0.08], [24, 0.06], [50, 0.05], [100, 0.03], [200, 0.01]],
    lifetimeDays: 1100, returnRate: 0.05,
  },
  {
    key: 'occasional', label: 'small-basket occasional', share: 0.5, frequency: 0.12, basketLines: 7, basketSigma: 0.6,
    packs: [[1, 0.7], [2, 0.2], [3, 0.05], [4, 0.05]],
    lifetimeDays: 400, returnRate: 0.02,
  },
  {
    key: 'oneOff', label: 'one-off buyer', share: 0.3, frequency: 0, basketLines: 5, basketSigma: 0.6,
    packs: [[1, 0.7], [2, 0.18], [3, 0.06], [4, 0.04], [6, 0.02]],
    lifetimeDays: 0, returnRate: 0.02,
  },
];

/** Countries as in the UCI data, with their share of customers and what postage line their orders carry. */
export const COUNTRIES: ReadonlyArray<{ name: string; share: number; postage: number }> = [
  { name: 'United Kingdom', share: 0.86, postage: 0 },
  { name: 'Germany', share: 0.024, postage: 18 }, { name: 'France', share: 0.022, postage: 18 },
  { name: 'EIRE', share: 0.018, postage: 50 }, { name: 'Spain', share: 0.007, postage: 28 },
  { name: 'Netherlands', share: 0.006, postage: 18 }, { name: 'Belgium', share: 0.006, postage: 15 },
  { name: 'Switzerland', share: 0.005, postage: 28 }, { name: 'Portugal', share: 0.004, postage: 28 },
  { name: 'Australia', share: 0.003, postage: 40 }, { name: 'Norway', share: 0.003, postage: 40 },
  { name: 'Italy', share: 0.003, postage: 28 }, { name: 'Channel Islands', share: 0.002, postage: 50 },
  { name: 'Finland', share: 0.002, postage: 40 }, { name: 'Cyprus', share: 0.002, postage: 40 },
  { name: 'Sweden', share: 0.002, postage: 40 }, { name: 'Austria', share: 0.0015, postage: 28 },
  { name: 'Denmark', share: 0.0015, postage: 28 }, { name: 'Japan', share: 0.0015, postage: 40 },
  { name: 'Poland', share: 0.0012, postage: 28 }, { name: 'USA', share: 0.001, postage: 40 },
  { name: 'Israel', share: 0.001, postage: 40 }, { name: 'Unspecified', share: 0.001, postage: 18 },
  { name: 'Singapore', share: 0.001, postage: 40 }, { name: 'Iceland', share: 0.0005, postage: 40 },
  { name: 'Canada', share: 0.0005, postage: 40 }, { name: 'Greece', share: 0.0005, postage: 40 },
  { name: 'Malta', share: 0.0005, postage: 40 }, { name: 'United Arab Emirates', share: 0.0005, postage: 40 },
  { name: 'European Community', share: 0.0003, postage: 18 }, { name: 'RSA', share: 0.0003, postage: 40 },
  { name: 'Lebanon', share: 0.0003, postage: 40 }, { name: 'Lithuania', share: 0.0003, postage: 40 },
  { name: 'Brazil', share: 0.0003, postage: 40 }, { name: 'Czech Republic', share: 0.0003, postage: 40 },
  { name: 'Bahrain', share: 0.0003, postage: 40 }, { name: 'Saudi Arabia', share: 0.0002, postage: 40 },
];

/** CustomerIDs start where the UCI ones do. */
export const FIRST_CUSTOMER_ID = 12346;
/** Share of customers who are already customers when the span starts: their first order in the data comes early. */
const EXISTING_SHARE = 0.3;
const EXISTING_WINDOW_DAYS = 30;
/** Spread of individual repeat rates (log-normal sigma, mean 1) and basket sizes within a type. */
const RATE_SIGMA = 0.5;
const BASKET_SCALE_SIGMA = 0.3;
/** Repeat rates are integers (this many units per 1.0 of frequency) so that sums stay exact. */
const RATE_UNITS = 100_000;

export interface Population {
  readonly count: number;
  readonly id: Int32Array;
  readonly type: Uint8Array;
  readonly country: Uint8Array;
  /** day index of the first order; non-decreasing in customer index */
  readonly arrival: Int32Array;
  /** customers arriving on day d are arrivalStart[d]..arrivalStart[d+1]-1 */
  readonly arrivalStart: Int32Array;
  /** first day index on which the customer no longer orders (may lie past the span) */
  readonly end: Int32Array;
  /** integer repeat-order weight; 0 for one-off buyers */
  readonly rate: Float64Array;
  /** multiplies the type's basket size */
  readonly basketScale: Float32Array;
  readonly favourite: Int32Array;
  readonly second: Int32Array;
}

/** Exactly round(share × n) customers per type (largest remainder), so the mix is as configured. */
export function typeQuotas(n: number): number[] {
  const exact = CUSTOMER_TYPES.map((t) => t.share * n);
  const quota = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; k < n - quota.reduce((a, b) => a + b, 0); k++) quota[order[k][1]]++;
  return quota;
}

export function buildPopulation(n: number, calendar: Calendar, catalog: Catalog, rng: Rng): Population {
  const D = calendar.days;
  // arrival days: an existing base in the first weeks, newcomers across the span following its volume
  const early = Math.min(EXISTING_WINDOW_DAYS, D);
  const everyDay = aliasTable(calendar.volume);
  const earlyVolume = calendar.volume.slice(0, early);
  const earlyDays = earlyVolume.some((v) => v > 0) ? aliasTable(earlyVolume) : everyDay;
  const perDay = new Int32Array(D);
  for (let i = 0; i < n; i++) {
    const d = rng.next() < EXISTING_SHARE ? sampleAlias(earlyDays, rng.next()) : sampleAlias(everyDay, rng.next());
    perDay[d]++;
  }
  const arrivalStart = new Int32Array(D + 1);
  for (let d = 0; d < D; d++) arrivalStart[d + 1] = arrivalStart[d] + perDay[d];
  const arrival = new Int32Array(n);
  for (let d = 0; d < D; d++) arrival.fill(d, arrivalStart[d], arrivalStart[d + 1]);

  const type = new Uint8Array(n);
  let at = 0;
  typeQuotas(n).forEach((q, t) => { type.fill(t, at, at + q); at += q; });
  shuffle(type, rng);

  const id = new Int32Array(n);
  for (let i = 0; i < n; i++) id[i] = FIRST_CUSTOMER_ID + i;
  shuffle(id, rng);

  const countryPick = aliasTable(COUNTRIES.map((c) => c.share));
  const country = new Uint8Array(n);
  const end = new Int32Array(n);
  const rate = new Float64Array(n);
  const basketScale = new Float32Array(n);
  const favourite = new Int32Array(n);
  const second = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = CUSTOMER_TYPES[type[i]];
    country[i] = sampleAlias(countryPick, rng.next());
    if (t.lifetimeDays === 0) {
      end[i] = arrival[i] + 1;
      rate[i] = 0;
    } else {
      const lifetime = Math.max(1, Math.ceil(-Math.log(1 - rng.next()) * t.lifetimeDays));
      end[i] = Math.min(arrival[i] + lifetime, D + 1);
      const individual = Math.exp(RATE_SIGMA * rng.normal() - (RATE_SIGMA * RATE_SIGMA) / 2);
      rate[i] = Math.max(1, Math.round(t.frequency * individual * RATE_UNITS));
    }
    basketScale[i] = Math.exp(BASKET_SCALE_SIGMA * rng.normal() - (BASKET_SCALE_SIGMA * BASKET_SCALE_SIGMA) / 2);
    favourite[i] = sampleAlias(catalog.categoryByPopularity, rng.next());
    let s = sampleAlias(catalog.categoryByPopularity, rng.next());
    for (let k = 0; k < 3 && s === favourite[i] && catalog.categories > 1; k++) s = sampleAlias(catalog.categoryByPopularity, rng.next());
    second[i] = s;
  }
  return { count: n, id, type, country, arrival, arrivalStart, end, rate, basketScale, favourite, second };
}

/** A customer has churned within the span when their last active day comes before its last day. */
export function churned(pop: Population, i: number, days: number): boolean {
  return pop.end[i] < days;
}

function shuffle(a: Uint8Array | Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]; a[i] = a[j]; a[j] = t;
  }
}

// A synthetic shop's sales history in the UCI Online Retail layout, generated day by day in time order
// with memory bounded by the customers, the products and one day's orders (never the whole file).
//
// How a day is made:
//  1. Customers who arrive that day place their first order; repeat orders are drawn from the active
//     customers (arrived, not yet churned) in proportion to their integer rates through a Fenwick tree.
//     The number of repeat orders per day is fixed up front (volume of the day × total active rate),
//     rounded cumulatively so that the whole span has exactly --orders orders.
//  2. Each order gets a minute of the day; some orders will see part of their lines come back later on a
//     credit note (C-invoice), minutes or weeks later. Credit notes wait in a ring of day slots.
//  3. Orders and the day's credit notes are sorted by minute (counting sort) and written: each basket
//     draws products from the customer's favourite categories, from the collection of the previous item
//     (things bought together) and from overall popularity, with quantities in packs.
import { createRng, type Rng } from '../ml/random.js';
import { FloyoError } from '../errors.js';
import { buildCalendar, formatDay, MINUTES_PER_DAY, parseDay, type Calendar } from './calendar.js';
import { buildCatalog, csvField, formatPrice, MAX_PRODUCTS, NON_PRODUCT, type Catalog } from './catalog.js';
import { buildPopulation, churned, COUNTRIES, CUSTOMER_TYPES, type CustomerTypeKey, type Population } from './population.js';
import { aliasTable, sampleAlias, sampleGroup, WeightTree, type AliasTable } from './sampling.js';
import { packTexts, putAscii, putInt, putRange, putText, type PackedTexts } from './bytes.js';

export const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
/** A fixed two-year span, so that output never depends on the day it is generated. */
export const DEFAULT_FROM = '2024-01-01';
export const DEFAULT_TO = '2025-12-31';
export const LIMITS = { customers: 10_000_000, products: MAX_PRODUCTS, orders: 1_000_000_000, spanDays: 7320 } as const;
/** Invoice numbers continue from where the UCI ones start. */
const FIRST_INVOICE = 536365;
/** Output is handed over in chunks of about this many bytes. */
export const CHUNK_BYTES = 1 << 20;

/** Basket composition: the chance that a line comes from the previous line's collection ... */
const SIBLING_SHARE = 0.2;
/** ... else from the order's main category, the customer's other favourite, or anywhere by popularity.
 *  Taste dominates, as in a real shop: with 18% of lines drawn from the whole catalogue the demo's best
 *  recommender was popularity itself (precision@10 0.20, ALS 0.20). With 5% (and ZIPF_EXPONENT 1.1, to
 *  keep the top 10% of products near UCI's share of lines) ALS leads by about 1.6× (seeds 1..3), near
 *  UCI's 1.9×. */
const MAIN_SHARE = 0.78;
const OTHER_SHARE = 0.17;
/** Draws per basket line before giving up on a product the basket does not hold yet: tastes are narrow
 *  (a favourite category holds about 40 products, a few of them popular), and with 4 draws baskets
 *  came out at 14 lines instead of about 19 (UCI: about 20 per invoice). */
const DRAW_ATTEMPTS = 12;
/** Chance that an order's main category is the customer's favourite rather than their second. */
const FAVOURITE_FIRST = 0.7;
const MAX_LINES = 600;
/** On an order with a return, each line comes back with this chance (at least one does). */
const LINE_RETURN_SHARE = 0.35;
/** Returns: this share are quick cancellations (2..240 minutes later), the rest come back 1..40 days later. */
const QUICK_CANCEL_SHARE = 0.3;
const RETURN_MAX_DAYS = 40;
const RING = 64; // > RETURN_MAX_DAYS + days skipped over closures
const POSTAGE_SHARE = 0.65;
const DOTCOM_SHARE = 0.015;
const MANUAL_SHARE = 0.001;
/** Layout of the per-invoice scratch: InvoiceNo at 0, the date part at MID, the customer part at TAIL. */
const SCRATCH_PART = 128;
const MID = SCRATCH_PART;
const TAIL = 2 * SCRATCH_PART;

export interface ShopOptions {
  customers: number;
  products: number;
  orders: number;
  seed: number;
  /** YYYY-MM-DD, first day (default DEFAULT_FROM) */
  from?: string;
  /** YYYY-MM-DD, last day, inclusive (default DEFAULT_TO) */
  to?: string;
}

export interface ResolvedShopOptions extends Required<ShopOptions> {
  firstDay: number;
  lastDay: number;
}

export interface ShopWorld {
  readonly options: ResolvedShopOptions;
  readonly calendar: Calendar;
  readonly catalog: Catalog;
  readonly population: Population;
}

export interface TypeTruth {
  label: string;
  customers: number;
  churned: number;
}

export interface GroundTruth {
  /** per customer type: how many there are and how many stopped buying before the span ended */
  types: Record<CustomerTypeKey, TypeTruth>;
  customers: number;
  churned: number;
}

export interface ShopStats {
  rows: number;
  /** purchase invoices (exactly --orders) */
  orders: number;
  /** credit-note invoices (InvoiceNo starting with C) */
  returns: number;
  returnLines: number;
  /** postage, carriage and manual lines (codes that are not products) */
  nonProductLines: number;
  customers: number;
  products: number;
  productsSold: number;
  categories: number;
  from: string;
  to: string;
  seed: number;
  groundTruth: GroundTruth;
}

function positiveInteger(value: number, flag: string, max: number): number {
  if (!Number.isFinite(value) || !Number.isInteger(value)) throw new FloyoError(`${flag} must be a whole number, got ${value}`, { field: flag });
  if (value <= 0) throw new FloyoError(`${flag} must be positive, got ${value}`, { field: flag });
  if (value > max) throw new FloyoError(`${flag} must be at most ${max.toLocaleString('en-US')}, got ${value.toLocaleString('en-US')}`, { field: flag });
  return value;
}

/** Checks the options and resolves the span; every problem is a FloyoError naming the flag. */
export function resolveShopOptions(o: ShopOptions): ResolvedShopOptions {
  const customers = positiveInteger(o.customers, '--customers', LIMITS.customers);
  if (o.products > LIMITS.products) {
    throw new FloyoError(`--products must be at most ${LIMITS.products.toLocaleString('en-US')}: stock codes are 5 digits (10001..99999), got ${o.products.toLocaleString('en-US')}`, { field: '--products' });
  }
  const products = positiveInteger(o.products, '--products', LIMITS.products);
  const orders = positiveInteger(o.orders, '--orders', LIMITS.orders);
  if (orders < customers) {
    throw new FloyoError(`--orders (${orders}) must be at least --customers (${customers}): every customer places at least one order`, { field: '--orders' });
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new FloyoError(`--seed must be a whole number >= 0, got ${o.seed}`, { field: '--seed' });
  const from = o.from ?? DEFAULT_FROM;
  const to = o.to ?? DEFAULT_TO;
  const firstDay = parseDay(from, '--from');
  const lastDay = parseDay(to, '--to');
  if (lastDay < firstDay) throw new FloyoError(`--to (${to}) is before --from (${from})`, { field: '--to' });
  if (lastDay - firstDay + 1 > LIMITS.spanDays) throw new FloyoError(`the span ${from}..${to} is longer than ${LIMITS.spanDays} days (20 years)`, { field: '--to' });
  return { customers, products, orders, seed: o.seed, from, to, firstDay, lastDay };
}

/** Independent random streams, so that e.g. the catalogue does not change when --orders does. */
const STREAM = { calendar: 1, catalog: 2, population: 3, orders: 4 } as const;

/** The shop without its orders: calendar, catalogue and customers. Deterministic for the options. */
export function buildWorld(o: ShopOptions): ShopWorld {
  const options = resolveShopOptions(o);
  const root = createRng(options.seed);
  const calendar = buildCalendar(options.firstDay, options.lastDay, root.fork(STREAM.calendar));
  const catalog = buildCatalog(options.products, root.fork(STREAM.catalog));
  const population = buildPopulation(options.customers, calendar, catalog, root.fork(STREAM.population));
  return { options, calendar, catalog, population };
}

export function groundTruth(world: ShopWorld): GroundTruth {
  const pop = world.population;
  const types = Object.fromEntries(CUSTOMER_TYPES.map((t) => [t.key, { label: t.label, customers: 0, churned: 0 }])) as Record<CustomerTypeKey, TypeTruth>;
  let total = 0;
  for (let i = 0; i < pop.count; i++) {
    const t = types[CUSTOMER_TYPES[pop.type[i]].key];
    t.customers++;
    if (churned(pop, i, world.calendar.days)) { t.churned++; total++; }
  }
  return { types, customers: pop.count, churned: total };
}

/**
 * Repeat orders per day: (--orders − customers) spread over the days in proportion to the day's volume
 * times the summed rate of the customers active on it, rounded cumulatively to sum exactly.
 */
export function repeatOrdersPerDay(world: ShopWorld): Float64Array {
  const { calendar: cal, population: pop } = world;
  const D = cal.days;
  const diff = new Float64Array(D + 1);
  for (let i = 0; i < pop.count; i++) {
    if (pop.rate[i] === 0) continue;
    diff[pop.arrival[i]] += pop.rate[i];
    diff[Math.min(pop.end[i], D)] -= pop.rate[i];
  }
  const weight = new Float64Array(D);
  let active = 0, total = 0;
  for (let d = 0; d < D; d++) {
    active += diff[d];
    weight[d] = cal.volume[d] * active;
    total += weight[d];
  }
  const repeats = world.options.orders - pop.count;
  const perDay = new Float64Array(D);
  if (repeats === 0) return perDay;
  if (!(total > 0)) throw new Error('no customer can place a repeat order in the span'); // types guarantee one can
  let cum = 0, given = 0;
  for (let d = 0; d < D; d++) {
    cum += weight[d];
    const upTo = d === D - 1 ? repeats : Math.round((repeats * cum) / total);
    perDay[d] = upTo - given;
    given = upTo;
  }
  return perDay;
}

/** Credit notes due on one day: their minute and customer, and the lines they return. */
class ReturnSlot {
  count = 0;
  minute = new Int32Array(64);
  customer = new Int32Array(64);
  lineStart = new Int32Array(64);
  lineCount = new Int32Array(64);
  lines = 0;
  product = new Int32Array(256);
  quantity = new Int32Array(256);
  bulk = new Uint8Array(256);

  add(minute: number, customer: number): number {
    if (this.count === this.minute.length) {
      this.minute = grow(this.minute);
      this.customer = grow(this.customer);
      this.lineStart = grow(this.lineStart);
      this.lineCount = grow(this.lineCount);
    }
    const r = this.count++;
    this.minute[r] = minute;
    this.customer[r] = customer;
    this.lineStart[r] = 0;
    this.lineCount[r] = 0;
    return r;
  }

  /** Lines of one credit note must be added one after another. */
  addLine(r: number, product: number, quantity: number, bulk: boolean): void {
    if (this.lines === this.product.length) {
      this.product = grow(this.product);
      this.quantity = grow(this.quantity);
      this.bulk = grow(this.bulk);
    }
    if (this.lineCount[r] === 0) this.lineStart[r] = this.lines;
    this.product[this.lines] = product;
    this.quantity[this.lines] = quantity;
    this.bulk[this.lines] = bulk ? 1 : 0;
    this.lines++;
    this.lineCount[r]++;
  }

  reset(): void {
    this.count = 0;
    this.lines = 0;
  }
}

function grow<T extends Int32Array | Uint8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Produces the CSV in chunks, synchronously: `next()` returns about CHUNK_CHARS characters, the header
 * first, and null at the end. Holds one day of orders at a time.
 */
export class ShopStream {
  readonly world: ShopWorld;
  private readonly rng: Rng;
  private readonly repeats: Float64Array;
  private readonly tree: WeightTree;
  private readonly endStart: Int32Array;
  private readonly endList: Int32Array;
  private readonly typeMu: Float64Array;
  private readonly typeSigma: Float64Array;
  private readonly typeReturn: Float64Array;
  private readonly typePacks: AliasTable[];
  private readonly typePackValue: Int32Array[];
  private readonly countryName: PackedTexts;
  private readonly countryPostage: PackedTexts;
  private readonly hasPostage: Uint8Array;
  private readonly countryPostageField: PackedTexts;
  private readonly codeDesc: PackedTexts;
  private readonly priceText: PackedTexts;
  private readonly bulkPriceText: PackedTexts;
  private readonly dayText: PackedTexts;
  private readonly minuteText: PackedTexts;
  private readonly nonProduct: PackedTexts;
  /** the current order's InvoiceNo+',' at 0, ',date,' at MID and ',CustomerID,Country\n' at TAIL */
  private readonly scratch = new Uint8Array(3 * SCRATCH_PART);
  private readonly chunkCapacity: number;
  private out: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly used: Int32Array;
  private readonly maxLines: number;
  private readonly ring: ReturnSlot[];

  // the day being written
  private day = -1;
  private ordCustomer = new Int32Array(1024);
  private ordMinute = new Int32Array(1024);
  private ordReturnSlot = new Int32Array(1024);
  private ordReturn = new Int32Array(1024);
  private eventRef = new Int32Array(1024);
  private eventMinute = new Int32Array(1024);
  private sorted = new Int32Array(1024);
  private readonly minuteCount = new Int32Array(MINUTES_PER_DAY + 1);
  private eventCount = 0;
  private eventPos = 0;
  private stamp = 0;
  private invoice = FIRST_INVOICE;
  private started = false;
  private finished = false;

  // counts
  rows = 0;
  orders = 0;
  returns = 0;
  returnLines = 0;
  nonProductLines = 0;
  readonly ordersByCustomer: Int32Array;
  private readonly sold: Uint8Array;

  constructor(world: ShopWorld) {
    this.world = world;
    const { calendar: cal, catalog: cat, population: pop } = world;
    this.rng = createRng(world.options.seed).fork(STREAM.orders);
    this.repeats = repeatOrdersPerDay(world);
    this.tree = new WeightTree(pop.count);
    // customers by the day they stop (only those who stop within the span)
    const D = cal.days;
    this.endStart = new Int32Array(D + 1);
    for (let i = 0; i < pop.count; i++) if (pop.end[i] < D) this.endStart[pop.end[i] + 1]++;
    for (let d = 0; d < D; d++) this.endStart[d + 1] += this.endStart[d];
    this.endList = new Int32Array(this.endStart[D]);
    const fill = this.endStart.slice(0, D);
    for (let i = 0; i < pop.count; i++) if (pop.end[i] < D) this.endList[fill[pop.end[i]]++] = i;

    this.typeMu = Float64Array.from(CUSTOMER_TYPES, (t) => Math.log(t.basketLines));
    this.typeSigma = Float64Array.from(CUSTOMER_TYPES, (t) => t.basketSigma);
    this.typeReturn = Float64Array.from(CUSTOMER_TYPES, (t) => t.returnRate);
    this.typePacks = CUSTOMER_TYPES.map((t) => aliasTable(t.packs.map(([, w]) => w)));
    this.typePackValue = CUSTOMER_TYPES.map((t) => Int32Array.from(t.packs, ([m]) => m));
    this.countryName = packTexts(COUNTRIES.map((c) => c.name));
    this.countryPostage = packTexts(COUNTRIES.map((c) => (c.postage > 0 ? formatPrice(c.postage) : '')));
    this.hasPostage = Uint8Array.from(COUNTRIES, (c) => (c.postage > 0 ? 1 : 0));
    this.countryPostageField = packTexts(COUNTRIES.map((c) => (c.postage >= 50 ? NON_PRODUCT.carriage.field : NON_PRODUCT.postage.field)));
    this.codeDesc = packTexts(cat.codeDescField);
    this.priceText = packTexts(cat.priceText);
    this.bulkPriceText = packTexts(cat.bulkPriceText);
    this.dayText = packTexts(cal.dayText);
    this.minuteText = packTexts(cal.minuteText);
    this.nonProduct = packTexts([NON_PRODUCT.dotcomPostage.field, NON_PRODUCT.manual.field]);
    // a chunk closes after the invoice that crosses CHUNK_BYTES, so leave room for the biggest invoice
    const longestRow = SCRATCH_PART * 3 + Math.max(this.codeDesc.maxLength, this.countryPostageField.maxLength, this.nonProduct.maxLength) + 2 * 24;
    this.chunkCapacity = CHUNK_BYTES + (MAX_LINES + 1) * longestRow + HEADER.length + 1;
    this.used = new Int32Array(cat.products);
    this.maxLines = Math.min(MAX_LINES, cat.products);
    this.ring = Array.from({ length: RING }, () => new ReturnSlot());
    this.ordersByCustomer = new Int32Array(pop.count);
    this.sold = new Uint8Array(cat.products);
  }

  get totalOrders(): number {
    return this.world.options.orders;
  }

  /**
   * The next piece of the CSV (about CHUNK_BYTES, ending at a row boundary), or null when everything is
   * written. Each chunk is a fresh buffer that the caller may keep.
   */
  next(): Buffer | null {
    if (this.finished) return null;
    this.out = Buffer.allocUnsafe(this.chunkCapacity);
    this.pos = 0;
    if (!this.started) {
      this.started = true;
      this.pos = putAscii(this.out, 0, HEADER + '\n');
    }
    while (this.pos < CHUNK_BYTES) {
      if (this.eventPos >= this.eventCount) {
        if (!this.nextDay()) break;
        continue;
      }
      const e = this.sorted[this.eventPos++];
      const ref = this.eventRef[e];
      if (ref >= 0) this.writeOrder(ref, this.eventMinute[e]);
      else this.writeReturn(-ref - 1, this.eventMinute[e]);
    }
    const chunk = (this.out as Buffer).subarray(0, this.pos);
    this.out = new Uint8Array(0);
    if (chunk.length === 0) {
      this.finished = true;
      return null;
    }
    return chunk;
  }

  stats(): ShopStats {
    const { options, catalog } = this.world;
    let customers = 0;
    for (let i = 0; i < this.ordersByCustomer.length; i++) if (this.ordersByCustomer[i] > 0) customers++;
    let productsSold = 0;
    for (let p = 0; p < this.sold.length; p++) productsSold += this.sold[p];
    return {
      rows: this.rows,
      orders: this.orders,
      returns: this.returns,
      returnLines: this.returnLines,
      nonProductLines: this.nonProductLines,
      customers,
      products: catalog.products,
      productsSold,
      categories: catalog.categories,
      from: options.from,
      to: options.to,
      seed: options.seed,
      groundTruth: groundTruth(this.world),
    };
  }

  /** Plans the next day: who orders, when, which orders will see returns; sorts the day's invoices by minute. */
  private nextDay(): boolean {
    const { calendar: cal, population: pop } = this.world;
    if (this.day >= 0) this.ring[this.day % RING].reset();
    this.day++;
    const d = this.day;
    if (d >= cal.days) return false;
    const rng = this.rng;
    const tree = this.tree;

    for (let i = pop.arrivalStart[d]; i < pop.arrivalStart[d + 1]; i++) if (pop.rate[i] > 0) tree.set(i, pop.rate[i]);
    for (let k = this.endStart[d]; k < this.endStart[d + 1]; k++) tree.set(this.endList[k], 0);

    const firsts = pop.arrivalStart[d + 1] - pop.arrivalStart[d];
    const repeats = this.repeats[d];
    const n = firsts + repeats;
    this.ensureOrderCapacity(n);
    let k = 0;
    for (let i = pop.arrivalStart[d]; i < pop.arrivalStart[d + 1]; i++) this.ordCustomer[k++] = i;
    for (let r = 0; r < repeats; r++) {
      // integer weights: a churned customer (weight 0) has an empty range and cannot be drawn
      const c = tree.sample(rng.next());
      if (c < 0) throw new Error(`day ${d}: repeat orders planned but no customer is active`);
      this.ordCustomer[k++] = c;
    }
    for (let o = 0; o < n; o++) {
      const minute = sampleAlias(cal.minuteOfDay, rng.next());
      this.ordMinute[o] = minute;
      this.ordReturnSlot[o] = -1;
      const c = this.ordCustomer[o];
      if (rng.next() < this.typeReturn[pop.type[c]]) this.planReturn(o, d, minute, c);
    }

    // the day's events: its orders, then the credit notes due today (stable counting sort by minute)
    const slot = this.ring[d % RING];
    const events = n + slot.count;
    this.ensureEventCapacity(events);
    const count = this.minuteCount;
    count.fill(0);
    for (let o = 0; o < n; o++) { this.eventRef[o] = o; this.eventMinute[o] = this.ordMinute[o]; count[this.ordMinute[o] + 1]++; }
    for (let r = 0; r < slot.count; r++) { this.eventRef[n + r] = -r - 1; this.eventMinute[n + r] = slot.minute[r]; count[slot.minute[r] + 1]++; }
    for (let m = 0; m < MINUTES_PER_DAY; m++) count[m + 1] += count[m];
    for (let e = 0; e < events; e++) this.sorted[count[this.eventMinute[e]]++] = e;
    this.eventCount = events;
    this.eventPos = 0;
    return true;
  }

  private planReturn(order: number, day: number, minute: number, customer: number): void {
    const { calendar: cal } = this.world;
    const rng = this.rng;
    let dueDay: number, dueMinute: number;
    if (rng.next() < QUICK_CANCEL_SHARE) {
      const at = minute + 2 + rng.int(239);
      dueDay = day + Math.floor(at / MINUTES_PER_DAY);
      dueMinute = at % MINUTES_PER_DAY;
    } else {
      dueDay = day + 1 + rng.int(RETURN_MAX_DAYS);
      dueMinute = sampleAlias(cal.minuteOfDay, rng.next());
    }
    for (let k = 0; k < 3 && dueDay < cal.days && cal.volume[dueDay] === 0; k++) dueDay++; // closed: next open day
    if (dueDay >= cal.days) return; // comes back after the span ends
    this.ordReturnSlot[order] = dueDay % RING;
    this.ordReturn[order] = this.ring[dueDay % RING].add(dueMinute, customer);
  }

  /** Fills the scratch with the invoice's InvoiceNo, date and customer parts; returns their ends. */
  private invoiceParts(credit: boolean, minute: number, customer: number): void {
    const pop = this.world.population;
    const s = this.scratch;
    let h = 0;
    if (credit) s[h++] = 67; // 'C'
    h = putInt(s, h, this.invoice++);
    s[h++] = 44;
    let m = MID;
    s[m++] = 44;
    m = putText(s, m, this.dayText, this.day);
    m = putText(s, m, this.minuteText, minute);
    s[m++] = 44;
    let t = TAIL;
    s[t++] = 44;
    t = putInt(s, t, pop.id[customer]);
    s[t++] = 44;
    t = putText(s, t, this.countryName, pop.country[customer]);
    s[t++] = 10;
    this.headEnd = h;
    this.midEnd = m;
    this.tailEnd = t;
  }

  private headEnd = 0;
  private midEnd = 0;
  private tailEnd = 0;

  private writeOrder(o: number, minute: number): void {
    const { catalog: cat, population: pop } = this.world;
    const rng = this.rng;
    const c = this.ordCustomer[o];
    const t = pop.type[c];
    const country = pop.country[c];
    this.ordersByCustomer[c]++;
    this.orders++;
    this.invoiceParts(false, minute, c);
    const s = this.scratch, headEnd = this.headEnd, midEnd = this.midEnd, tailEnd = this.tailEnd;
    const out = this.out;
    let pos = this.pos;

    let lines = Math.round(Math.exp(this.typeMu[t] + this.typeSigma[t] * rng.normal()) * pop.basketScale[c]);
    if (lines < 1) lines = 1;
    else if (lines > this.maxLines) lines = this.maxLines;
    const stamp = ++this.stamp;
    const used = this.used;
    const fav = pop.favourite[c];
    const sec = pop.second[c];
    const main = rng.next() < FAVOURITE_FIRST ? fav : sec;
    const other = main === fav ? sec : fav;
    const packs = this.typePacks[t];
    const packValue = this.typePackValue[t];
    const slotIndex = this.ordReturnSlot[o];
    const slot = slotIndex >= 0 ? this.ring[slotIndex] : null;
    const record = slotIndex >= 0 ? this.ordReturn[o] : -1;
    let lastProduct = -1, lastQuantity = 0, lastBulk = false;

    let prev = -1;
    let written = 0;
    for (let line = 0; line < lines; line++) {
      let p = -1;
      for (let attempt = 0; attempt < DRAW_ATTEMPTS; attempt++) {
        // one uniform picks the source and, rescaled, the product within it
        let u = rng.next();
        let q: number;
        if (prev >= 0 && u < SIBLING_SHARE) {
          q = sampleGroup(cat.inCollection, cat.collection[prev], u / SIBLING_SHARE);
        } else {
          if (prev >= 0) u = (u - SIBLING_SHARE) / (1 - SIBLING_SHARE);
          if (u < MAIN_SHARE) q = sampleGroup(cat.inCategory, main, u / MAIN_SHARE);
          else if (u < MAIN_SHARE + OTHER_SHARE) q = sampleGroup(cat.inCategory, other, (u - MAIN_SHARE) / OTHER_SHARE);
          else q = sampleAlias(cat.byPopularity, (u - MAIN_SHARE - OTHER_SHARE) / (1 - MAIN_SHARE - OTHER_SHARE));
        }
        if (used[q] !== stamp) { p = q; break; }
      }
      if (p < 0) continue; // the customer's corner of the catalogue is exhausted for this basket
      used[p] = stamp;
      prev = p;
      const quantity = cat.pack[p] * packValue[sampleAlias(packs, rng.next())];
      const bulk = quantity >= cat.bulkFrom[p];
      pos = putRange(out, pos, s, 0, headEnd);
      pos = putText(out, pos, this.codeDesc, p);
      pos = putInt(out, pos, quantity);
      pos = putRange(out, pos, s, MID, midEnd);
      pos = putText(out, pos, bulk ? this.bulkPriceText : this.priceText, p);
      pos = putRange(out, pos, s, TAIL, tailEnd);
      written++;
      this.sold[p] = 1;
      if (slot !== null) {
        if (rng.next() < LINE_RETURN_SHARE) slot.addLine(record, p, returnedQuantity(quantity, rng), bulk);
        lastProduct = p; lastQuantity = quantity; lastBulk = bulk;
      }
    }
    if (slot !== null && slot.lineCount[record] === 0 && lastProduct >= 0) {
      slot.addLine(record, lastProduct, returnedQuantity(lastQuantity, rng), lastBulk);
    }

    // lines that are not products: postage abroad, the odd dotcom postage or manual line at home
    const u = rng.next();
    let extra = -1;
    if (this.hasPostage[country] === 1 && u < POSTAGE_SHARE) extra = 0;
    else if (this.hasPostage[country] === 0 && u < DOTCOM_SHARE) extra = 1;
    else if (u > 1 - MANUAL_SHARE) extra = 2;
    if (extra >= 0) {
      pos = putRange(out, pos, s, 0, headEnd);
      if (extra === 0) {
        pos = putText(out, pos, this.countryPostageField, country);
        pos = putInt(out, pos, u < POSTAGE_SHARE * 0.8 ? 1 : u < POSTAGE_SHARE * 0.95 ? 2 : 3);
      } else {
        pos = putText(out, pos, this.nonProduct, extra - 1);
        pos = putInt(out, pos, 1);
      }
      pos = putRange(out, pos, s, MID, midEnd);
      if (extra === 0) pos = putText(out, pos, this.countryPostage, country);
      else pos = putAscii(out, pos, formatPrice(extra === 1 ? 10 + 390 * rng.next() : 0.5 + 30 * rng.next()));
      pos = putRange(out, pos, s, TAIL, tailEnd);
      written++;
      this.nonProductLines++;
    }
    this.rows += written;
    this.pos = pos;
  }

  private writeReturn(r: number, minute: number): void {
    const slot = this.ring[this.day % RING];
    const n = slot.lineCount[r];
    if (n === 0) return; // its order's basket had no product line to return
    this.returns++;
    this.returnLines += n;
    this.rows += n;
    this.invoiceParts(true, minute, slot.customer[r]);
    const s = this.scratch, headEnd = this.headEnd, midEnd = this.midEnd, tailEnd = this.tailEnd;
    const out = this.out;
    let pos = this.pos;
    for (let k = slot.lineStart[r], end = k + n; k < end; k++) {
      const p = slot.product[k];
      pos = putRange(out, pos, s, 0, headEnd);
      pos = putText(out, pos, this.codeDesc, p);
      pos = putInt(out, pos, -slot.quantity[k]);
      pos = putRange(out, pos, s, MID, midEnd);
      pos = putText(out, pos, slot.bulk[k] ? this.bulkPriceText : this.priceText, p);
      pos = putRange(out, pos, s, TAIL, tailEnd);
    }
    this.pos = pos;
  }

  private ensureOrderCapacity(n: number): void {
    if (n <= this.ordCustomer.length) return;
    let size = this.ordCustomer.length;
    while (size < n) size *= 2;
    this.ordCustomer = new Int32Array(size);
    this.ordMinute = new Int32Array(size);
    this.ordReturnSlot = new Int32Array(size);
    this.ordReturn = new Int32Array(size);
  }

  private ensureEventCapacity(n: number): void {
    if (n <= this.eventRef.length) return;
    let size = this.eventRef.length;
    while (size < n) size *= 2;
    this.eventRef = new Int32Array(size);
    this.eventMinute = new Int32Array(size);
    this.sorted = new Int32Array(size);
  }

}

function returnedQuantity(quantity: number, rng: Rng): number {
  return quantity <= 1 || rng.next() < 0.6 ? quantity : 1 + rng.int(quantity - 1);
}

/**
 * Writes the whole CSV through `write` (awaited, so a slow consumer holds generation back) and returns
 * the counts and the ground truth. onProgress gets orders written so far and the total.
 */
export async function generateShop(
  options: ShopOptions | ShopWorld,
  write: (chunk: Buffer) => void | Promise<void>,
  onProgress?: (orders: number, total: number) => void,
): Promise<ShopStats> {
  const world = 'population' in options ? options : buildWorld(options);
  const stream = new ShopStream(world);
  for (let chunk = stream.next(); chunk !== null; chunk = stream.next()) {
    await write(chunk);
    onProgress?.(stream.orders, stream.totalOrders);
  }
  return stream.stats();
}

/** Per-customer ground truth as CSV: who each customer is and when (if) they stopped buying. */
export function* truthCsv(world: ShopWorld, ordersByCustomer?: Int32Array): Generator<string> {
  const { calendar: cal, population: pop } = world;
  let buf = 'CustomerID,Type,Country,FirstOrderDate,ChurnDate,Orders\n';
  for (let i = 0; i < pop.count; i++) {
    const churnDate = churned(pop, i, cal.days) ? formatDay(cal.firstDay + pop.end[i]) : '';
    const orders = ordersByCustomer ? String(ordersByCustomer[i]) : '';
    buf += `${pop.id[i]},${CUSTOMER_TYPES[pop.type[i]].key},${csvField(COUNTRIES[pop.country[i]].name)},${formatDay(cal.firstDay + pop.arrival[i])},${churnDate},${orders}\n`;
    if (buf.length >= CHUNK_BYTES) { yield buf; buf = ''; }
  }
  if (buf.length > 0) yield buf;
}

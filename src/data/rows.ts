// Turns source records into canonical lines. Every record ends in exactly one place:
// accepted, quarantined (cannot be used: a reason and the field), or excluded (a business rule said so).
import { FloyoError } from '../errors.js';
import type { CanonicalField, ColumnRef, Condition, Mapping } from './mapping.js';
import { CANONICAL_FIELDS, columnReferences, mappedColumns, mappingLabel } from './mapping.js';
import { parseNumber, roundMoney, timestampFormatHint, timestampParser, wallClockZone, type NumberConvention, type TypedValue } from './values.js';

/** A record as a format reader yields it: cell texts aligned with the reader's columns. */
export interface SourceRecord {
  values: string[];
  /** values that arrived typed, by column (holes for text): they skip the mapping's text conventions */
  typed?: Array<TypedValue | undefined>;
  /** 1-based data row (header not counted) */
  row: number;
  /** 1-based physical line where the record starts (rows of Parquet: same as row) */
  line: number;
  /** the reader could not read this record (malformed CSV, invalid JSON line, ...) */
  error?: string;
  /** what exactly was wrong with an unreadable record (the parser's message); goes to the quarantine's value */
  detail?: string;
  /** the record's source text; readers without one (Parquet) get a JSON rendering of the row */
  raw?: string;
  /** columns holding a JSON object or array (NDJSON): their text is that JSON, no single value */
  nested?: number[];
}

export interface CanonicalLine {
  row: number;
  orderId: string;
  customerId: string | null;
  productId: string;
  productName: string | null;
  /** negative for returned units */
  quantity: number;
  unitPrice: number;
  /** epoch milliseconds, UTC */
  ts: number;
  country: string | null;
  currency: string | null;
  /** part of an order-level refund that falls on this line (≥ 0) */
  refunded: number;
  isReturn: boolean;
}

export interface Quarantined {
  row: number;
  line: number;
  field: string | null;
  reason: string;
  value: string | null;
  raw?: string;
}

export interface RowSink {
  accept(line: CanonicalLine): void;
  quarantine(q: Quarantined): void;
  /** a business rule excluded the line; its order still counts as arriving in this source (a voided order replaces its earlier lines) */
  /** `customerId` ('' for a guest) and `ts` (NaN when unreadable) say which order the excluded line belongs to */
  exclude(reason: string, row: number, orderId: string, customerId: string, ts: number): void;
  /** an order's refund exceeded the value of its lines kept (shipping, tax, excluded lines): by `excess` */
  refundBeyondLines?(excess: number): void;
}

export interface RowRules {
  /** records earlier than this (epoch ms; the setting ingest.notBefore) are quarantined as implausibly old */
  earliestAllowedTs: number;
  /** records later than this (epoch ms) are quarantined as in the future */
  latestAllowedTs: number;
  maxAbsQuantity: number;
  maxUnitPrice: number;
}

type Getter = (values: string[]) => string;
type TypedGetter = (values: string[], typed: Array<TypedValue | undefined>) => TypedValue | undefined;

/** Quarantined rows keep at most this much of their source text. */
export const RAW_MAX_CHARS = 4096;

function capRaw(raw: string): string {
  return raw.length <= RAW_MAX_CHARS ? raw : `${raw.slice(0, RAW_MAX_CHARS)}… [${raw.length - RAW_MAX_CHARS} more characters]`;
}

/**
 * '17850.0' → '17850'. pandas writes an integer id column that has gaps as floats (to CSV as 17850.0,
 * to Parquet as DOUBLE), so without this one customer, order or product would be two across sources.
 */
export function normaliseId(id: string): string {
  const n = id.length;
  if (n < 3 || id.charCodeAt(n - 1) !== 48) return id; // fast path: does not end in '0'
  const dot = id.indexOf('.');
  return dot > 0 && /^\d+\.0+$/.test(id) ? id.slice(0, dot) : id;
}

/** What exports write for "no value" (SQL, pandas, Python, Excel, JavaScript), lowercased. */
const NULL_PLACEHOLDERS = new Set(['null', 'nan', 'none', 'n/a', 'na', '#n/a', 'undefined']);
const NULL_PLACEHOLDER_MAX_LENGTH = 9; // 'undefined'

/**
 * NULL, NaN, None, N/A, NA, #N/A, undefined in any case: an id written so is missing, not an id (300
 * guest rows written NULL became one customer). Cheap on real ids: the length and the first character
 * (n, u or #) rule out nearly all of them before the lowercase copy and the set lookup.
 */
export function isNullPlaceholder(text: string): boolean {
  const n = text.length;
  if (n < 2 || n > NULL_PLACEHOLDER_MAX_LENGTH) return false;
  const first = text.charCodeAt(0) | 0x20; // ASCII lowercase; '#' stays '#'
  return (first === 110 || first === 117 || first === 35) && NULL_PLACEHOLDERS.has(text.toLowerCase());
}

/** A cell's text, trimmed; '' for a null placeholder when asked (one function, not one per kind: V8 inlines it). */
function cellText(values: string[], k: number, placeholdersEmpty: boolean): string {
  const t = (values[k] ?? '').trim();
  return placeholdersEmpty && isNullPlaceholder(t) ? '' : t;
}

const REPEATED_HEADER = 'repeated header line';
const LINES_NOT_TOGETHER = "the order's lines are not together: order-level fields are filled down from the order's first line only (or the id also names another order)";

/**
 * The ids of the orders a file has finished, as 64-bit hashes in one open-addressing table (at most 0.7
 * full, doubling): about 11 to 23 bytes an order, where a Set of the id strings costs several times that and keeps alive the text the
 * ids were sliced from. Two ids share a hash with a probability of about n²/2⁶⁵ (3 in a million for a
 * file of 10 million orders); such a line would be quarantined as out of place, never merged.
 */
export class OrderIdSet {
  private table = new Uint32Array(2 * 1024); // (h1, h2) pairs; (0, 0) is an empty slot
  private size = 0;
  private h1 = 0;
  private h2 = 0;

  add(id: string): void {
    if (this.find(id) >= 0) return;
    if ((this.size + 1) * 10 > (this.table.length / 2) * 7) this.grow();
    this.place(this.table, this.h1, this.h2);
    this.size++;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  /** The id's slot, or -1; leaves its hash in h1, h2. */
  private find(id: string): number {
    let a = 0xdeadbeef, b = 0x41c6ce57;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 2654435761);
      b = Math.imul(b ^ c, 1597334677);
    }
    a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
    b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
    this.h1 = a >>> 0;
    this.h2 = (b >>> 0) || 1; // never (0, 0)
    const t = this.table;
    const mask = t.length / 2 - 1;
    for (let slot = this.h1 & mask; ; slot = (slot + 1) & mask) {
      if (t[2 * slot] === 0 && t[2 * slot + 1] === 0) return -1;
      if (t[2 * slot] === this.h1 && t[2 * slot + 1] === this.h2) return slot;
    }
  }

  private place(t: Uint32Array, h1: number, h2: number): void {
    const mask = t.length / 2 - 1;
    let slot = h1 & mask;
    while (t[2 * slot] !== 0 || t[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    t[2 * slot] = h1;
    t[2 * slot + 1] = h2;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let k = 0; k < old.length; k += 2) if (old[k] !== 0 || old[k + 1] !== 0) this.place(this.table, old[k], old[k + 1]);
  }
}

/** The ids: a null placeholder in them reads as an empty value (a guest order for the customer). */
const ID_FIELDS: ReadonlySet<CanonicalField> = new Set(['orderId', 'customerId', 'productId']);

/** Delimiters a header is checked against when the mapping's does not split it: the character and its name. */
export const OTHER_DELIMITERS: Array<[string, string]> = [['\t', 'tab'], [';', 'semicolon'], ['|', 'pipe'], [',', 'comma']];

/** When the required columns appear only once the header is split on another delimiter: which one. */
function delimiterHint(columns: string[], required: string[]): string {
  for (const [d, name] of OTHER_DELIMITERS) {
    if (!columns.some((c) => c.includes(d))) continue;
    const split = columns.flatMap((c) => c.split(d).map((x) => x.trim().replace(/^"(.*)"$/, '$1')));
    if (required.every((c) => findColumn(split, c) >= 0)) return `; the header looks ${name}-separated: set csv.delimiter: ${JSON.stringify(d)} in the mapping`;
  }
  return '';
}

function findColumn(columns: string[], name: string): number {
  const exact = columns.indexOf(name);
  if (exact >= 0) return exact;
  const wanted = name.trim().toLowerCase();
  return columns.findIndex((c) => c.trim().toLowerCase() === wanted);
}

/** The positions findColumn chooses among: the exact matches, else the case-insensitive ones. */
function columnsNamed(columns: string[], name: string): number[] {
  const exact = columns.flatMap((c, i) => (c === name ? [i] : []));
  if (exact.length) return exact;
  const wanted = name.trim().toLowerCase();
  return columns.flatMap((c, i) => (c.trim().toLowerCase() === wanted ? [i] : []));
}

/**
 * A value built from several columns ({ columns: [Datum, Bon] }): the parts joined with "|", and a "|"
 * or "\" inside a part escaped with "\", so two different sets of parts never make the same value. A
 * blank part makes the whole value blank (a guest's customer id, a missing order id), not "2024-01-05|".
 * For an id, each part is read as an id is (a null placeholder is blank, 17.0 is 17).
 */
function joinedGetter(at: number[], isId: boolean, lowercase: boolean): Getter {
  return (values) => {
    let joined = '';
    for (let k = 0; k < at.length; k++) {
      let part = cellText(values, at[k], isId);
      if (part === '') return '';
      if (isId) part = normaliseId(part);
      if (part.includes('|') || part.includes('\\')) part = part.replace(/[|\\]/g, '\\$&');
      joined = k === 0 ? part : `${joined}|${part}`;
    }
    return lowercase ? joined.toLowerCase() : joined;
  };
}

export interface RowMapper {
  push(record: SourceRecord): void;
  /** flushes a buffered order (mappings with an order-level refund) */
  end(): void;
}

/**
 * Every column the mapping reads is among `columns` (a file's header; for NDJSON, the keys its objects
 * had), else a FloyoError naming the file, each missing column with the mapping keys that read it, and the
 * columns there are: a column read as blank would make every customer a guest, or a rule never fire.
 */
export function requireColumns(mapping: Mapping, columns: string[], file: string): void {
  const references = columnReferences(mapping);
  const referenced = mappedColumns(mapping);
  const missing = referenced.filter((c) => findColumn(columns, c) < 0);
  if (missing.length) {
    // each missing column with the mapping keys that read it: "Land" (columns.country)
    const named = missing.map((c) => `${JSON.stringify(c)} (${references.filter((r) => r.column === c).map((r) => r.key).join(', ')})`);
    throw new FloyoError(
      `${file}: missing required column${missing.length > 1 ? 's' : ''} ${named.join(', ')}` +
        ` (the file has ${columns.length ? columns.map((c) => JSON.stringify(c)).join(', ') : 'no columns'})` +
        `${mappingLabel(mapping) ? `; read with the mapping${mappingLabel(mapping)}` : ''}` +
        (delimiterHint(columns, referenced) || '; for another export\'s columns choose a preset (--preset NAME; floyo presets lists them) or write a mapping (--mapping FILE)'),
      { file },
    );
  }
}

/**
 * Checks that the columns hold what the mapping needs (else a FloyoError naming the file and the missing
 * columns), then returns the mapper for that file's records.
 */
export function createRowMapper(mapping: Mapping, columns: string[], file: string, rules: RowRules, sink: RowSink): RowMapper {
  requireColumns(mapping, columns, file);
  const referenced = mappedColumns(mapping);
  // A column the mapping reads that the header names twice: which one holds the data is a guess, and
  // the first is not always right (an export that appends a corrected column under the same name).
  // Duplicates the mapping does not read stay harmless: exports often repeat unused or blank names
  // (several "" columns from trailing delimiters), and refusing those would fail good files.
  for (const name of referenced) {
    const at = columnsNamed(columns, name);
    if (at.length > 1) {
      throw new FloyoError(
        `${file}: the header has ${at.length} columns named ${JSON.stringify(columns[at[0]])} (columns ${at.map((i) => i + 1).join(', ')}), ` +
          `and the mapping${mappingLabel(mapping)} reads ${JSON.stringify(name)}: rename the one that should not be read`,
        { file },
      );
    }
  }
  const index = (name: string) => findColumn(columns, name);
  const specOf = (ref: ColumnRef) => (typeof ref === 'string' ? { column: ref } : ref);
  // a value read as empty goes to the fallback column: for an id, a null placeholder is read as empty
  const getter = (ref: ColumnRef | undefined, placeholdersEmpty = false): Getter | undefined => {
    if (ref === undefined) return undefined;
    const spec = specOf(ref);
    if (spec.value !== undefined) {
      const v = spec.value;
      return () => v;
    }
    const lowercase = Boolean(spec.lowercase);
    if (spec.columns !== undefined) return joinedGetter(spec.columns.map(index), placeholdersEmpty, lowercase);
    // every column is in the file: createRowMapper refused the file otherwise
    const i = index(spec.column!);
    const f = spec.fallback !== undefined ? index(spec.fallback) : -1;
    return (values) => {
      let v = cellText(values, i, placeholdersEmpty);
      if (v === '' && f >= 0) v = cellText(values, f, placeholdersEmpty);
      return lowercase ? v.toLowerCase() : v;
    };
  };
  // The typed value behind a column reference, following the same fallback as its text.
  const typedGetter = (ref: ColumnRef | undefined): TypedGetter | undefined => {
    if (ref === undefined) return undefined;
    const spec = specOf(ref);
    if (spec.value !== undefined || spec.columns !== undefined) return undefined; // a joined value is text
    const i = index(spec.column!);
    const f = spec.fallback !== undefined ? index(spec.fallback) : -1;
    // without a fallback, a typed value with no text (a Parquet NaN) is still the column's value
    return (values, typed) => ((values[i] ?? '').trim() !== '' || f < 0 ? typed[i] : typed[f]);
  };
  const get = {} as Record<CanonicalField, Getter | undefined>;
  for (const field of Object.keys(mapping.columns) as CanonicalField[]) get[field] = getter(mapping.columns[field], ID_FIELDS.has(field));
  const getOrder = get.orderId!;
  // a missing id is quarantined with its text as written: "NULL" says more than ""
  const idAsWritten = new Map([...ID_FIELDS].map((field) => [field, getter(mapping.columns[field])]));
  // the field a column is read as (directly or as a fallback), to name it when its value is unusable
  const fieldOfColumn = columns.map((_, i) => CANONICAL_FIELDS.find((field) => {
    const ref = mapping.columns[field];
    if (ref === undefined) return false;
    const spec = specOf(ref);
    return [spec.column, spec.fallback, ...(spec.columns ?? [])].some((name) => name !== undefined && index(name) === i);
  }) ?? null);
  // the price is a unit price, or the line's total that one is derived from
  const priceField: CanonicalField = mapping.columns.lineTotal !== undefined ? 'lineTotal' : 'unitPrice';
  const fromTotal = priceField === 'lineTotal';
  const typedQuantity = typedGetter(mapping.columns.quantity);
  const typedPrice = typedGetter(mapping.columns[priceField]);
  const typedTs = typedGetter(mapping.columns.timestamp);
  const typedRefund = typedGetter(mapping.columns.refundedAmount);
  // a typed timestamp without a zone is a wall-clock time in the mapping's zone, as a text one is
  const naiveZone = wallClockZone(mapping.timestamp.timezone);
  const autoTimestamps = mapping.timestamp.format === 'auto' || mapping.timestamp.format === 'iso';
  const rawOf = (rec: SourceRecord): string => {
    if (rec.raw !== undefined) return capRaw(rec.raw);
    const row: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const t = rec.typed?.[i];
      // JSON has no NaN or Infinity: they are shown as text ("NaN"), not as null, which would read as missing
      row[c] = typeof t === 'number' ? (Number.isFinite(t) ? t : String(t)) : rec.values[i] === '' || rec.values[i] === undefined ? null : rec.values[i];
    });
    return capRaw(JSON.stringify(row));
  };
  // A header line again mid-file (exports concatenated): every field is its column's name. Checked only
  // for rows that are quarantined or excluded anyway; trim() also drops the second export's BOM.
  const isRepeatedHeader = (v: string[]): boolean => v.length === columns.length && v.every((text, k) => text.trim() === columns[k]);
  const quarantine = (rec: SourceRecord, field: string | null, reason: string, value: string | null) => {
    if (isRepeatedHeader(rec.values)) sink.quarantine({ row: rec.row, line: rec.line, field: null, reason: REPEATED_HEADER, value: null, raw: rawOf(rec) });
    else sink.quarantine({ row: rec.row, line: rec.line, field, reason, value, raw: rawOf(rec) });
  };

  const numbers: NumberConvention = mapping.numbers;
  const parseTs = timestampParser(mapping.timestamp);
  const creditNote = mapping.returns.orderIdPattern ? new RegExp(mapping.returns.orderIdPattern) : null;
  const orderLevel = mapping.orderLevelColumns.map(index);
  const rulesCompiled = mapping.exclude.map((rule) => ({ reason: rule.reason, tests: rule.when.map((c) => compileCondition(c, index, mapping.numbers)) }));
  const returnTests = mapping.returns.when?.map((c) => compileCondition(c, index, mapping.numbers)) ?? [];
  const expectedFields = columns.length;

  let currentOrder: string | null = null;
  const orderFirst: string[] = [];
  const orderFirstTyped: Array<TypedValue | undefined> = [];
  // lines of the current order, held back only when an order-level refund must be spread over them
  const spreadRefunds = get.refundedAmount !== undefined;
  let held: CanonicalLine[] = [];
  // the order's refund, from its first line that has a usable one, kept or not (Shopify writes it on the
  // first line only, which may be a gift card a rule excludes)
  let heldRefund = 0;
  let refundRead = false;
  // Order-level values are filled down, and a refund spread, within a run of adjacent lines: a line of
  // an order whose run has ended (rows sorted by date, files concatenated) would get blanks or another
  // order's values, and its order a second refund, so it is quarantined. Remembering each order's values
  // instead would need every line of the file held until its end, for the refund.
  const finishedOrders = orderLevel.length || spreadRefunds ? new OrderIdSet() : null;
  let outOfPlace = false;
  // returns.when: every condition holds
  const isMarkedReturn: Test = (values, typed, texts, parsed) => {
    if (returnTests.length === 0) return false;
    for (let k = 0; k < returnTests.length; k++) if (!returnTests[k](values, typed, texts, parsed)) return false;
    return true;
  };

  const flushOrder = () => {
    if (held.length > 0 && heldRefund > 0) {
      // Shopify's Refunded Amount also holds shipping, tax and refunded lines a rule excluded (a gift
      // card): what exceeds the value of the lines kept is not goods spend, so no line is refunded more
      // than its amount (nor a return line, whose amount is negative, anything)
      const gross = held.reduce((s, l) => s + Math.max(0, l.quantity * l.unitPrice), 0);
      // an excess below money's rounding is the float noise of the lines' sum, not a refund beyond them
      const excess = roundMoney(heldRefund - gross);
      if (excess > 0) sink.refundBeyondLines?.(excess);
      for (const l of held) {
        const value = Math.max(0, l.quantity * l.unitPrice);
        l.refunded = heldRefund >= gross ? value : (heldRefund * value) / gross;
      }
    }
    for (const l of held) sink.accept(l);
    held = [];
    heldRefund = 0;
    refundRead = false;
  };

  // Per-row state lives in these variables, so the hot path allocates nothing but the accepted line.
  const parsed: Record<string, number> = { quantity: NaN, unitPrice: NaN, lineTotal: NaN, refundedAmount: NaN };
  const texts = {} as Record<CanonicalField, string>;
  for (const field of CANONICAL_FIELDS) texts[field] = '';
  const getProduct = get.productId!, getQuantity = get.quantity!, getPrice = get[priceField]!, getTs = get.timestamp!;
  const getRefund = get.refundedAmount, getCustomer = get.customerId, getName = get.productName;
  const getCountry = get.country, getCurrency = get.currency;
  // The lines of an order usually share its timestamp: parse each text once.
  let lastTsText = '';
  let lastTs = NaN;
  // 'auto' cannot read 1/4/2011 10:00 without guessing day or month: the reason names the patterns that would;
  // a text that does not fit the mapping's own format names that format
  const notInFormat = `not a timestamp in the format ${JSON.stringify(mapping.timestamp.format)} (timestamp.format)`;
  const notATimestamp = (text: string): string => {
    if (!autoTimestamps) return notInFormat;
    const hint = timestampFormatHint(text);
    return hint ? `not a timestamp (set timestamp.format: ${hint})` : 'not a timestamp';
  };
  const tooOld = `before ${dayOrInstant(rules.earliestAllowedTs)} (ingest.notBefore)`;
  // unix seconds read as milliseconds land in January 1970 (1700000000 → 1970-01-20)
  const unixMs = mapping.timestamp.format === 'unix-ms';
  const tooOldReason = (ts: number, typed: boolean): string =>
    unixMs && !typed && ts * 1000 >= rules.earliestAllowedTs && ts * 1000 <= rules.latestAllowedTs ? `${tooOld}; looks like seconds: use format unix` : tooOld;

  return {
    push(rec) {
      if (rec.error !== undefined) {
        quarantine(rec, null, rec.error, rec.detail ?? null);
        return;
      }
      const v = rec.values;
      let t = rec.typed;
      if (v.length !== expectedFields) {
        quarantine(rec, null, `wrong number of fields (expected ${expectedFields}, got ${v.length})`, null);
        return;
      }
      if (rec.nested !== undefined) {
        // an object where an id or a number belongs ("customer": {"id": 5}) would be stored as its JSON text;
        // columns only a business rule reads keep that text to match against
        const column = rec.nested.find((i) => fieldOfColumn[i] !== null);
        if (column !== undefined) {
          quarantine(rec, fieldOfColumn[column], 'not a single value', v[column]);
          return;
        }
      }
      const orderId = normaliseId(getOrder(v));
      const newOrder = orderId !== currentOrder;
      if (newOrder && finishedOrders !== null) {
        if (currentOrder !== null && currentOrder !== '') finishedOrders.add(currentOrder);
        outOfPlace = orderId !== '' && finishedOrders.has(orderId);
      }
      if (orderLevel.length) {
        if (newOrder) {
          for (const i of orderLevel) {
            orderFirst[i] = v[i];
            orderFirstTyped[i] = t?.[i];
          }
        } else {
          for (const i of orderLevel) {
            if ((v[i] ?? '').trim() !== '') continue;
            v[i] = orderFirst[i];
            // the first line's typed value, or none: a NaN here (pandas' blank) must not stay behind the filled text
            if (orderFirstTyped[i] !== undefined || t?.[i] !== undefined) (t ??= rec.typed = new Array(v.length))[i] = orderFirstTyped[i];
          }
        }
      }
      if (spreadRefunds && newOrder) flushOrder();
      currentOrder = orderId;
      if (outOfPlace) {
        quarantine(rec, 'orderId', LINES_NOT_TOGETHER, orderId);
        return;
      }

      // Parse everything first: business rules decide what the row is; validity decides whether we can keep it.
      const productId = normaliseId(getProduct(v));
      const qText = getQuantity(v);
      const pText = getPrice(v);
      const tText = getTs(v);
      // Typed values are used as they are: the text conventions (decimal comma, date pattern) are for text.
      const qTyped = t === undefined ? undefined : typedQuantity?.(v, t);
      const pTyped = t === undefined ? undefined : typedPrice?.(v, t);
      const tsTyped = t === undefined ? undefined : typedTs?.(v, t);
      const rTyped = t === undefined ? undefined : typedRefund?.(v, t);
      let quantity = typeof qTyped === 'number' ? qTyped : parseNumber(qText, numbers);
      const price = typeof pTyped === 'number' ? pTyped : parseNumber(pText, numbers);
      // from a line total: its size over the quantity's (the sign says whether the line is a return); none
      // without a quantity, so that no rule compares an Infinity (the line is quarantined for its quantity)
      const unitPrice = fromTotal ? (quantity === 0 ? NaN : Math.abs(price / quantity)) : price;
      const lineTotal = fromTotal ? price : quantity * price;
      let ts: number;
      if (typeof tsTyped === 'object') {
        ts = tsTyped.zoned ? tsTyped.epochMs : tsTyped.epochMs - naiveZone(tsTyped.epochMs);
      } else {
        if (tText !== lastTsText) {
          lastTsText = tText;
          lastTs = parseTs(tText);
        }
        ts = lastTs;
      }
      const rText = getRefund === undefined ? '' : getRefund(v);
      const customerId = getCustomer === undefined ? '' : normaliseId(getCustomer(v));
      const productName = getName === undefined ? '' : getName(v);
      const country = getCountry === undefined ? '' : getCountry(v);
      const currency = getCurrency === undefined ? '' : getCurrency(v);
      const refund = rText === '' && rTyped === undefined ? 0 : typeof rTyped === 'number' ? rTyped : parseNumber(rText, numbers);
      if (spreadRefunds && !refundRead && Number.isFinite(refund) && refund >= 0) {
        heldRefund = refund;
        refundRead = true;
      }
      parsed.quantity = quantity;
      parsed.unitPrice = unitPrice;
      parsed.lineTotal = lineTotal;
      parsed.refundedAmount = refund;
      texts.orderId = orderId;
      texts.customerId = customerId;
      texts.productId = productId;
      texts.productName = productName;
      texts.quantity = qText;
      texts.unitPrice = fromTotal ? '' : pText;
      texts.lineTotal = fromTotal ? pText : '';
      texts.timestamp = tText;
      texts.country = country;
      texts.currency = currency;
      texts.refundedAmount = rText;

      // A row missing a required value cannot be judged by a business rule: it is quarantined.
      const missing: CanonicalField | null =
        orderId === '' ? 'orderId' : productId === '' ? 'productId' : qText === '' && qTyped === undefined ? 'quantity' :
          pText === '' && pTyped === undefined ? priceField : tText === '' ? 'timestamp' : null;
      if (missing !== null) {
        quarantine(rec, missing, 'missing value', idAsWritten.get(missing)?.(v) ?? '');
        return;
      }

      for (let r = 0; r < rulesCompiled.length; r++) {
        const tests = rulesCompiled[r].tests;
        let all = true;
        for (let k = 0; k < tests.length && all; k++) all = tests[k](v, t, texts, parsed);
        if (all) {
          // a repeated header would pass for a non-product code: it is no row of the shop's
          if (isRepeatedHeader(v)) quarantine(rec, null, REPEATED_HEADER, null);
          else sink.exclude(rulesCompiled[r].reason, rec.row, orderId, customerId, ts);
          return;
        }
      }

      let field: CanonicalField | null = null;
      let reason = '';
      let value = '';
      if (typeof qTyped === 'number' && !Number.isFinite(qTyped)) { field = 'quantity'; reason = 'not a finite number'; value = String(qTyped); }
      else if (Number.isNaN(quantity)) { field = 'quantity'; reason = 'not a number'; value = qText; }
      else if (quantity === 0) { field = 'quantity'; reason = 'zero quantity'; value = qText; }
      else if (Math.abs(quantity) > rules.maxAbsQuantity) { field = 'quantity'; reason = 'out of range'; value = qText; }
      else if (typeof pTyped === 'number' && !Number.isFinite(pTyped)) { field = priceField; reason = 'not a finite number'; value = String(pTyped); }
      else if (Number.isNaN(price)) { field = priceField; reason = 'not a number'; value = pText; }
      else if (unitPrice < 0) { field = 'unitPrice'; reason = 'negative price'; value = pText; }
      else if (unitPrice > rules.maxUnitPrice) { field = priceField; reason = fromTotal ? TOTAL_OUT_OF_RANGE : 'out of range'; value = pText; }
      else if (Number.isNaN(ts)) { field = 'timestamp'; reason = notATimestamp(tText); value = tText; }
      else if (ts > rules.latestAllowedTs) { field = 'timestamp'; reason = 'in the future'; value = tText; }
      else if (ts < rules.earliestAllowedTs) { field = 'timestamp'; reason = tooOldReason(ts, typeof tsTyped === 'object'); value = tText; }
      else if (!Number.isFinite(refund) || refund < 0) { field = 'refundedAmount'; reason = 'not a non-negative number'; value = rText || String(refund); }
      if (field !== null) {
        quarantine(rec, field, reason, value);
        return;
      }

      if (quantity > 0 && ((fromTotal && price < 0) || (creditNote !== null && creditNote.test(orderId)) || isMarkedReturn(v, t, texts, parsed))) quantity = -quantity;
      const line: CanonicalLine = {
        row: rec.row,
        orderId,
        customerId: customerId === '' ? null : customerId,
        productId,
        productName: productName === '' ? null : productName,
        quantity,
        unitPrice,
        ts,
        country: country === '' ? null : country,
        currency: currency === '' ? null : currency,
        refunded: 0,
        isReturn: quantity < 0,
      };
      if (spreadRefunds) {
        held.push(line);
      } else {
        sink.accept(line);
      }
    },
    end() {
      flushOrder();
    },
  };
}

// one reason for every such line, not one per value: quarantined rows are counted by reason
const TOTAL_OUT_OF_RANGE = 'out of range: its unit price (the total over the quantity) is over ingest.maxUnitPrice';

/** 1990-01-01 for a midnight UTC, else the full ISO 8601 instant. */
function dayOrInstant(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const iso = new Date(ms).toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}

/** A condition on a row: its source values (and typed values), its canonical texts and its parsed numbers. */
type Test = (values: string[], typed: Array<TypedValue | undefined> | undefined, texts: Record<CanonicalField, string>, parsed: Record<string, number>) => boolean;
const NUMERIC_FIELDS = new Set<string>(['quantity', 'unitPrice', 'lineTotal', 'refundedAmount']);

function compileCondition(c: Condition, index: (name: string) => number, numbers: NumberConvention): Test {
  const col = c.column !== undefined ? index(c.column) : -1;
  const field = c.field;
  const textOf = (values: string[], texts: Record<CanonicalField, string>) =>
    field !== undefined ? texts[field] : (values[col] ?? '').trim();
  const numeric = field !== undefined && NUMERIC_FIELDS.has(field);
  // a column's text is read with the mapping's decimal and thousands separators, as the fields are
  // (150,00 under a decimal comma is 150); a typed number (Parquet, JSON) is used as it is
  const numberOf = (values: string[], typed: Array<TypedValue | undefined> | undefined, texts: Record<CanonicalField, string>, parsed: Record<string, number>): number => {
    if (numeric) return parsed[field!];
    const value = field === undefined ? typed?.[col] : undefined;
    return typeof value === 'number' ? value : parseNumber(textOf(values, texts), numbers);
  };
  const flags = c.ignoreCase ? 'i' : '';
  const matches = c.matches !== undefined ? new RegExp(c.matches, flags) : null;
  const notMatches = c.notMatches !== undefined ? new RegExp(c.notMatches, flags) : null;
  // texts compare case-insensitively, as `in` does: a rule for "storniert" also matches "Storniert"
  const oneOf = c.in ? new Set(c.in.map((s) => s.toLowerCase())) : null;
  const equalsText = typeof c.equals === 'string' ? c.equals.toLowerCase() : null;
  const equalsNumber = typeof c.equals === 'number' ? c.equals : null;
  return (values, typed, texts, parsed) => {
    const t = textOf(values, texts);
    if (matches && !matches.test(t)) return false;
    if (notMatches && notMatches.test(t)) return false;
    if (oneOf && !oneOf.has(t.toLowerCase())) return false;
    if (c.empty !== undefined && (t === '') !== c.empty) return false;
    if (equalsText !== null && t.toLowerCase() !== equalsText) return false;
    if (equalsNumber !== null && numberOf(values, typed, texts, parsed) !== equalsNumber) return false;
    if (c.lessThan !== undefined && !(numberOf(values, typed, texts, parsed) < c.lessThan)) return false;
    if (c.greaterThan !== undefined && !(numberOf(values, typed, texts, parsed) > c.greaterThan)) return false;
    return true;
  };
}

// Turns source records into canonical lines. Every record ends in exactly one place:
// accepted, quarantined (cannot be used: a reason and the field), or excluded (a business rule said so).
import { FloyoError } from '../errors.js';
import type { CanonicalField, ColumnRef, Condition, Mapping } from './mapping.js';
import { CANONICAL_FIELDS, referencedColumns } from './mapping.js';
import { parseNumber, timestampParser, type NumberConvention } from './values.js';

/** A record as a format reader yields it: cell texts aligned with the reader's columns. */
export interface SourceRecord {
  values: string[];
  /** 1-based data row (header not counted) */
  row: number;
  /** 1-based physical line where the record starts (rows of Parquet: same as row) */
  line: number;
  /** the reader could not read this record (malformed CSV, invalid JSON line, ...) */
  error?: string;
  raw?: string;
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
  exclude(reason: string, row: number): void;
}

export interface RowRules {
  /** records later than this (epoch ms) are quarantined as in the future */
  latestAllowedTs: number;
  maxAbsQuantity: number;
  maxUnitPrice: number;
}

type Getter = (values: string[]) => string;

function findColumn(columns: string[], name: string): number {
  const exact = columns.indexOf(name);
  if (exact >= 0) return exact;
  const wanted = name.trim().toLowerCase();
  return columns.findIndex((c) => c.trim().toLowerCase() === wanted);
}

export interface RowMapper {
  push(record: SourceRecord): void;
  /** flushes a buffered order (mappings with an order-level refund) */
  end(): void;
}

/**
 * Checks that the columns hold what the mapping needs (else a FloyoError naming the file and the missing
 * columns), then returns the mapper for that file's records.
 */
export function createRowMapper(mapping: Mapping, columns: string[], file: string, rules: RowRules, sink: RowSink): RowMapper {
  const { required } = referencedColumns(mapping);
  const missing = required.filter((c) => findColumn(columns, c) < 0);
  if (missing.length) {
    throw new FloyoError(
      `${file}: missing required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => JSON.stringify(c)).join(', ')}` +
        ` (the file has ${columns.length ? columns.map((c) => JSON.stringify(c)).join(', ') : 'no columns'})` +
        `${mapping.name ? `; mapping: ${mapping.name}` : ''}`,
      { file },
    );
  }
  const index = (name: string) => findColumn(columns, name);
  const getter = (ref: ColumnRef | undefined): Getter | undefined => {
    if (ref === undefined) return undefined;
    const spec = typeof ref === 'string' ? { column: ref } : ref;
    if (spec.value !== undefined) {
      const v = spec.value;
      return () => v;
    }
    const i = index(spec.column!);
    const f = spec.fallback !== undefined ? index(spec.fallback) : -1;
    const lower = Boolean(spec.lowercase);
    if (i < 0 && f < 0) return () => '';
    return (values) => {
      let v = i >= 0 ? (values[i] ?? '').trim() : '';
      if (v === '' && f >= 0) v = (values[f] ?? '').trim();
      return lower ? v.toLowerCase() : v;
    };
  };
  const get = {} as Record<CanonicalField, Getter | undefined>;
  for (const field of Object.keys(mapping.columns) as CanonicalField[]) get[field] = getter(mapping.columns[field]);
  const getOrder = get.orderId!;

  const numbers: NumberConvention = mapping.numbers;
  const parseTs = timestampParser(mapping.timestamp);
  const creditNote = mapping.returns.orderIdPattern ? new RegExp(mapping.returns.orderIdPattern) : null;
  const orderLevel = mapping.orderLevelColumns.map(index).filter((i) => i >= 0);
  const rulesCompiled = mapping.exclude.map((rule) => ({ reason: rule.reason, tests: rule.when.map((c) => compileCondition(c, index)) }));
  const expectedFields = columns.length;

  let currentOrder: string | null = null;
  const orderFirst: string[] = [];
  // lines of the current order, held back only when an order-level refund must be spread over them
  const spreadRefunds = get.refundedAmount !== undefined;
  let held: CanonicalLine[] = [];
  let heldRefund = 0;

  const flushOrder = () => {
    if (held.length === 0) return;
    if (heldRefund > 0) {
      const gross = held.reduce((s, l) => s + Math.max(0, l.quantity * l.unitPrice), 0);
      for (const l of held) l.refunded = gross > 0 ? (heldRefund * Math.max(0, l.quantity * l.unitPrice)) / gross : heldRefund / held.length;
    }
    for (const l of held) sink.accept(l);
    held = [];
    heldRefund = 0;
  };

  // Per-row state lives in these variables, so the hot path allocates nothing but the accepted line.
  const parsed: Record<string, number> = { quantity: NaN, unitPrice: NaN, refundedAmount: NaN };
  const texts = {} as Record<CanonicalField, string>;
  for (const field of CANONICAL_FIELDS) texts[field] = '';
  const getProduct = get.productId!, getQuantity = get.quantity!, getPrice = get.unitPrice!, getTs = get.timestamp!;
  const getRefund = get.refundedAmount, getCustomer = get.customerId, getName = get.productName;
  const getCountry = get.country, getCurrency = get.currency;
  // The lines of an order usually share its timestamp: parse each text once.
  let lastTsText = '';
  let lastTs = NaN;

  return {
    push(rec) {
      if (rec.error !== undefined) {
        sink.quarantine({ row: rec.row, line: rec.line, field: null, reason: rec.error, value: null, raw: rec.raw });
        return;
      }
      const v = rec.values;
      if (v.length !== expectedFields) {
        sink.quarantine({
          row: rec.row, line: rec.line, field: null,
          reason: `wrong number of fields (expected ${expectedFields}, got ${v.length})`, value: null, raw: rec.raw ?? v.join(','),
        });
        return;
      }
      const orderId = getOrder(v);
      if (orderLevel.length) {
        if (orderId !== currentOrder) {
          for (const i of orderLevel) orderFirst[i] = v[i];
        } else {
          for (const i of orderLevel) if ((v[i] ?? '').trim() === '') v[i] = orderFirst[i];
        }
      }
      if (spreadRefunds && orderId !== currentOrder) flushOrder();
      currentOrder = orderId;

      // Parse everything first: business rules decide what the row is; validity decides whether we can keep it.
      const productId = getProduct(v);
      const qText = getQuantity(v);
      const pText = getPrice(v);
      const tText = getTs(v);
      let quantity = parseNumber(qText, numbers);
      const unitPrice = parseNumber(pText, numbers);
      if (tText !== lastTsText) {
        lastTsText = tText;
        lastTs = parseTs(tText);
      }
      const ts = lastTs;
      const rText = getRefund === undefined ? '' : getRefund(v);
      const customerId = getCustomer === undefined ? '' : getCustomer(v);
      const productName = getName === undefined ? '' : getName(v);
      const country = getCountry === undefined ? '' : getCountry(v);
      const currency = getCurrency === undefined ? '' : getCurrency(v);
      const refund = rText === '' ? 0 : parseNumber(rText, numbers);
      parsed.quantity = quantity;
      parsed.unitPrice = unitPrice;
      parsed.refundedAmount = refund;
      texts.orderId = orderId;
      texts.customerId = customerId;
      texts.productId = productId;
      texts.productName = productName;
      texts.quantity = qText;
      texts.unitPrice = pText;
      texts.timestamp = tText;
      texts.country = country;
      texts.currency = currency;
      texts.refundedAmount = rText;

      // A row missing a required value cannot be judged by a business rule: it is quarantined.
      const missing: CanonicalField | null =
        orderId === '' ? 'orderId' : productId === '' ? 'productId' : qText === '' ? 'quantity' : pText === '' ? 'unitPrice' : tText === '' ? 'timestamp' : null;
      if (missing !== null) {
        sink.quarantine({ row: rec.row, line: rec.line, field: missing, reason: 'missing value', value: '', raw: rec.raw });
        return;
      }

      for (let r = 0; r < rulesCompiled.length; r++) {
        const tests = rulesCompiled[r].tests;
        let all = true;
        for (let k = 0; k < tests.length && all; k++) all = tests[k](v, texts, parsed);
        if (all) {
          sink.exclude(rulesCompiled[r].reason, rec.row);
          return;
        }
      }

      let field: CanonicalField | null = null;
      let reason = '';
      let value = '';
      if (Number.isNaN(quantity)) { field = 'quantity'; reason = 'not a number'; value = qText; }
      else if (quantity === 0) { field = 'quantity'; reason = 'zero quantity'; value = qText; }
      else if (Math.abs(quantity) > rules.maxAbsQuantity) { field = 'quantity'; reason = 'out of range'; value = qText; }
      else if (Number.isNaN(unitPrice)) { field = 'unitPrice'; reason = 'not a number'; value = pText; }
      else if (unitPrice < 0) { field = 'unitPrice'; reason = 'negative price'; value = pText; }
      else if (unitPrice > rules.maxUnitPrice) { field = 'unitPrice'; reason = 'out of range'; value = pText; }
      else if (Number.isNaN(ts)) { field = 'timestamp'; reason = 'not a timestamp'; value = tText; }
      else if (ts > rules.latestAllowedTs) { field = 'timestamp'; reason = 'in the future'; value = tText; }
      else if (Number.isNaN(refund) || refund < 0) { field = 'refundedAmount'; reason = 'not a non-negative number'; value = rText; }
      if (field !== null) {
        sink.quarantine({ row: rec.row, line: rec.line, field, reason, value, raw: rec.raw });
        return;
      }

      if (creditNote !== null && quantity > 0 && creditNote.test(orderId)) quantity = -quantity;
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
        if (held.length === 0) heldRefund = refund;
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

/** A condition on a row: its source values, its canonical texts and its parsed numbers. */
type Test = (values: string[], texts: Record<CanonicalField, string>, parsed: Record<string, number>) => boolean;
const NUMERIC_FIELDS = new Set<string>(['quantity', 'unitPrice', 'refundedAmount']);

function compileCondition(c: Condition, index: (name: string) => number): Test {
  const col = c.column !== undefined ? index(c.column) : -1;
  const field = c.field;
  const textOf = (values: string[], texts: Record<CanonicalField, string>) =>
    field !== undefined ? texts[field] : col >= 0 ? (values[col] ?? '').trim() : '';
  const numeric = field !== undefined && NUMERIC_FIELDS.has(field);
  const numberOf = (values: string[], texts: Record<CanonicalField, string>, parsed: Record<string, number>) =>
    numeric ? parsed[field!] : parseNumber(textOf(values, texts));
  const matches = c.matches !== undefined ? new RegExp(c.matches) : null;
  const notMatches = c.notMatches !== undefined ? new RegExp(c.notMatches) : null;
  const oneOf = c.in ? new Set(c.in.map((s) => s.toLowerCase())) : null;
  return (values, texts, parsed) => {
    const t = textOf(values, texts);
    if (matches && !matches.test(t)) return false;
    if (notMatches && notMatches.test(t)) return false;
    if (oneOf && !oneOf.has(t.toLowerCase())) return false;
    if (c.empty !== undefined && (t === '') !== c.empty) return false;
    if (c.equals !== undefined) {
      if (typeof c.equals === 'number' ? numberOf(values, texts, parsed) !== c.equals : t !== c.equals) return false;
    }
    if (c.lessThan !== undefined && !(numberOf(values, texts, parsed) < c.lessThan)) return false;
    if (c.greaterThan !== undefined && !(numberOf(values, texts, parsed) > c.greaterThan)) return false;
    return true;
  };
}

// The embedded prediction store: one row per customer in the DuckDB warehouse, written by `floyo train`
// (and later the stream scorer), read by the CLI queries and the server.
//
// Writes are idempotent upserts by customer id, in bulk: predictions are checked and staged to a TSV file
// in the home's tmp folder, DuckDB reads it with read_csv, and one transaction replaces the customers'
// rows. Reasons and recommendations are JSON text columns (VARCHAR: DuckDB's JSON type re-parses every
// value on insert, 10-30% of the load, and its json_* functions read VARCHAR all the same). Measured at
// 100k customers with ~1.2 KB of reasons and recommendations each: a DuckDB appender into a staging
// table plus the copy took about as long as the staged TSV; the TSV keeps memory flat for millions.
//
// Segment movement has two causes, kept apart so that neither is blamed for the other. A version change
// (a customer's row replaced by another model version's) records the move from the stored segment under the
// old version to the new one; each row remembers that old segment and version (previous_segment/
// previous_version), and the move is frozen there: re-scoring later with the same version does not touch it.
// A re-score with the same version (new data, another --now) that changes the segment records a move with
// from_version = to_version. Every write thus records what it changed and nothing else, so writing the same
// predictions twice leaves the same state (the second write changes nothing).
//
// Audiences are paged by keyset on customer_id (byte order of UTF-8), never OFFSET: customers written
// between pages cannot shift existing ones, and a page does not count the rows before it. The cursor is
// opaque (base64url JSON) and carries the filter it was made for and the model versions whose predictions
// it paged (each with its prediction_versions seq): a re-score with the same version keeps it, but once
// another version has rewritten predictions the next page would come from other segments and churn
// scores, so the cursor is refused instead of mixing the two.
//
// One Warehouse has one DuckDB connection, so the store runs its operations one at a time: a read issued
// while an upsert is under way must not run inside the upsert's open transaction.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { isoSeconds } from '../dates.js';
import { DEFAULT_LOCK_WAIT, sqlDouble, sqlString, Warehouse } from '../data/warehouse.js';
import { predictionsWritten, settleBeforeStop } from '../interrupt.js';

export interface ChurnReason {
  feature: string;
  /** plain words, e.g. "no purchase for 120 days" */
  text: string;
  contribution: number;
}

export interface Recommendation {
  productId: string;
  productName: string | null;
  score: number;
  reason?: string;
}

export interface Prediction {
  customerId: string;
  segment: string;
  segmentId: number;
  /** R×F quintile grid cell, e.g. "R5F4" */
  rfCell: string;
  churnProbability: number;
  /** by the churn model's cost-based threshold */
  churnRisk: 'high' | 'low';
  churnReasons: ChurnReason[];
  recommendations: Recommendation[];
  modelVersion: string;
  /** ISO timestamp of the "now" used for scoring (the data's last timestamp, not the wall clock) */
  scoredAt: string;
}

export interface AudienceQuery {
  segment?: string;
  minChurn?: number;
  maxChurn?: number;
  risk?: 'high' | 'low';
  /** R×F cells such as "R5F5" (any of them) */
  rfCells?: string[];
  /** page size, 1..MAX_PAGE (default DEFAULT_PAGE) */
  limit?: number;
  /** nextCursor of the previous page of the same query */
  cursor?: string;
}

export interface AudiencePage {
  customers: Prediction[];
  /** null on the last page */
  nextCursor: string | null;
  /** customers matching the filter (all pages) */
  total: number;
}

export interface SegmentSummary {
  segment: string;
  customers: number;
  avgChurn: number;
  highRisk: number;
}

export interface SegmentMoves {
  from: string;
  to: string;
  customers: number;
  fromVersion: string;
  toVersion: string;
}

/** One cell of a movement matrix: customers now in `to` who were in `from` under `fromVersion` (from = to: stayed). */
export interface SegmentTransition {
  from: string;
  to: string;
  customers: number;
  fromVersion: string;
  toVersion: string;
}

export interface CustomerMove {
  from: string;
  to: string;
  fromVersion: string;
  toVersion: string;
  movedAt: string;
}

export interface UpsertResult {
  written: number;
  /** of those, customers who had no stored prediction */
  added: number;
  /** of those, customers whose segment differs from their stored prediction before the write */
  moved: number;
  /** stored predictions the write left as they were, by the version and time that scored them, largest first */
  untouched: StoredGroup[];
  timingsMs: { stage: number; load: number };
}

/** What the stored predictions have not seen (see lag()). */
export interface PredictionLag {
  /** the latest time any customer was scored as of */
  scoredUpTo: string;
  /** the latest sale, when it is later than scoredUpTo (else null) */
  salesUpTo: string | null;
  /** lines ingested since the last write, dated by scoredUpTo */
  linesSince: number;
  /** earlier orders those sources replaced */
  ordersReplacedSince: number;
}

export interface StoredGroup {
  modelVersion: string;
  /** ISO timestamp, whole seconds */
  scoredAt: string;
  customers: number;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 100_000;

// 2: the cursor carries the stored versions it was made under (1 did not, and is refused)
const CURSOR_FORMAT = 2;

// No PRIMARY KEY on customer_id: the write path keeps ids unique (one writer holds the home; a batch is
// deduplicated; a customer's old row is removed in the transaction that adds the new one). With DuckDB's
// ART index a 100k re-score took 3-4× longer (index deletes, then a slow checkpoint) and the file was 2.5×
// larger; a lookup by id without it scans one column (~5 ms at 100k customers).
const PREDICTION_COLUMNS = `(
  customer_id VARCHAR NOT NULL,
  segment VARCHAR NOT NULL,
  segment_id INTEGER NOT NULL,
  rf_cell VARCHAR NOT NULL,
  churn_probability DOUBLE NOT NULL,
  churn_risk VARCHAR NOT NULL,
  churn_reasons VARCHAR NOT NULL,     -- JSON text: [{feature, text, contribution}]
  recommendations VARCHAR NOT NULL,   -- JSON text: [{productId, productName, score, reason?}]
  model_version VARCHAR NOT NULL,
  scored_at TIMESTAMP NOT NULL,       -- UTC
  previous_segment VARCHAR,           -- segment under previous_version; NULL for a customer first scored by model_version
  previous_version VARCHAR
)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS predictions ${PREDICTION_COLUMNS};
CREATE TABLE IF NOT EXISTS segment_moves (
  customer_id VARCHAR NOT NULL,
  from_segment VARCHAR NOT NULL,
  to_segment VARCHAR NOT NULL,
  from_version VARCHAR NOT NULL,
  to_version VARCHAR NOT NULL,        -- = from_version: a re-score with the same version moved the customer
  moved_at TIMESTAMP NOT NULL,        -- scored_at of the prediction that moved the customer
  write_seq BIGINT                    -- the write that recorded it, in order (NULL: recorded before Floyo kept it)
);
-- homes made before write_seq existed
ALTER TABLE segment_moves ADD COLUMN IF NOT EXISTS write_seq BIGINT;
-- The order in which model versions reached the store: a version gets the next seq when it is first
-- written, and again whenever it re-scores customers of another version (a rollback being re-scored, or
-- the newest taking over an older one's customers), so an audience cursor sees every such change. New
-- customers scored by an older version (a stream scorer still on it) change nothing.
CREATE TABLE IF NOT EXISTS prediction_versions (
  model_version VARCHAR PRIMARY KEY,
  seq BIGINT NOT NULL
);
-- A version being made current (by train, promote, rollback) whose predictions are still to be written:
-- noted before the registry's CURRENT changes, so a run that stops before the write leaves it here, and
-- the queries say so. Any write (only the current version writes) removes every note.
CREATE TABLE IF NOT EXISTS pending_versions (
  model_version VARCHAR PRIMARY KEY,
  since TIMESTAMP NOT NULL
);
`;

const STAGED_COLUMNS =
  "{'seq':'BIGINT','customer_id':'VARCHAR','segment':'VARCHAR','segment_id':'INTEGER','rf_cell':'VARCHAR','churn_probability':'DOUBLE'," +
  "'churn_risk':'VARCHAR','churn_reasons':'VARCHAR','recommendations':'VARCHAR','model_version':'VARCHAR','scored_at_ms':'BIGINT'}";

const SELECT_PREDICTION =
  'customer_id, segment, segment_id, rf_cell, churn_probability, churn_risk, churn_reasons, recommendations, model_version, ' +
  'epoch_ms(scored_at) AS scored_at_ms';

interface PredictionRow {
  customer_id: string;
  segment: string;
  segment_id: number;
  rf_cell: string;
  churn_probability: number;
  churn_risk: 'high' | 'low';
  churn_reasons: string;
  recommendations: string;
  model_version: string;
  scored_at_ms: number;
}

function fromRow(r: PredictionRow): Prediction {
  return {
    customerId: r.customer_id,
    segment: r.segment,
    segmentId: r.segment_id,
    rfCell: r.rf_cell,
    churnProbability: r.churn_probability,
    churnRisk: r.churn_risk,
    churnReasons: JSON.parse(r.churn_reasons) as ChurnReason[],
    recommendations: JSON.parse(r.recommendations) as Recommendation[],
    modelVersion: r.model_version,
    scoredAt: isoSeconds(Number(r.scored_at_ms)),
  };
}

// The staged file quotes with \x01, a character JSON.stringify never leaves raw: the JSON columns are
// written as they are (doubling every '"' of them made staging 2× and read_csv 3-10× slower).
const STAGED_QUOTE = '\x01';

/** A TSV cell for read_csv: quoted (and its quote characters doubled) only when it holds a tab, newline or \x01. */
function cell(value: string): string {
  const needsQuotes = value.includes('\t') || value.includes('\n') || value.includes('\r') || value.includes(STAGED_QUOTE);
  return needsQuotes ? `${STAGED_QUOTE}${value.replaceAll(STAGED_QUOTE, STAGED_QUOTE + STAGED_QUOTE)}${STAGED_QUOTE}` : value;
}

function invalid(p: Partial<Prediction>, field: string, problem: string): FloyoError {
  const who = typeof p?.customerId === 'string' ? `customer ${JSON.stringify(p.customerId)}` : 'a prediction';
  return new FloyoError(`cannot store ${who}: ${field} ${problem}`, { field });
}

/** An R×F quintile cell: R1..R5 (R5 = most recent) × F1..F5 (F5 = most frequent). */
export const RF_CELL = /^R[1-5]F[1-5]$/;

/** Checks one prediction and returns its staged TSV line; errors name the customer and the field. */
function stagedLine(seq: number, p: Prediction): string {
  if (typeof p !== 'object' || p === null) throw new FloyoError(`cannot store a prediction: expected an object, got ${p === null ? 'null' : typeof p}`);
  const text = (field: keyof Prediction) => {
    const v = p[field];
    if (typeof v !== 'string' || v.length === 0) throw invalid(p, field, `must be a non-empty string, got ${JSON.stringify(v)}`);
    if (v.includes('\0')) throw invalid(p, field, 'must not contain a NUL character');
    return v;
  };
  const customerId = text('customerId');
  const segment = text('segment');
  const modelVersion = text('modelVersion');
  const rfCell = text('rfCell');
  if (!RF_CELL.test(rfCell)) throw invalid(p, 'rfCell', `must be an R×F quintile cell like "R5F4", got ${JSON.stringify(rfCell)}`);
  if (!Number.isInteger(p.segmentId)) throw invalid(p, 'segmentId', `must be an integer, got ${JSON.stringify(p.segmentId)}`);
  const prob = p.churnProbability;
  if (typeof prob !== 'number' || !(prob >= 0 && prob <= 1)) throw invalid(p, 'churnProbability', `must be a number in [0, 1], got ${JSON.stringify(prob)}`);
  if (p.churnRisk !== 'high' && p.churnRisk !== 'low') throw invalid(p, 'churnRisk', `must be "high" or "low", got ${JSON.stringify(p.churnRisk)}`);
  const scoredAt = typeof p.scoredAt === 'string' ? Date.parse(p.scoredAt) : NaN;
  if (!Number.isFinite(scoredAt)) throw invalid(p, 'scoredAt', `must be an ISO timestamp, got ${JSON.stringify(p.scoredAt)}`);
  if (!Array.isArray(p.churnReasons)) throw invalid(p, 'churnReasons', 'must be an array');
  for (const r of p.churnReasons) {
    if (typeof r?.feature !== 'string' || typeof r.text !== 'string' || !Number.isFinite(r.contribution)) {
      throw invalid(p, 'churnReasons', `must hold {feature, text, contribution} with a finite contribution, got ${JSON.stringify(r)}`);
    }
  }
  if (!Array.isArray(p.recommendations)) throw invalid(p, 'recommendations', 'must be an array');
  for (const r of p.recommendations) {
    if (typeof r?.productId !== 'string' || (r.productName !== null && typeof r.productName !== 'string') || !Number.isFinite(r.score) ||
      (r.reason !== undefined && typeof r.reason !== 'string')) {
      throw invalid(p, 'recommendations', `must hold {productId, productName (string or null), score (finite), reason?}, got ${JSON.stringify(r)}`);
    }
  }
  return `${seq}\t${cell(customerId)}\t${cell(segment)}\t${p.segmentId}\t${rfCell}\t${prob}\t${p.churnRisk}\t` +
    `${JSON.stringify(p.churnReasons)}\t${JSON.stringify(p.recommendations)}\t${cell(modelVersion)}\t${scoredAt}\n`;
}

/** a < b in UTF-8 byte order, the order DuckDB sorts VARCHARs in (JavaScript's < differs above U+D7FF). */
function utf8Less(a: string, b: string): boolean {
  return /[\uD800-\uFFFF]/.test(a) || /[\uD800-\uFFFF]/.test(b) ? Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 : a < b;
}

/**
 * Checks and writes the predictions to a staged TSV file. `lines`: how many it holds; `ordered`: each
 * customer id comes after the one before in DuckDB's order, so none is there twice.
 */
async function stage(predictions: Iterable<Prediction> | AsyncIterable<Prediction>, path: string): Promise<{ lines: number; ordered: boolean }> {
  const fd = openSync(path, 'w');
  let count = 0, ordered = true, last: string | null = null;
  try {
    // Small chunks keep the staged text in V8's young generation: holding ~16k lines before each write
    // made garbage collection cost more than everything else.
    let chunk = '';
    for await (const p of predictions) {
      chunk += stagedLine(count++, p);
      if (ordered && last !== null && !utf8Less(last, p.customerId)) ordered = false;
      last = p.customerId;
      if (chunk.length >= 1 << 18) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    if (chunk.length) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return { lines: count, ordered };
}

interface Filter {
  segment: string | null;
  minChurn: number;
  maxChurn: number;
  risk: 'high' | 'low' | null;
  /** R×F cells, sorted (null: any) */
  rfCells: string[] | null;
}

function describeFilter(f: Filter): string {
  const parts = [
    f.segment === null ? 'any segment' : `segment ${JSON.stringify(f.segment)}`,
    `churn ${f.minChurn}..${f.maxChurn}`,
    f.risk === null ? 'any risk' : `${f.risk} risk`,
    ...(f.rfCells === null ? [] : [`R×F ${f.rfCells.join(',')}`]),
  ];
  return parts.join(', ');
}

function sameFilter(a: Filter, b: Filter): boolean {
  return a.segment === b.segment && a.minChurn === b.minChurn && a.maxChurn === b.maxChurn && a.risk === b.risk &&
    (a.rfCells ?? []).join(',') === (b.rfCells ?? []).join(',') && (a.rfCells === null) === (b.rfCells === null);
}

/** Validates an audience query: the canonical filter (defaults filled in) and the page size. */
export function audienceFilter(query: AudienceQuery): { filter: Filter; limit: number } {
  const churn = (name: string, v: number | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new FloyoError(`${name} must be a churn probability between 0 and 1, got ${JSON.stringify(v)}`, { field: name });
    return v;
  };
  const minChurn = churn('minChurn', query.minChurn, 0);
  const maxChurn = churn('maxChurn', query.maxChurn, 1);
  if (minChurn > maxChurn) throw new FloyoError(`minChurn (${minChurn}) is above maxChurn (${maxChurn}): no customer can match`, { field: 'minChurn' });
  if (query.risk !== undefined && query.risk !== 'high' && query.risk !== 'low') {
    throw new FloyoError(`risk must be "high" or "low", got ${JSON.stringify(query.risk)}`, { field: 'risk' });
  }
  if (query.segment !== undefined && (typeof query.segment !== 'string' || query.segment.length === 0)) {
    throw new FloyoError(`segment must be a non-empty name, got ${JSON.stringify(query.segment)}`, { field: 'segment' });
  }
  let rfCells: string[] | null = null;
  if (query.rfCells !== undefined) {
    const bad = Array.isArray(query.rfCells) ? query.rfCells.find((c) => typeof c !== 'string' || !RF_CELL.test(c)) : query.rfCells;
    if (!Array.isArray(query.rfCells) || query.rfCells.length === 0 || bad !== undefined) {
      throw new FloyoError(`rfCells must be R×F cells from R1F1 to R5F5 (R5: most recent, F5: most frequent), got ${JSON.stringify(bad ?? query.rfCells)}`, { field: 'rfCells' });
    }
    rfCells = [...new Set(query.rfCells)].sort();
  }
  const limit = query.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_PAGE) {
    throw new FloyoError(`limit must be a whole number from 1 to ${MAX_PAGE.toLocaleString('en-US')}, got ${JSON.stringify(query.limit)}`, { field: 'limit' });
  }
  return { filter: { segment: query.segment ?? null, minChurn, maxChurn, risk: query.risk ?? null, rfCells }, limit };
}

/** A model version with stored predictions, and when it last reached the store (prediction_versions.seq; null: before that table). */
interface StoredVersion {
  version: string;
  seq: number | null;
}

interface DecodedCursor {
  after: string;
  madeUnder: StoredVersion[];
}

function encodeCursor(filter: Filter, madeUnder: StoredVersion[], after: string): string {
  const w = madeUnder.map((v) => [v.version, v.seq]);
  return Buffer.from(JSON.stringify({ v: CURSOR_FORMAT, f: filter, w, a: after }), 'utf8').toString('base64url');
}

function isStoredVersion(pair: unknown): pair is [string, number | null] {
  return Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && (pair[1] === null || Number.isInteger(pair[1]));
}

function decodeCursor(cursor: string, filter: Filter): DecodedCursor {
  const foreign = () => new FloyoError('the cursor is not one Floyo made: pass the nextCursor of the previous page unchanged', { field: 'cursor' });
  let decoded: { v?: unknown; f?: Filter; w?: unknown; a?: unknown };
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof decoded;
  } catch {
    throw foreign();
  }
  if (decoded?.v === 1) {
    throw new FloyoError(
      'the cursor was made by an earlier Floyo, which did not note the model version of the predictions it paged: start again without --cursor',
      { field: 'cursor' },
    );
  }
  const f = decoded?.f;
  if (decoded?.v !== CURSOR_FORMAT || typeof decoded.a !== 'string' || typeof f !== 'object' || f === null ||
    !('segment' in f && 'minChurn' in f && 'maxChurn' in f && 'risk' in f) ||
    !(f.rfCells === null || (Array.isArray(f.rfCells) && f.rfCells.every((c) => typeof c === 'string'))) ||
    !Array.isArray(decoded.w) || !decoded.w.every(isStoredVersion)) {
    throw foreign();
  }
  if (!sameFilter(f, filter)) {
    throw new FloyoError(
      `the cursor belongs to another audience (${describeFilter(f)}), not this one (${describeFilter(filter)}): ` +
        'use the same filters as the page it came from, or start again without a cursor',
      { field: 'cursor' },
    );
  }
  return { after: decoded.a, madeUnder: decoded.w.map(([version, seq]) => ({ version, seq })) };
}

/**
 * Refuses a cursor made under other stored versions than `now`'s: a train, promote or rollback wrote
 * another version's predictions since (or the same version again after another, which gave it a new seq).
 */
function refuseReplaced(madeUnder: StoredVersion[], now: StoredVersion[]): void {
  const key = (v: StoredVersion) => JSON.stringify([v.version, v.seq]);
  const then = new Set(madeUnder.map(key));
  // a version stored before prediction_versions existed (seq null) gets its first seq from a re-score with
  // itself: that is no replacement
  const unsequenced = new Set(madeUnder.filter((v) => v.seq === null).map((v) => v.version));
  const same = (v: StoredVersion) => then.has(key(v)) || unsequenced.has(v.version);
  if (now.length === madeUnder.length && now.every(same)) return;
  const names = (vs: StoredVersion[]) => vs.map((v) => v.version).join(', ');
  // versions only gone (the newest re-scored an older one's customers): name what is stored now
  const fresh = now.filter((v) => !same(v));
  const by = fresh.length ? fresh : now;
  // a version the cursor already saw, which has replaced customers since (a rollback to it, or taking over more of an older one's)
  const again = fresh.some((v) => madeUnder.some((m) => m.version === v.version)) ? ' (written again)' : '';
  throw new FloyoError(
    `the predictions were replaced by model version${by.length === 1 ? '' : 's'} ${names(by)}${again} since this cursor was made ` +
      `(under ${names(madeUnder)}): start again without --cursor`,
    { field: 'cursor' },
  );
}

function whereClause(f: Filter): string {
  const conditions = [`churn_probability >= ${sqlDouble(f.minChurn)}`, `churn_probability <= ${sqlDouble(f.maxChurn)}`];
  if (f.segment !== null) conditions.push(`segment = ${sqlString(f.segment)}`);
  if (f.risk !== null) conditions.push(`churn_risk = ${sqlString(f.risk)}`);
  if (f.rfCells !== null) conditions.push(`rf_cell IN (${f.rfCells.map(sqlString).join(', ')})`);
  return conditions.join(' AND ');
}

/** A stored prediction's customer still has a line in the warehouse (the store shares its database). */
const IN_WAREHOUSE = 'customer_id IN (SELECT DISTINCT customer_id FROM transactions WHERE customer_id IS NOT NULL)';

export class PredictionStore {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly warehouse: Warehouse) {}

  /** Runs fn after every operation issued before it has settled. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Creates the store's tables when missing. */
  init(): Promise<void> {
    return this.exclusive(() => this.warehouse.run(SCHEMA));
  }

  /**
   * prediction_inputs (made with the warehouse) := the sources there now: a source ingested since, or
   * again, is data these predictions have not seen, also when its lines are dated before their scoring
   * time (a late file, an order corrected), which comparing times alone cannot tell.
   */
  private async recordInputs(): Promise<void> {
    await this.warehouse.run('DELETE FROM prediction_inputs');
    await this.warehouse.run('INSERT INTO prediction_inputs SELECT fingerprint, ingested_at FROM sources');
  }

  /**
   * Writes predictions, replacing each customer's row. When a customer appears more than once, the last
   * one wins. `written`: distinct customers written. `moved`: of those, customers whose segment differs
   * from their stored prediction before this write (each gets a row in segment_moves: a version change, or a
   * re-score with the same version). `untouched`: the stored rows it did not replace.
   * `timingsMs`: staging the file (checking and serialising), and loading it in DuckDB.
   */
  upsert(predictions: Iterable<Prediction> | AsyncIterable<Prediction>): Promise<UpsertResult> {
    return this.exclusive(() => this.write(predictions));
  }

  private async write(predictions: Iterable<Prediction> | AsyncIterable<Prediction>): Promise<UpsertResult> {
    const started = performance.now();
    const tmp = join(this.warehouse.home, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const staged = join(tmp, `predictions-${process.pid}-${randomBytes(6).toString('hex')}.tsv`);
    try {
      const { lines, ordered } = await stage(predictions, staged);
      const stagedAt = performance.now();
      if (lines === 0) {
        const untouched = await this.groups('SELECT model_version, scored_at FROM predictions');
        return { written: 0, added: 0, moved: 0, untouched, timingsMs: { stage: Math.round(stagedAt - started), load: 0 } };
      }
      const counts = await this.load(staged, lines, ordered);
      return { ...counts, timingsMs: { stage: Math.round(stagedAt - started), load: Math.round(performance.now() - stagedAt) } };
    } finally {
      rmSync(staged, { force: true });
    }
  }

  private async load(staged: string, lines: number, ordered: boolean): Promise<Omit<UpsertResult, 'timingsMs'>> {
    const db = this.warehouse;
    const csv = `read_csv(${sqlString(staged)}, delim='\t', header=false, quote='${STAGED_QUOTE}', escape='${STAGED_QUOTE}', ` +
      `auto_detect=false, strict_mode=true, columns=${STAGED_COLUMNS})`;
    await db.run('BEGIN TRANSACTION');
    try {
      // Only the keys and the segment history go through a temporary table; the wide columns (reasons,
      // recommendations) go straight from the staged file into predictions at the end.
      await db.run(
        `CREATE OR REPLACE TEMP TABLE staged_predictions AS
         WITH s AS (
           SELECT seq, customer_id, segment, model_version, scored_at_ms FROM ${csv}
           QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY seq DESC) = 1
         )
         SELECT s.seq, s.customer_id, s.segment, s.model_version, epoch_ms(s.scored_at_ms) AS scored_at,
                p.model_version AS stored_version, p.segment AS stored_segment,
                CASE WHEN p.customer_id IS NULL THEN NULL WHEN p.model_version = s.model_version THEN p.previous_segment ELSE p.segment END AS previous_segment,
                CASE WHEN p.customer_id IS NULL THEN NULL WHEN p.model_version = s.model_version THEN p.previous_version ELSE p.model_version END AS previous_version
         FROM s LEFT JOIN predictions p ON p.customer_id = s.customer_id`,
      );
      // A version change replaces the move an earlier change between the same two versions recorded (a
      // rollback, then a promote again), so a customer has at most one move per pair of versions.
      await db.run(
        `DELETE FROM segment_moves m USING staged_predictions i
         WHERE m.customer_id = i.customer_id AND m.from_version = i.stored_version AND m.to_version = i.model_version
           AND i.stored_version <> i.model_version`,
      );
      await db.run(
        `INSERT INTO segment_moves
         SELECT customer_id, stored_segment, segment, stored_version, model_version, scored_at,
                (SELECT coalesce(max(write_seq), 0) + 1 FROM segment_moves)
         FROM staged_predictions WHERE stored_version IS NOT NULL AND stored_segment <> segment`,
      );
      await db.run(
        `INSERT INTO prediction_versions
         SELECT model_version, (SELECT coalesce(max(seq), 0) FROM prediction_versions) + row_number() OVER (ORDER BY min(seq))
         FROM staged_predictions
         WHERE stored_version <> model_version OR model_version NOT IN (SELECT model_version FROM prediction_versions)
         GROUP BY model_version
         ON CONFLICT (model_version) DO UPDATE SET seq = excluded.seq`,
      );
      const [{ written, moved, replaced, stored }] = await db.query<{ written: number; moved: number; replaced: number; stored: number }>(
        `SELECT count(*)::BIGINT AS written,
                count(*) FILTER (WHERE stored_version IS NOT NULL AND stored_segment <> segment)::BIGINT AS moved,
                count(stored_version)::BIGINT AS replaced,
                (SELECT count(*) FROM predictions)::BIGINT AS stored
         FROM staged_predictions`,
      );
      // The wide columns come straight from the staged file, with no join: DuckDB estimates a read_csv at a
      // few dozen rows and builds a join's hash table on it, which doubled the load time. The segment
      // history is filled in afterwards from the narrow table.
      const incoming =
        `SELECT customer_id, segment, segment_id, rf_cell, churn_probability, churn_risk, churn_reasons, recommendations, model_version, ` +
        `epoch_ms(scored_at_ms), NULL, NULL FROM ${csv}${lines > written ? ' WHERE seq IN (SELECT seq FROM staged_predictions)' : ''}`;
      const survivors = stored - replaced;
      const untouched = survivors === 0 ? [] : await this.groups(
        'SELECT model_version, scored_at FROM predictions p WHERE NOT EXISTS (SELECT 1 FROM staged_predictions k WHERE k.customer_id = p.customer_id)',
      );
      const rewritten = written >= survivors;
      if (ordered && survivors === 0) {
        // Every stored customer re-scored, the file in customer_id order (a train or a score): the table is
        // the file, in its order. No sort and no hash table, whose memory failed DuckDB's 512 MB at about
        // 500k customers; and the history goes in with the rows, not by an UPDATE that would write the whole
        // new table into the WAL once more. Row k of the file is row k of staged_predictions by seq.
        await db.run(`CREATE TABLE predictions_next ${PREDICTION_COLUMNS}`);
        await db.run(
          `INSERT INTO predictions_next
           SELECT c.customer_id, c.segment, c.segment_id, c.rf_cell, c.churn_probability, c.churn_risk, c.churn_reasons, c.recommendations,
                  c.model_version, epoch_ms(c.scored_at_ms), k.previous_segment, k.previous_version
           FROM ${csv} c POSITIONAL JOIN (SELECT previous_segment, previous_version FROM staged_predictions ORDER BY seq) k`,
        );
        await db.run('DROP TABLE predictions');
        await db.run('ALTER TABLE predictions_next RENAME TO predictions');
      } else if (rewritten) {
        // Most of the table re-scored, in another order: write it anew, in customer_id order. Deleting most rows
        // costs more than rewriting them, and ordered rows let a page of an audience read a few row groups
        // instead of decompressing the reasons and recommendations of the whole table.
        await db.run(`CREATE TABLE predictions_next ${PREDICTION_COLUMNS}`);
        await db.run(
          `INSERT INTO predictions_next
           SELECT * FROM (
             SELECT * FROM predictions p WHERE NOT EXISTS (SELECT 1 FROM staged_predictions k WHERE k.customer_id = p.customer_id)
             UNION ALL ${incoming}
           ) ORDER BY customer_id`,
        );
        await this.fillHistory('predictions_next', replaced);
        await db.run('DROP TABLE predictions');
        await db.run('ALTER TABLE predictions_next RENAME TO predictions');
      } else {
        // A few customers (new ones, or a stream scorer's): delete their old rows, append the new.
        if (replaced > 0) await db.run('DELETE FROM predictions WHERE customer_id IN (SELECT customer_id FROM staged_predictions)');
        await db.run(`INSERT INTO predictions ${incoming}`);
        await this.fillHistory('predictions', replaced);
      }
      // Only the current version writes here: whatever was noted before is either this write or a version
      // that never became current (its run stopped before CURRENT) or was superseded. None is owed any more.
      await db.run('DELETE FROM pending_versions');
      await this.recordInputs();
      await db.run('DROP TABLE staged_predictions');
      // a stop by a signal waits for it: it lands whether or not the process waits, and the lock goes only after
      await settleBeforeStop(async () => {
        await db.run('COMMIT');
        predictionsWritten();
      });
      // A rewrite's old table is freed only at a checkpoint, which a small WAL never triggers: without one,
      // every train left a dead copy of the table in the file (a million customers: +0.7 GB each time).
      // The write is committed by now; a checkpoint that fails only leaves that space to the next one.
      if (rewritten) await db.run('CHECKPOINT').catch(() => undefined);
      return { written, added: written - replaced, moved, untouched };
    } catch (err) {
      await db.run('ROLLBACK').catch(() => undefined);
      throw new FloyoError(`writing predictions to the warehouse ${db.path} failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  /** The rows of `rows` (model_version, scored_at) counted by version and time, largest first. */
  private groups(rows: string): Promise<StoredGroup[]> {
    return this.warehouse.query<StoredGroup>(
      `SELECT model_version AS "modelVersion", strftime(scored_at, '%Y-%m-%dT%H:%M:%SZ') AS "scoredAt", count(*)::BIGINT AS customers
       FROM (${rows}) GROUP BY ALL ORDER BY customers DESC, "scoredAt" DESC, "modelVersion"`,
    );
  }

  private async fillHistory(table: string, replaced: number): Promise<void> {
    if (replaced === 0) return; // only customers stored before have a previous segment
    await this.warehouse.run(
      `UPDATE ${table} t SET previous_segment = k.previous_segment, previous_version = k.previous_version
       FROM staged_predictions k WHERE k.customer_id = t.customer_id AND k.previous_version IS NOT NULL`,
    );
  }

  get(customerId: string): Promise<Prediction | null> {
    return this.exclusive(async () => {
      const rows = await this.warehouse.query<PredictionRow>(`SELECT ${SELECT_PREDICTION} FROM predictions WHERE customer_id = ${sqlString(customerId)}`);
      return rows.length ? fromRow(rows[0]) : null;
    });
  }

  /** Customers stored (0: nothing scored yet). */
  count(): Promise<number> {
    return this.exclusive(async () => {
      const [row] = await this.warehouse.query<{ n: number }>('SELECT count(*)::BIGINT AS n FROM predictions');
      return row.n;
    });
  }

  /** One page of the customers matching the query, in customer_id order (UTF-8 byte order). */
  async audience(query: AudienceQuery): Promise<AudiencePage> {
    const { filter, limit } = audienceFilter(query);
    const from = query.cursor === undefined ? null : decodeCursor(query.cursor, filter);
    return this.exclusive(async () => {
      const versions = await this.storedVersions();
      if (from !== null) refuseReplaced(from.madeUnder, versions);
      const after = from?.after ?? null;
      const where = whereClause(filter);
      // First the page's ids, then its rows by id range: a top-N over the wide columns decompressed the
      // reasons and recommendations of every remaining row (2 s for a 5000-row page at 1M customers, 0.2 s
      // this way).
      const ids = await this.warehouse.query<{ customer_id: string }>(
        `SELECT customer_id FROM predictions WHERE ${where}${after === null ? '' : ` AND customer_id > ${sqlString(after)}`} ` +
          `ORDER BY customer_id LIMIT ${limit + 1}`,
      );
      const more = ids.length > limit;
      const page = more ? ids.slice(0, limit) : ids;
      const rows = page.length === 0 ? [] : await this.warehouse.query<PredictionRow>(
        `SELECT ${SELECT_PREDICTION} FROM predictions WHERE ${where} ` +
          `AND customer_id >= ${sqlString(page[0].customer_id)} AND customer_id <= ${sqlString(page[page.length - 1].customer_id)} ORDER BY customer_id`,
      );
      const [{ total }] = await this.warehouse.query<{ total: number }>(`SELECT count(*)::BIGINT AS total FROM predictions WHERE ${where}`);
      const customers = rows.map(fromRow);
      return { customers, nextCursor: more ? encodeCursor(filter, versions, page[page.length - 1].customer_id) : null, total };
    });
  }

  /** The model versions with stored predictions, in the order they reached the store. */
  private storedVersions(): Promise<StoredVersion[]> {
    return this.warehouse.query<StoredVersion>(
      `SELECT p.model_version AS version, v.seq FROM (SELECT DISTINCT model_version FROM predictions) p
       LEFT JOIN prediction_versions v USING (model_version) ORDER BY v.seq NULLS FIRST, version`,
    );
  }

  /**
   * Removes the predictions of customers with no line in the warehouse any more (its sources ingested
   * again with another mapping, ids written another way): nothing would re-score them, so they would be
   * served, and reported as not re-scored, for ever. Returns how many went.
   */
  removeGone(): Promise<number> {
    return this.exclusive(async () => {
      const gone = `NOT (${IN_WAREHOUSE})`;
      const [{ n }] = await this.warehouse.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM predictions WHERE ${gone}`);
      if (n > 0) await this.warehouse.run(`DELETE FROM predictions WHERE ${gone}`);
      return n;
    });
  }

  /** The model versions whose predictions are stored, in the order they reached the store. */
  async modelVersions(): Promise<string[]> {
    return (await this.exclusive(() => this.storedVersions())).map((v) => v.version);
  }

  /** Segments of the stored predictions, largest first. */
  segments(): Promise<SegmentSummary[]> {
    return this.exclusive(() => this.warehouse.query<SegmentSummary>(
      `SELECT segment, count(*)::BIGINT AS customers, avg(churn_probability) AS "avgChurn",
              count(*) FILTER (WHERE churn_risk = 'high')::BIGINT AS "highRisk"
       FROM predictions GROUP BY segment ORDER BY customers DESC, segment`,
    ));
  }

  /** Customers per R×F cell of the stored predictions (cells without customers are left out). */
  rfGrid(): Promise<Array<{ cell: string; customers: number; avgChurn: number }>> {
    return this.exclusive(() => this.warehouse.query<{ cell: string; customers: number; avgChurn: number }>(
      `SELECT rf_cell AS cell, count(*)::BIGINT AS customers, avg(churn_probability) AS "avgChurn" FROM predictions GROUP BY rf_cell ORDER BY rf_cell`,
    ));
  }

  /**
   * Customers who changed segment, grouped; newest versions first. A group with fromVersion = toVersion is
   * re-scoring with that version (new data, another --now), not a change of model.
   */
  moves(options: { fromVersion?: string; toVersion?: string } = {}): Promise<SegmentMoves[]> {
    const conditions = ['true'];
    if (options.fromVersion !== undefined) conditions.push(`m.from_version = ${sqlString(options.fromVersion)}`);
    if (options.toVersion !== undefined) conditions.push(`m.to_version = ${sqlString(options.toVersion)}`);
    return this.exclusive(() => this.warehouse.query<SegmentMoves>(
      `SELECT m.from_segment AS "from", m.to_segment AS "to", count(*)::BIGINT AS customers, m.from_version AS "fromVersion", m.to_version AS "toVersion"
       FROM segment_moves m LEFT JOIN prediction_versions v ON v.model_version = m.to_version
       WHERE ${conditions.join(' AND ')}
       GROUP BY ALL ORDER BY max(v.seq) DESC NULLS LAST, "toVersion", "fromVersion", customers DESC, "from", "to"`,
    ));
  }

  /**
   * The scoring times (first, last) of the re-scores with `version` itself that moved customers, or null:
   * after a rollback, moves from before the version was replaced would otherwise read as recent.
   */
  rescoreSpan(version: string): Promise<{ from: string; to: string } | null> {
    return this.exclusive(async () => {
      const [row] = await this.warehouse.query<{ from: string | null; to: string | null }>(
        `SELECT strftime(min(moved_at), '%Y-%m-%dT%H:%M:%SZ') AS "from", strftime(max(moved_at), '%Y-%m-%dT%H:%M:%SZ') AS "to"
         FROM segment_moves WHERE from_version = ${sqlString(version)} AND to_version = ${sqlString(version)}`,
      );
      return row.from && row.to ? { from: row.from, to: row.to } : null;
    });
  }

  /**
   * What the stored predictions have not seen, or null when nothing: sales dated after the latest time
   * any customer was scored as of (`salesUpTo`), and sources ingested since the last write whose lines
   * are dated by then (`linesSince`, and the earlier orders they replaced).
   */
  lag(): Promise<PredictionLag | null> {
    return this.exclusive(async () => {
      const [row] = await this.warehouse.query<{ scored: string | null; sales: string | null; unseen: string[] }>(
        `SELECT (SELECT strftime(max(scored_at), '%Y-%m-%dT%H:%M:%SZ') FROM predictions) AS scored,
                (SELECT strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') FROM transactions) AS sales,
                (SELECT coalesce(list(fingerprint), []) FROM sources s
                 WHERE NOT EXISTS (SELECT 1 FROM prediction_inputs i WHERE i.source = s.fingerprint AND i.ingested_at = s.ingested_at)) AS unseen`,
      );
      if (!row.scored) return null;
      // the lines of the sources not seen, read only when there are some
      const unseen = row.unseen.map(sqlString).join(', ');
      const [since] = unseen === '' ? [{ lines: 0, replaced: 0 }] : await this.warehouse.query<{ lines: number; replaced: number }>(
        `SELECT (SELECT count(*) FROM transactions WHERE source IN (${unseen}) AND ts <= (SELECT max(scored_at) FROM predictions))::BIGINT AS lines,
                (SELECT coalesce(sum(orders_replaced), 0) FROM sources WHERE fingerprint IN (${unseen}))::BIGINT AS replaced`,
      );
      const later = row.sales !== null && row.sales > row.scored;
      if (!later && since.lines === 0 && since.replaced === 0) return null;
      return { scoredUpTo: row.scored, salesUpTo: later ? row.sales : null, linesSince: since.lines, ordersReplacedSince: since.replaced };
    });
  }

  /**
   * Records that `version` is being made current and its predictions are about to be written here; the
   * next write (of whichever version is current then) removes the record. Called before the registry's
   * CURRENT changes, so a run that stops in between leaves it, true or not: the queries say both.
   */
  markPending(version: string): Promise<void> {
    return this.exclusive(() => this.warehouse.run(`INSERT OR REPLACE INTO pending_versions VALUES (${sqlString(version)}, epoch_ms(${Date.now()}))`));
  }

  /** Takes back markPending when the version did not become current after all (CURRENT could not be written). */
  clearPending(version: string): Promise<void> {
    return this.exclusive(() => this.warehouse.run(`DELETE FROM pending_versions WHERE model_version = ${sqlString(version)}`));
  }

  /** Versions a run was making current when it stopped before writing their predictions here. */
  pending(): Promise<Array<{ version: string; since: string }>> {
    return this.exclusive(() => this.warehouse.query<{ version: string; since: string }>(
      `SELECT model_version AS version, strftime(since, '%Y-%m-%dT%H:%M:%SZ') AS since FROM pending_versions ORDER BY since`,
    ));
  }

  /** The model version that most recently reached the store, or null when nothing is stored. */
  latestVersion(): Promise<string | null> {
    return this.exclusive(() => this.latest());
  }

  private async latest(): Promise<string | null> {
    const rows = await this.warehouse.query<{ model_version: string }>(
      `SELECT v.model_version FROM prediction_versions v WHERE EXISTS (SELECT 1 FROM predictions p WHERE p.model_version = v.model_version)
       ORDER BY v.seq DESC LIMIT 1`,
    );
    return rows.length ? rows[0].model_version : null;
  }

  /**
   * The movement matrix into a version (default: the latest): customers now scored by `toVersion`, by the
   * segment they had under their previous version and the one `toVersion` gave them when it replaced it,
   * stays included. Re-scores with `toVersion` since then do not change it: a model change is not blamed
   * for what newer data or another --now did (see moves with fromVersion = toVersion).
   */
  transitions(toVersion?: string): Promise<SegmentTransition[]> {
    return this.exclusive(async () => {
      const version = toVersion ?? (await this.latest());
      if (version === null) return [];
      return this.warehouse.query<SegmentTransition>(
        `SELECT p.previous_segment AS "from", coalesce(m.to_segment, p.previous_segment) AS "to", count(*)::BIGINT AS customers,
                p.previous_version AS "fromVersion", p.model_version AS "toVersion"
         FROM predictions p LEFT JOIN segment_moves m
           ON m.customer_id = p.customer_id AND m.from_version = p.previous_version AND m.to_version = p.model_version
         WHERE p.model_version = ${sqlString(version)} AND p.previous_version IS NOT NULL
         GROUP BY ALL ORDER BY "fromVersion", "from", "to"`,
      );
    });
  }

  /**
   * The customers whose stored prediction was scored as of a time after `at` (ISO), and the latest such
   * time; customers no longer in the warehouse aside (their rows go, see removeGone).
   */
  scoredAfter(at: string): Promise<{ customers: string[]; latest: string | null }> {
    if (!Number.isFinite(Date.parse(at))) throw new FloyoError(`scoredAfter needs an ISO timestamp, got ${JSON.stringify(at)}`);
    return this.exclusive(async () => {
      const rows = await this.warehouse.query<{ customer_id: string; at: string }>(
        `SELECT customer_id, strftime(scored_at, '%Y-%m-%dT%H:%M:%SZ') AS at FROM predictions WHERE scored_at > epoch_ms(${Date.parse(at)}) AND ${IN_WAREHOUSE}`,
      );
      return { customers: rows.map((r) => r.customer_id), latest: rows.reduce<string | null>((m, r) => (m === null || r.at > m ? r.at : m), null) };
    });
  }

  /** One customer's segment moves, over model versions and re-scores, oldest first. */
  customerMoves(customerId: string): Promise<CustomerMove[]> {
    return this.exclusive(async () => {
      const rows = await this.warehouse.query<CustomerMove & { movedAtMs: number }>(
        `SELECT m.from_segment AS "from", m.to_segment AS "to", m.from_version AS "fromVersion", m.to_version AS "toVersion", epoch_ms(m.moved_at) AS "movedAtMs"
         FROM segment_moves m LEFT JOIN prediction_versions v ON v.model_version = m.to_version
         WHERE m.customer_id = ${sqlString(customerId)} ORDER BY m.write_seq NULLS FIRST, v.seq, m.moved_at`,
      );
      return rows.map(({ movedAtMs, ...m }) => ({ ...m, movedAt: isoSeconds(Number(movedAtMs)) }));
    });
  }
}

/**
 * Runs fn with the home's prediction store, holding the home lock (`command` names the holder), and
 * closes the warehouse afterwards. A home where nothing was scored yet is refused with a clear message,
 * and without creating a warehouse in it. What makes the answers out of date is said on stderr as it is
 * found, and passed to fn, for the --json outputs to carry.
 */
export async function withPredictions<T>(
  home: string, command: string, fn: (store: PredictionStore, warnings: string[]) => Promise<T>, wait = DEFAULT_LOCK_WAIT,
): Promise<T> {
  // a train whose version failed the quality gate writes no predictions: then promoting it is the way on
  const nothing = () =>
    new FloyoError(`no predictions in ${home} yet: run \`floyo train\` first (if it ran and its version was not promoted, see floyo models list, then floyo models promote <version>)`, {}, NOT_FOUND_EXIT);
  // a mistyped --home is said as such, not as a home where nothing was trained yet
  if (!existsSync(home)) throw new FloyoError(`there is no Floyo home at ${home} (--home, FLOYO_HOME or home in the config): nothing was ingested or trained there`, {}, NOT_FOUND_EXIT);
  if (!Warehouse.exists(home)) throw nothing();
  const warehouse = await Warehouse.open(home, command, wait);
  try {
    const store = new PredictionStore(warehouse);
    await store.init();
    if ((await store.count()) === 0) throw nothing();
    // stored predictions are as of their scoring: after an ingest without `floyo score`, recommendations
    // can name products bought since and risk can be out of date; the answer stays, the lag is said
    const warnings: string[] = [];
    const lag = await store.lag();
    if (lag) warnings.push(lagWarning(lag));
    for (const p of await store.pending()) {
      warnings.push(
        `a run making model version ${p.version} current stopped at ${p.since} before writing its predictions: ` +
          'if it is current (floyo models list), these answers come from the version before it; floyo score writes the current version\'s',
      );
    }
    for (const w of warnings) process.stderr.write(`floyo: warning: ${w}\n`);
    return await fn(store, warnings);
  } finally {
    warehouse.close();
  }
}

function lagWarning(lag: PredictionLag): string {
  const count = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
  const unseen = [
    lag.salesUpTo && `the warehouse holds sales up to ${lag.salesUpTo}`,
    lag.linesSince && `${count(lag.linesSince, 'line')} dated by then ${lag.linesSince === 1 ? 'was' : 'were'} ingested after they were written`,
    lag.ordersReplacedSince && `${count(lag.ordersReplacedSince, 'earlier order')} ${lag.ordersReplacedSince === 1 ? 'was' : 'were'} replaced since`,
  ].filter(Boolean);
  return `the predictions were scored as of ${lag.scoredUpTo} at the latest, and ${unseen.join('; ')}: floyo score brings them up to date`;
}

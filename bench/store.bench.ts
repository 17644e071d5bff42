// The prediction store (src/stores/predictions.ts) at the scale its README claims: audiences of millions.
// Data: seeded predictions shaped like `floyo score`'s (10 recommendations with ~30-character product names
// and a reason each, 3 churn reasons in words, 5 segments of uneven size, churn probabilities over [0, 1]),
// for customers with 5-7 digit and some alphanumeric ids, written in customer-id order as train and score write
// them (FLOYO_BENCH_ORDER=scrambled: in a scrambled order, as an API caller may). They are generated
// while the store reads them, so the peak RSS is the store's, not the bench's.
// For each size, one warehouse goes through a life: a first write, the same batch again (idempotent), a new
// model version that moves a third of the customers, a re-score of 1% with the same version; then the reads
// a dashboard makes on it: get by id, audience pages (limit 1000) walked to the end, segments, R×F grid,
// moves, transitions. Every count the store reports is checked against the generator's, and every customer
// read by id against what was written: a wrong one, or a store error, ends that size with a FAILED row in
// the table and makes the run exit 1. Peak RSS is the process's (VmHWM, reset before each write); the file
// is the DuckDB file and its WAL.
//
//   npm run bench -- store            (FLOYO_BENCH_SIZES=100000 to run one size, e.g. 3000000 for a long run;
//                                      FLOYO_BENCH_LEAN=1: recommendations without a reason, as floyo score writes them)
import { deepStrictEqual } from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Warehouse } from '../src/data/warehouse.js';
import { createRng, type Rng } from '../src/ml/random.js';
import { PredictionStore, type AudienceQuery, type ChurnReason, type Prediction, type Recommendation, type UpsertResult } from '../src/stores/predictions.js';
import { report, time, type Row } from './harness.js';

const SIZES = (process.env.FLOYO_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const SEED = 7;
const PAGE = 1000;
const GETS = 1000;
/** pages at each end of a walk compared for the depth ratio */
const ENDS = 10;
/** a batch's k-th customer is customer (k × STRIDE) mod n: prime, so every customer comes once */
const STRIDE = 999_983;
const THRESHOLD = 0.42;
/** recommendations without a reason, as `floyo score` writes them today (~1.3 KB of JSON a customer instead of ~1.8) */
const LEAN = process.env.FLOYO_BENCH_LEAN === '1';
/** customers written in a scrambled order (an API caller's) instead of in customer-id order (as train and score write them) */
const SCRAMBLED = process.env.FLOYO_BENCH_ORDER === 'scrambled';

// ---- the generated shop --------------------------------------------------------------------------------

const SEGMENTS = [
  { name: 'champions', share: 0.1, churn: [0.01, 0.25] },
  { name: 'loyal', share: 0.2, churn: [0.05, 0.5] },
  { name: 'new', share: 0.17, churn: [0.2, 0.75] },
  { name: 'at risk', share: 0.23, churn: [0.45, 0.97] },
  { name: 'hibernating', share: 0.3, churn: [0.6, 0.995] },
] as const;

type Phase = 'v1' | 'v2' | 'rescore';
const VERSION: Record<Phase, string> = { v1: '20261129T230412Z-3fa9c2e1', v2: '20261130T231907Z-b81d04aa', rescore: '20261130T231907Z-b81d04aa' };
const SCORED_AT: Record<Phase, string> = { v1: '2026-11-29T23:00:00Z', v2: '2026-11-30T23:00:00Z', rescore: '2026-12-01T09:15:00Z' };

// Who changes what, by customer number, so that the expected counts are exact: v2 moves a third of the
// customers one segment on; the re-score touches 1%, and moves half of those two segments on.
const movedByV2 = (i: number) => i % 3 === 0;
const rescored = (i: number) => i % 100 === 42;
const movedByRescore = (i: number) => i % 200 === 42;

const PREFIXES = ['VINTAGE', 'HANGING', 'SET OF 3', 'REGENCY', 'RETRO', 'WOODEN', 'ENAMEL', 'CERAMIC', 'JUMBO', 'PAPER', 'GLASS', 'MINI'];
const COLOURS = ['WHITE', 'RED', 'PINK', 'BLUE', 'IVORY', 'SILVER', 'RETROSPOT', 'POLKADOT', 'FLORAL', 'PASTEL'];
const ITEMS = ['HEART T-LIGHT HOLDER', 'TEA CADDY WITH LID', 'LUNCH BAG WITH HANDLES', 'THREE TIER CAKE STAND', 'PHOTO FRAME CORNICE',
  'BAKELIKE ALARM CLOCK', 'PARTY BUNTING 10 FLAGS', 'ROUND STORAGE TIN', 'DOORSTOP WITH HANDLE', 'MUG AND SAUCER', 'NAPKINS PACK OF 20',
  'WATER BOTTLE WITH COVER', 'CHRISTMAS BAUBLE SET', 'SHOPPER BAG LARGE', 'SCENTED CANDLE IN TIN', 'HOT WATER BOTTLE'];

/** A UCI-like catalogue: 5-digit ids, some with a letter; names like "VINTAGE IVORY THREE TIER CAKE STAND". */
const CATALOGUE = (() => {
  const rng = createRng(SEED);
  return Array.from({ length: 4000 }, (_, j) => ({
    id: `${20000 + j * 13}${j % 6 === 1 ? 'ABCDE'[j % 5] : ''}`,
    name: `${PREFIXES[rng.int(PREFIXES.length)]} ${COLOURS[rng.int(COLOURS.length)]} ${ITEMS[rng.int(ITEMS.length)]}`,
  }));
})();

/** 5-7 digit numbers in the order accounts were opened (with gaps), and one in 12 an alphanumeric web account. */
function customerId(i: number): string {
  if (i % 12 === 7) return `W${(Math.imul(i, 0x9e3779b1) >>> 0).toString(36).toUpperCase().padStart(7, '0')}`;
  return String(10_000 + 3 * i + (i % 3));
}

/** A customer's own draws: the same under every model version. */
function customerRng(i: number): Rng {
  return createRng(SEED * 1e8 + i);
}

interface Profile { segment: number; churn: number; rfCell: string }

function profile(i: number, phase: Phase, rng = customerRng(i)): Profile {
  const u = rng.next();
  let segment = 0, cumulative = SEGMENTS[0].share;
  while (segment < SEGMENTS.length - 1 && u >= cumulative) cumulative += SEGMENTS[++segment].share;
  if (phase !== 'v1' && movedByV2(i)) segment = (segment + 1) % SEGMENTS.length;
  if (phase === 'rescore' && movedByRescore(i)) segment = (segment + 2) % SEGMENTS.length;
  const [lo, hi] = SEGMENTS[segment].churn;
  // a new version or a re-score gives another probability: the churn audience is not the same set each time
  const v = (rng.next() + (phase === 'v1' ? 0 : phase === 'v2' ? 0.31 : 0.57)) % 1;
  const recency = Math.min(5, Math.max(1, Math.round(5.4 - (lo + hi) * 2.5 + rng.normal())));
  return { segment, churn: lo + (hi - lo) * v, rfCell: `R${recency}F${1 + rng.int(5)}` };
}

const REASONS: Array<(rng: Rng) => string> = [
  (r) => `no purchase for ${30 + r.int(300)} days`,
  (r) => `only ${1 + r.int(4)} orders so far`,
  (r) => `spent £${(r.next() * 90).toFixed(2)} in the last 90 days (£${(100 + r.next() * 600).toFixed(2)} in the 90 before)`,
  (r) => `${40 + r.int(200)} days since the last order, against a usual ${7 + r.int(40)} days`,
  (r) => `small orders (average £${(8 + r.next() * 30).toFixed(2)})`,
  () => 'no returns or refunds so far',
  (r) => `a last basket of products whose buyers seldom come back (${5 + r.int(30)}% did lately)`,
  (r) => `bought only ${1 + r.int(6)} different products`,
];
const REASON_FEATURES = ['recency_days', 'frequency', 'spend_last_90d', 'overdue_ratio', 'avg_order_value', 'credit_notes', 'last_basket_retention', 'distinct_products'];

function prediction(i: number, phase: Phase): Prediction {
  const rng = customerRng(i);
  const { segment, churn, rfCell } = profile(i, phase, rng);
  const high = churn >= THRESHOLD;
  const churnReasons: ChurnReason[] = [];
  for (let first = rng.int(REASONS.length), k = 0; k < 3; k++) {
    const f = (first + 3 * k) % REASONS.length;
    churnReasons.push({ feature: REASON_FEATURES[f], text: REASONS[f](rng), contribution: (high ? 1 : -1) * (1.2 - 0.35 * k) * (0.5 + rng.next()) });
  }
  const recommendations: Recommendation[] = [];
  const picked = new Set<number>();
  let score = 0.6 + 0.4 * rng.next();
  while (recommendations.length < 10) {
    const j = Math.floor(CATALOGUE.length * rng.next() ** 3); // a few products are bought by many
    if (picked.has(j)) continue;
    picked.add(j);
    const other = CATALOGUE[(j * 31 + 7) % CATALOGUE.length];
    const reason = j % 3 === 0 ? `bought with ${other.id} by ${3 + rng.int(400)} customers` : j % 3 === 1 ? `popular with ${SEGMENTS[segment].name} customers` : `similar to ${other.name}`;
    recommendations.push({ productId: CATALOGUE[j].id, productName: CATALOGUE[j].name, score: Math.fround(score), ...(LEAN ? {} : { reason }) });
    score *= 0.8 + 0.15 * rng.next();
  }
  return {
    customerId: customerId(i), segment: SEGMENTS[segment].name, segmentId: segment, rfCell, churnProbability: churn, churnRisk: high ? 'high' : 'low',
    churnReasons, recommendations, modelVersion: VERSION[phase], scoredAt: SCORED_AT[phase],
  };
}

/** Customers 0..n−1 in customer-id order (the ids are ASCII, so JavaScript's order is DuckDB's). */
const idOrder = new Map<number, Int32Array>();
function inIdOrder(n: number): Int32Array {
  let order = idOrder.get(n);
  if (!order) {
    const ids = Array.from({ length: n }, (_, i) => customerId(i));
    order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : 1));
    idOrder.set(n, order);
  }
  return order;
}

/** The batch of a phase, generated as the store reads it, in customer-id order or scrambled (FLOYO_BENCH_ORDER). */
function* batch(n: number, phase: Phase): Generator<Prediction> {
  const order = SCRAMBLED ? null : inIdOrder(n);
  for (let k = 0; k < n; k++) {
    const i = order ? order[k] : (k * STRIDE) % n;
    if (phase !== 'rescore' || rescored(i)) yield prediction(i, phase);
  }
}

/** Customer i's stored prediction after the whole life. */
const finalPhase = (i: number): Phase => (rescored(i) ? 'rescore' : 'v2');

// ---- measuring -----------------------------------------------------------------------------------------

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(`bench/store: the store is wrong: ${message}`);
}

const count = (n: number, pred: (i: number) => boolean): number => {
  let c = 0;
  for (let i = 0; i < n; i++) if (pred(i)) c++;
  return c;
};

const progress = (what: string) => process.stderr.write(`bench/store: ${what}\n`);
const MiB = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);

/** Peak RSS since the last reset (Linux: VmHWM, reset through clear_refs). */
function peakRss(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
}
function resetPeakRss(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

const walBytes = (path: string) => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);

/** The DuckDB file and its write-ahead log, and how much of the file is free blocks (kept for reuse, never given back). */
async function fileSize(warehouse: Warehouse): Promise<{ sizes: string; free: string }> {
  const [db] = await warehouse.query<{ free_blocks: number; block_size: number }>('PRAGMA database_size');
  return { sizes: `${MiB(statSync(warehouse.path).size)} + ${MiB(walBytes(warehouse.path))}`, free: `${MiB(db.free_blocks * db.block_size)} MiB of the file free` };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

const round = (ms: number) => (ms >= 100 ? Math.round(ms) : +ms.toFixed(2));
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);

/** Median of `times` calls (warm: a dashboard asks again and again). */
async function repeated<T>(times: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const runs: number[] = [];
  let value: T | undefined;
  for (let r = 0; r < times; r++) {
    const t = await time(fn);
    runs.push(t.ms);
    value = t.value;
  }
  return { ms: median(runs), value: value as T };
}

const COLUMNS = ['customers', 'measure', 'ms', 'rows/s', 'p50 ms', 'p99 ms', 'pages', 'last/first pages', 'CPU s', 'RSS before → peak MiB', 'file + WAL MiB', 'detail'];
const rows: Row[] = [];
/** Adds a row with every column, in one order (the table's columns are those of its rows, as they come). */
function add(row: Row): void {
  const unknown = Object.keys(row).filter((k) => !COLUMNS.includes(k));
  if (unknown.length) throw new Error(`bench/store: no column ${unknown.join(', ')}`);
  rows.push(Object.fromEntries(COLUMNS.map((c) => [c, row[c] ?? null])));
}
const notes: string[] = [];
const loadAtStart = +loadavg()[0].toFixed(2);

async function write(store: PredictionStore, warehouse: Warehouse, n: number, measure: string, predictions: Iterable<Prediction>): Promise<UpsertResult> {
  progress(`${n.toLocaleString('en-US')} customers: ${measure}`);
  const walBefore = walBytes(warehouse.path);
  resetPeakRss();
  const rssBefore = process.memoryUsage.rss();
  const cpu0 = process.cpuUsage();
  const { ms, value } = await time(() => store.upsert(predictions));
  const cpu = process.cpuUsage(cpu0);
  const peak = peakRss();
  const file = await fileSize(warehouse);
  // DuckDB checkpoints on a commit when the WAL is large: a write can pay for the one before it
  const checkpointed = walBefore > 2 ** 24 && walBytes(warehouse.path) < walBefore ? `; its commit checkpointed the ${MiB(walBefore)} MiB WAL left before it` : '';
  add({
    customers: n, measure, 'ms': Math.round(ms), 'rows/s': Math.round((value.written / ms) * 1000), 'CPU s': +((cpu.user + cpu.system) / 1e6).toFixed(1),
    'RSS before → peak MiB': `${MiB(rssBefore)} → ${MiB(peak)}`, 'file + WAL MiB': file.sizes,
    detail: `written ${value.written.toLocaleString('en-US')}, added ${value.added.toLocaleString('en-US')}, moved ${value.moved.toLocaleString('en-US')}; ` +
      `stage ${value.timingsMs.stage} ms, load ${value.timingsMs.load} ms; ${file.free}${checkpointed}`,
  });
  return value;
}

interface Walk { pages: number[]; seen: number }

/** Every page of an audience, checking that each matching customer comes exactly once, in order. */
async function walk(store: PredictionStore, query: AudienceQuery, expected: number, matches: (p: Prediction) => boolean): Promise<Walk> {
  const pages: number[] = [];
  const seen = new Set<string>();
  let last = '';
  let cursor: string | undefined;
  do {
    const { ms, value: page } = await time(() => store.audience({ ...query, limit: PAGE, cursor }));
    pages.push(ms);
    check(page.total === expected, `audience ${JSON.stringify(query)} reports total ${page.total} on page ${pages.length}, expected ${expected}`);
    check(page.nextCursor === null || page.customers.length === PAGE, `page ${pages.length} holds ${page.customers.length} customers and is not the last`);
    for (const c of page.customers) {
      // ids are ASCII: string order is byte order
      check(c.customerId > last, `customer ${c.customerId} after ${last}: out of order or seen twice`);
      check(matches(c), `customer ${c.customerId} (${c.segment}, churn ${c.churnProbability}) does not match ${JSON.stringify(query)}`);
      seen.add(c.customerId);
      last = c.customerId;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  check(seen.size === expected, `walking ${JSON.stringify(query)} saw ${seen.size} customers, expected ${expected}`);
  return { pages, seen: seen.size };
}

async function measureSize(n: number): Promise<void> {
  const load0 = +loadavg()[0].toFixed(2);
  const started = performance.now();
  const home = mkdtempSync(join(tmpdir(), 'floyo-bench-store-'));
  const warehouse = await Warehouse.open(home, 'bench store');
  try {
    const store = new PredictionStore(warehouse);
    await store.init();

    // ---- writes (their times include generating the batch, which the first row measures alone)
    check(n % STRIDE !== 0 && n < 1e9, `${n} customers: the scrambled order needs a size not divisible by ${STRIDE}`);
    const generated = await time(() => {
      let recommendations = 0;
      for (const p of batch(n, 'v1')) recommendations += p.recommendations.length;
      return recommendations;
    });
    const sample = Array.from({ length: 1000 }, (_, i) => prediction(i, 'v1'));
    const jsonBytes = sample.reduce((s, p) => s + JSON.stringify(p.recommendations).length + JSON.stringify(p.churnReasons).length, 0) / sample.length;
    add({
      customers: n, measure: 'generate the batch (bench only)', ms: Math.round(generated.ms),
      detail: `not the store's time; ${Math.round(jsonBytes)} bytes of reasons and recommendations (JSON) per customer`,
    });
    const first = await write(store, warehouse, n, 'first write', batch(n, 'v1'));
    check(first.written === n && first.added === n && first.moved === 0, `first write reported ${JSON.stringify(first)}`);
    const again = await write(store, warehouse, n, 'same batch again (idempotent)', batch(n, 'v1'));
    check(again.written === n && again.added === 0 && again.moved === 0 && again.untouched.length === 0, `identical rewrite reported ${JSON.stringify({ ...again, untouched: again.untouched.length })}`);
    check((await store.moves()).length === 0, 'an identical rewrite recorded moves');

    const expectedV2Moves = count(n, movedByV2);
    const v2 = await write(store, warehouse, n, 'new version, 1/3 move segment', batch(n, 'v2'));
    check(v2.written === n && v2.added === 0 && v2.moved === expectedV2Moves, `new version: moved ${v2.moved}, expected ${expectedV2Moves} (written ${v2.written}, added ${v2.added})`);

    const expectedRescored = count(n, rescored), expectedRescoreMoves = count(n, movedByRescore);
    const re = await write(store, warehouse, n, 're-score 1% (same version)', batch(n, 'rescore'));
    check(re.written === expectedRescored && re.added === 0 && re.moved === expectedRescoreMoves, `re-score: written ${re.written}, moved ${re.moved}; expected ${expectedRescored}, ${expectedRescoreMoves}`);
    deepStrictEqual(re.untouched, [{ modelVersion: VERSION.v2, scoredAt: SCORED_AT.v2, customers: n - expectedRescored }], 're-score: untouched customers');

    // ---- reads, on the store as the writes left it
    progress(`${n.toLocaleString('en-US')} customers: reads`);
    const finalProfile = (i: number) => profile(i, finalPhase(i));
    const bySegment = new Array<number>(SEGMENTS.length).fill(0), highBySegment = new Array<number>(SEGMENTS.length).fill(0);
    let above80 = 0;
    for (let i = 0; i < n; i++) {
      const p = finalProfile(i);
      bySegment[p.segment]++;
      if (p.churn >= THRESHOLD) highBySegment[p.segment]++;
      if (p.churn >= 0.8) above80++;
    }
    check((await store.count()) === n, `count() is ${await store.count()}, expected ${n}`);

    const rng = createRng(SEED + n);
    const gets: number[] = [];
    for (let g = 0; g < GETS; g++) {
      const i = rng.int(n);
      const { ms, value } = await time(() => store.get(customerId(i)));
      gets.push(ms);
      deepStrictEqual(value, prediction(i, finalPhase(i)), `get(${customerId(i)}) is not what was written`);
    }
    // an id between stored ones (numeric ids leave gaps): one that sorts after them all is skipped by DuckDB's min/max alone
    const unknownId = String(10_000 + 3 * (n >> 1) + (((n >> 1) + 1) % 3));
    const miss = await repeated(20, () => store.get(unknownId));
    check(miss.value === null, 'get of an unknown id returned a customer');
    gets.sort((a, b) => a - b);
    add({ customers: n, measure: `get by id (${GETS} random ids)`, 'p50 ms': round(percentile(gets, 0.5)), 'p99 ms': round(percentile(gets, 0.99)), detail: `unknown id: ${round(miss.ms)} ms (median of 20)` });

    const audiences: Array<{ label: string; query: AudienceQuery; expected: number; matches: (p: Prediction) => boolean }> = [
      { label: 'segment "at risk"', query: { segment: 'at risk' }, expected: bySegment[3], matches: (p) => p.segment === 'at risk' },
      { label: 'churn ≥ 0.8', query: { minChurn: 0.8 }, expected: above80, matches: (p) => p.churnProbability >= 0.8 },
      { label: 'no filter', query: {}, expected: n, matches: () => true },
    ];
    for (const a of audiences) {
      const firstPage = await repeated(5, () => store.audience({ ...a.query, limit: PAGE }));
      const w = await walk(store, a.query, a.expected, a.matches);
      const sorted = [...w.pages].sort((x, y) => x - y);
      // the last page is short: the depth comparison takes the full pages before it
      const full = w.pages.length > 1 ? w.pages.slice(0, -1) : w.pages;
      const shallow = median(full.slice(0, ENDS)), deep = median(full.slice(-ENDS));
      add({
        customers: n, measure: `audience ${a.label}: first page`, ms: round(firstPage.ms), detail: `median of 5; ${a.expected.toLocaleString('en-US')} match`,
      });
      add({
        customers: n, measure: `audience ${a.label}: walk all pages`, ms: Math.round(w.pages.reduce((s, x) => s + x, 0)), 'rows/s': Math.round((w.seen / w.pages.reduce((s, x) => s + x, 0)) * 1000),
        'p50 ms': round(percentile(sorted, 0.5)), 'p99 ms': round(percentile(sorted, 0.99)), pages: w.pages.length,
        'last/first pages': +(deep / shallow).toFixed(2),
        detail: `median of the first ${ENDS} full pages ${round(shallow)} ms, of the last ${ENDS} ${round(deep)} ms`,
      });
    }

    // ---- dashboard summaries
    const segments = await repeated(5, () => store.segments());
    for (const s of segments.value) {
      const k = SEGMENTS.findIndex((x) => x.name === s.segment);
      check(k >= 0 && s.customers === bySegment[k] && s.highRisk === highBySegment[k], `segments(): ${JSON.stringify(s)}, expected ${bySegment[k]} customers, ${highBySegment[k]} high risk`);
    }
    add({ customers: n, measure: 'segments()', ms: round(segments.ms), detail: `median of 5; ${segments.value.length} segments` });

    const grid = await repeated(5, () => store.rfGrid());
    check(grid.value.reduce((s, c) => s + c.customers, 0) === n, 'rfGrid() does not add up to every customer');
    add({ customers: n, measure: 'rfGrid()', ms: round(grid.ms), detail: `median of 5; ${grid.value.length} cells` });

    const moves = await repeated(5, () => store.moves());
    const movedBy = (from: string, to: string) => moves.value.filter((m) => m.fromVersion === from && m.toVersion === to).reduce((s, m) => s + m.customers, 0);
    check(movedBy(VERSION.v1, VERSION.v2) === expectedV2Moves && movedBy(VERSION.v2, VERSION.v2) === expectedRescoreMoves,
      `moves(): ${movedBy(VERSION.v1, VERSION.v2)} by the new version and ${movedBy(VERSION.v2, VERSION.v2)} by the re-score; expected ${expectedV2Moves}, ${expectedRescoreMoves}`);
    add({ customers: n, measure: 'moves()', ms: round(moves.ms), detail: `median of 5; ${moves.value.length} groups` });

    const transitions = await repeated(5, () => store.transitions());
    const into = transitions.value.reduce((s, t) => s + t.customers, 0), changed = transitions.value.filter((t) => t.from !== t.to).reduce((s, t) => s + t.customers, 0);
    check(into === n && changed === expectedV2Moves, `transitions(): ${into} customers, ${changed} moved; expected ${n}, ${expectedV2Moves}`);
    add({ customers: n, measure: 'transitions() (latest version)', ms: round(transitions.ms), detail: `median of 5; ${transitions.value.length} cells` });

    const customerMoves: number[] = [];
    for (let g = 0; g < 100; g++) customerMoves.push((await time(() => store.customerMoves(customerId(rng.int(n))))).ms);
    add({ customers: n, measure: 'customerMoves(id) (100 random ids)', 'p50 ms': round(median(customerMoves)), 'p99 ms': round(percentile(customerMoves.sort((a, b) => a - b), 0.99)) });

    const after = await repeated(3, () => store.scoredAfter(SCORED_AT.v2));
    check(after.value.customers.length === expectedRescored, `scoredAfter(): ${after.value.customers.length} customers, expected ${expectedRescored}`);
    add({ customers: n, measure: 'scoredAfter(v2 time) (the 1% re-scored)', ms: round(after.ms), detail: 'median of 3' });
  } catch (err) {
    // a store that fails at a size is a result too: the table says so, and the run exits non-zero
    console.error(err);
    add({ customers: n, measure: 'FAILED', detail: (err as Error).message.split('\n')[0] });
    process.exitCode = 1;
  } finally {
    warehouse.close();
    rmSync(home, { recursive: true, force: true });
  }
  notes.push(`${n.toLocaleString('en-US')} customers: ${((performance.now() - started) / 1000).toFixed(0)} s in all; 1-minute load average ${load0} before, ${loadavg()[0].toFixed(2)} after.`);
}

for (const n of SIZES) await measureSize(n);
notes.push(
  `Pages of ${PAGE}; "last/first pages" is the median time of the last ${ENDS} full pages of a walk over that of the first ${ENDS} (1 = flat with depth). ` +
    'ms and rows/s of a walk are the sum of the audience() calls (checking the pages is not counted).',
  'RSS is the whole process (Node and DuckDB, whose buffer pool the warehouse caps at 512 MB); the batch is generated as it is read, so it adds little.',
  `Customers written ${SCRAMBLED ? 'in a scrambled order (FLOYO_BENCH_ORDER=scrambled)' : 'in customer-id order, as train and score write them'}. ` +
    `Recommendations ${LEAN ? 'without a reason (FLOYO_BENCH_LEAN=1)' : 'with a reason each'}. A FAILED row: the store threw (its message is the detail) or reported a wrong count; that size stops there.`,
  `1-minute load average at the start ${loadAtStart}, at the end ${loadavg()[0].toFixed(2)} on this 2-core machine (shared: other work slows wall times, not CPU time).`,
);
report('store', 'Prediction store at scale: writes, get, audience pages, summaries', rows, notes);

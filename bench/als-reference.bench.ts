// Floyo's ALS side by side with the numpy reference (bench/numpy_als.py: exact ALS, the published
// algorithm in float64 solves) on the UCI Online Retail evaluation protocol: interactions before the
// cutoff C = last date − 90 days, the 90-day window after it as the holdout, precision@10 and NDCG@10
// of the same ranking code (recommendBatch, bought items left out) over the factors of each fit. Every
// fit of a row starts from the same initial factors (Floyo's, seed 0), for each parameter set of the
// recommender grid. Uses the full file when ../shared/datasets is present, else the committed fixture.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { ingest } from '../src/data/ingest.js';
import { presetMapping } from '../src/data/mapping.js';
import { Warehouse } from '../src/data/warehouse.js';
import { rowRules } from '../src/cli/ingest.js';
import { silentProgress } from '../src/cli/progress.js';
import { alsParams, fitAls, type AlsModel, type AlsParams } from '../src/ml/als.js';
import { ALS_GRID, evaluate, K, popularityRanking, recommendAls, recommendPopular } from '../src/models/recommendations.js';
import { snapshot } from '../src/pipeline/tables.js';
import { report, type Row } from './harness.js';

const ROOT = new URL('../', import.meta.url).pathname;
const UCI = join(ROOT, '../shared/datasets/online_retail.csv.gz');
const data = existsSync(UCI) ? UCI : join(ROOT, 'test/fixtures/online_retail_sample.csv');
const work = mkdtempSync(join(tmpdir(), 'floyo-bench-als-ref-'));

/** numpy exact ALS from the model's initial factors; returns the final factors, per-iteration losses and the process's wall seconds. */
function numpyExact(m: AlsModel['confidence'], raw: Float32Array, p: AlsParams, X0: Float32Array, Y0: Float32Array, tag: string): { X: Float32Array; Y: Float32Array; loss: number[]; seconds: number[]; processMs: number } {
  const file = (name: string, a: Int32Array | Float32Array | Float64Array): string => {
    const path = join(work, `${tag}.${name}`);
    writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return path;
  };
  const nnz = m.indptr[m.nRows];
  const job = {
    users: m.nRows, items: m.nCols, factors: p.factors, nnz,
    indptr: file('indptr', m.indptr), indices: file('indices', m.indices.subarray(0, nnz)), values: file('values', Float64Array.from(raw.subarray(0, nnz))),
    user_factors: file('x0', X0), item_factors: file('y0', Y0),
    regularization: p.regularization, alpha: p.alpha, weighting: p.weighting, bm25_k1: p.bm25K1, bm25_b: p.bm25B,
    iterations: p.iterations, solver: 'exact', snapshots: [p.iterations], out: join(work, tag),
  };
  const spec = join(work, `${tag}.json`);
  writeFileSync(spec, JSON.stringify({ jobs: [job] }));
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench/numpy_als.py'), spec], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const processMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`numpy ALS reference failed (apt-get install python3-numpy):\n${r.error?.message ?? r.stderr}`);
  const [res] = (JSON.parse(r.stdout) as { results: { loss: number[]; seconds: number[]; snapshots: Record<string, { user_factors: string; item_factors: string }> }[] }).results;
  const snap = res.snapshots[String(p.iterations)];
  const f32 = (path: string): Float32Array => new Float32Array(new Uint8Array(readFileSync(path)).buffer);
  return { X: f32(snap.user_factors), Y: f32(snap.item_factors), loss: res.loss, seconds: res.seconds, processMs };
}

/** Largest |a − b| relative to the largest |b|. */
function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let k = 0; k < a.length; k++) { d = Math.max(d, Math.abs(a[k] - b[k])); s = Math.max(s, Math.abs(b[k])); }
  return d / Math.max(s, 1e-30);
}

const { config } = loadConfig({ env: {}, flags: { home: work } });
const wh = await Warehouse.open(work, 'bench als reference');
try {
  await ingest(wh, { locations: [data], mapping: presetMapping('online-retail'), format: 'auto', s3: config.s3, rules: rowRules(config.ingest), progress: () => silentProgress() });
  const h = 90;
  const [span] = await wh.query<{ to: string }>(`SELECT strftime(max(ts), '%Y-%m-%d') AS "to" FROM transactions`);
  const C = new Date(Date.parse(`${span.to}T00:00:00Z`) - h * 86_400_000).toISOString().slice(0, 10);
  const ev = await snapshot(wh, { asOf: C, horizonDays: h });
  const m = ev.interactions.matrix, holdout = ev.holdout;
  const rows: Row[] = [];
  const pop = evaluate(recommendPopular(popularityRanking(m), m, holdout.users, K), holdout, m.nCols);
  rows.push({ params: 'popularity', solver: '', 'precision@10': pop.precision, 'NDCG@10': pop.ndcg });
  for (const [g, given] of ALS_GRID.entries()) {
    const p = alsParams({ ...given, seed: 0 });
    const label = `${p.factors} factors, λ ${p.regularization}, α ${p.alpha}, ${p.weighting}`;
    const init = await fitAls(m, { ...p, iterations: 0 });
    const X0 = Float32Array.from(init.userFactors), Y0 = Float32Array.from(init.itemFactors);
    let t0 = performance.now();
    const cg = await fitAls(m, p, { computeLoss: true });
    const cgMs = performance.now() - t0;
    t0 = performance.now();
    const exact = await fitAls(m, { ...p, solver: 'cholesky' }, { computeLoss: true });
    const exactMs = performance.now() - t0;
    const ref = numpyExact(m, m.data, p, X0, Y0, `grid${g}`);
    const numpyModel: AlsModel = { ...exact, userFactors: ref.X, itemFactors: ref.Y };
    const last = p.iterations - 1;
    for (const [solver, model, loss, seconds, diff] of [
      [`Floyo CG (${p.cgSteps} steps)`, cg, cg.lossHistory[last], cgMs / 1000, Math.max(maxDiff(cg.userFactors, ref.X), maxDiff(cg.itemFactors, ref.Y))],
      ['Floyo exact (Cholesky)', exact, exact.lossHistory[last], exactMs / 1000, Math.max(maxDiff(exact.userFactors, ref.X), maxDiff(exact.itemFactors, ref.Y))],
      ['numpy exact (reference)', numpyModel, ref.loss[last], ref.seconds.reduce((a, b) => a + b, 0), 0],
    ] as const) {
      const met = evaluate(await recommendAls(model, holdout.users, K), holdout, m.nCols);
      rows.push({
        params: label, solver, 'precision@10': met.precision, 'NDCG@10': met.ndcg, [`loss after ${p.iterations}`]: loss,
        'loss vs numpy (relative)': Math.abs(loss - ref.loss[last]) / ref.loss[last], 'max factor diff vs numpy (of the largest)': diff, 'fit s': seconds,
      });
    }
    console.log(`${label}: done (numpy process ${(ref.processMs / 1000).toFixed(1)} s)`);
  }
  report('als-reference', 'ALS on UCI Online Retail: Floyo (CG and exact) vs the numpy exact reference, same initial factors', rows, [
    `${data.split('/').pop()}: cutoff ${C}, horizon ${h} days; ${m.nRows} users × ${m.nCols} items, ${m.indptr[m.nRows]} interactions; ${holdout.users.length} users with holdout purchases. Parameters: the recommender grid (src/models/recommendations.ts ALS_GRID), seed 0, 15 iterations.`,
    'Every fit of a parameter set starts from the same initial factors (Floyo\'s, from a fit of 0 iterations); the numpy reference is bench/numpy_als.py (exact per-row solves in float64, factors stored in float32, implicit\'s loss by brute force). The rankings of all three come from the same code (recommendBatch over the factors).',
    'Seconds: Floyo\'s fit includes computing the loss after every iteration; numpy\'s is the sum of its iterations\' solve times (its loss and Python start-up left out). The numpy solver loops over rows in Python and is no speed yardstick.',
  ]);
} finally {
  wh.close();
  rmSync(work, { recursive: true, force: true });
}

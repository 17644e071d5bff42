import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseK, fitKMeans, fitKMeansParallel, kmeansPlusPlus, localTrials, predictKMeans, type KMeansModel } from '../../src/ml/kmeans.js';
import { fromRows, matrix, type Matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { fitScaler, transform } from '../../src/ml/scaler.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = new URL('../../bench/sklearn_kmeans.py', import.meta.url).pathname;

/** A seeded Gaussian mixture: `centers` cluster means, per-cluster spread, then optionally standardised. */
function mixture(seed: number, n: number, centers: number[][], spread: number, standardise: boolean): { X: Matrix; truth: Int32Array } {
  const rng = createRng(seed);
  const d = centers[0].length, k = centers.length;
  const X = matrix(n, d), truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    truth[i] = c;
    for (let f = 0; f < d; f++) X.data[i * d + f] = centers[c][f] + spread * (1 + (c % 3) / 2) * rng.normal();
  }
  return { X: standardise ? transform(fitScaler(X), X) : X, truth };
}

function randomCenters(seed: number, k: number, d: number, scale: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: k }, () => Array.from({ length: d }, () => scale * rng.normal()));
}

function requireSklearn(): void {
  const r = spawnSync(PYTHON, ['-c', 'import sklearn'], { encoding: 'utf8' });
  if (r.status !== 0) {
    assert.fail(`scikit-learn is missing from ${PYTHON} (the reference these tests compare against): run \`apt-get install python3-sklearn\` (or \`bash scripts/install-test-deps.sh\` as root). ${r.error?.message ?? r.stderr}`);
  }
}

type SklearnFit = { k: number; weighted: boolean; inertia: number; n_iter: number; centers: number[] };

/**
 * scikit-learn's KMeans(init='k-means++', n_init=10, random_state=0) for each k in ks, and with the
 * weights for each k in weightedKs, in one Python process.
 */
function sklearnKMeans(X: Matrix, ks: number[], weighted?: { weights: Float64Array; ks: number[] }): SklearnFit[] {
  requireSklearn();
  const dir = mkdtempSync(join(tmpdir(), 'floyo-kmeans-'));
  try {
    writeFileSync(join(dir, 'x.f64'), Buffer.from(X.data.buffer, X.data.byteOffset, X.data.byteLength));
    const args = [SCRIPT, 'kmeans', '--data', join(dir, 'x.f64'), '--rows', String(X.rows), '--cols', String(X.cols), '--k', ks.join(','), '--n-init', '10', '--seed', '0', '--centers'];
    if (weighted) {
      const { weights } = weighted;
      writeFileSync(join(dir, 'w.f64'), Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength));
      args.push('--weights', join(dir, 'w.f64'), '--weighted-k', weighted.ks.join(','));
    }
    // one OpenMP thread: the same answer, and quick even on a busy machine
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.equal(r.status, 0, `sklearn reference failed: ${r.stderr}`);
    return r.stdout.trim().split('\n').map((line) => JSON.parse(line) as SklearnFit);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Squared distance from every centre of `a` to the nearest centre of `b`, maximised: 0 when the sets agree. */
function centreMismatch(a: Float64Array, b: ArrayLike<number>, k: number, d: number): number {
  let worst = 0;
  for (let i = 0; i < k; i++) {
    let best = Infinity;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let f = 0; f < d; f++) s += (a[i * d + f] - b[j * d + f]) ** 2;
      best = Math.min(best, s);
    }
    worst = Math.max(worst, best);
  }
  return Math.sqrt(worst);
}

function bruteInertia(X: Matrix, centers: Float64Array, labels: Int32Array, w?: Float64Array): number {
  let total = 0;
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    for (let f = 0; f < X.cols; f++) s += (X.data[i * X.cols + f] - centers[labels[i] * X.cols + f]) ** 2;
    total += (w ? w[i] : 1) * s;
  }
  return total;
}

test('inertia within 0.5% of scikit-learn KMeans(k-means++, n_init=10) on a standardised mixture, with and without weights', () => {
  const { X } = mixture(11, 4000, randomCenters(3, 5, 6, 1.6), 1, true);
  const rng = createRng(5);
  const w = Float64Array.from({ length: X.rows }, () => (rng.next() < 0.1 ? 0 : 0.2 + 3 * rng.next()));
  const fits = sklearnKMeans(X, [3, 5, 8], { weights: w, ks: [4] });
  assert.deepEqual(fits.map((f) => [f.k, f.weighted]), [[3, false], [5, false], [8, false], [4, true]]);
  for (const sk of fits) {
    const { k } = sk;
    const sampleWeight = sk.weighted ? w : undefined;
    const model = fitKMeans(X, { k, nInit: 10, seed: 0, sampleWeight });
    assert.ok(model.inertia <= sk.inertia * 1.005, `k=${k}${sk.weighted ? ' weighted' : ''}: Floyo inertia ${model.inertia} vs scikit-learn ${sk.inertia}`);
    assert.ok(model.converged, `k=${k} did not converge in ${model.nIter} iterations`);
    // the reported inertia is the real one
    assert.ok(Math.abs(bruteInertia(X, model.centers, model.labels, sampleWeight) - model.inertia) <= 1e-9 * model.inertia);
  }
});

test('well-separated blobs: the true centres and the true partition are recovered', () => {
  const truthCenters = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10], [10, 10, 10]];
  const { X, truth } = mixture(21, 2000, truthCenters, 0.3, false);
  const model = fitKMeans(X, { k: 5, seed: 3 });
  assert.ok(centreMismatch(model.centers, truthCenters.flat(), 5, 3) < 0.1, 'centres far from the truth');
  // same partition: cluster c ↔ true cluster is a bijection
  const map = new Map<number, number>();
  for (let i = 0; i < X.rows; i++) {
    const seen = map.get(model.labels[i]);
    if (seen === undefined) map.set(model.labels[i], truth[i]);
    else assert.equal(seen, truth[i], `row ${i} put with the wrong blob`);
  }
  assert.equal(new Set(map.values()).size, 5);
  assert.equal(model.converged, true);
  assert.deepEqual(Array.from(model.clusterWeights).sort((a, b) => a - b), Array.from({ length: 5 }, (_, c) => truth.filter((t) => t === c).length).sort((a, b) => a - b));
});

test('k = 1: the centre is the weighted mean and the inertia the weighted sum of squares about it', () => {
  const X = fromRows([[1, 2], [3, 5], [-2, 0], [4, 4], [0, 1]]);
  const w = new Float64Array([1, 2, 0.5, 3, 0]);
  const model = fitKMeans(X, { k: 1, sampleWeight: w });
  const W = 6.5;
  const mean = [(1 + 6 - 1 + 12) / W, (2 + 10 + 0 + 12) / W];
  assert.ok(Math.abs(model.centers[0] - mean[0]) < 1e-12 && Math.abs(model.centers[1] - mean[1]) < 1e-12, `centre ${model.centers}`);
  let ss = 0;
  for (let i = 0; i < 5; i++) ss += w[i] * ((X.data[2 * i] - mean[0]) ** 2 + (X.data[2 * i + 1] - mean[1]) ** 2);
  assert.ok(Math.abs(model.inertia - ss) < 1e-9);
  assert.equal(model.converged, true);
  assert.deepEqual(Array.from(model.labels), [0, 0, 0, 0, 0]);
  assert.equal(model.clusterWeights[0], W);
});

test('integer weights are equivalent to duplicating rows', () => {
  const { X } = mixture(31, 600, randomCenters(8, 3, 4, 4), 1, false);
  const rng = createRng(9);
  const w = Float64Array.from({ length: X.rows }, () => 1 + rng.int(3));
  const dup: number[][] = [];
  for (let i = 0; i < X.rows; i++) for (let c = 0; c < w[i]; c++) dup.push(Array.from(X.data.subarray(i * 4, i * 4 + 4)));
  const weighted = fitKMeans(X, { k: 3, sampleWeight: w, tol: 0 });
  const duplicated = fitKMeans(fromRows(dup), { k: 3, tol: 0 });
  assert.ok(Math.abs(weighted.inertia - duplicated.inertia) <= 1e-9 * duplicated.inertia, `${weighted.inertia} vs ${duplicated.inertia}`);
  assert.ok(centreMismatch(weighted.centers, duplicated.centers, 3, 4) < 1e-9);
  assert.deepEqual(Array.from(weighted.clusterWeights).sort(), Array.from(duplicated.clusterWeights).sort());
});

test('Lloyd and Hamerly give the same runs: the bounds skip work, never change a label', () => {
  // 5 columns run on the WebAssembly kernels, 70 on their JavaScript twins
  for (const cols of [5, 70]) {
    const { X } = mixture(41, cols > 64 ? 600 : 3000, randomCenters(6, 6, cols, cols > 64 ? 0.3 : 1.2), 1, true);
    const w = Float64Array.from({ length: X.rows }, (_, i) => 0.5 + (i % 4));
    const lloyd = fitKMeans(X, { k: 6, nInit: 3, seed: 4, algorithm: 'lloyd', sampleWeight: w });
    const hamerly = fitKMeans(X, { k: 6, nInit: 3, seed: 4, algorithm: 'hamerly', sampleWeight: w });
    // the same labels at every step, so the same iterations; Hamerly's running centre sums round differently
    assert.deepEqual(hamerly.runs.map((r) => r.nIter), lloyd.runs.map((r) => r.nIter), `${cols} columns`);
    hamerly.runs.forEach((r, i) => assert.ok(Math.abs(r.inertia - lloyd.runs[i].inertia) <= 1e-12 * r.inertia));
    assert.deepEqual(hamerly.labels, lloyd.labels);
    hamerly.centers.forEach((c, i) => assert.ok(Math.abs(c - lloyd.centers[i]) <= 1e-12));
    assert.ok(lloyd.runs.some((r) => r.nIter > 3), 'the runs iterate enough for the bounds to matter');
    assert.equal(hamerly.params.algorithm, 'hamerly');
  }
  const { X } = mixture(43, 400, randomCenters(6, 3, 4, 2), 1, true);
  assert.equal(fitKMeans(X, { k: 2, nInit: 1 }).params.algorithm, 'hamerly', "'auto' is Hamerly");
});

test('the WebAssembly kernels and their JavaScript twins give the same model, bit for bit', () => {
  // 64 columns run on WebAssembly, 65 in JavaScript; a zero 65th column adds exactly 0 to every distance
  const { X } = mixture(44, 800, randomCenters(12, 5, 64, 0.4), 1, false);
  const wide = matrix(X.rows, 65);
  for (let i = 0; i < X.rows; i++) wide.data.set(X.data.subarray(64 * i, 64 * i + 64), 65 * i);
  const w = Float64Array.from({ length: X.rows }, (_, i) => 1 + (i % 3));
  // weighted and unweighted fits run differently specialised kernels
  for (const sampleWeight of [w, undefined]) {
    const params = { k: 5, nInit: 3, seed: 2, tol: 0, sampleWeight };
    const narrow = fitKMeans(X, params), padded = fitKMeans(wide, params);
    assert.deepEqual(padded.runs, narrow.runs);
    assert.deepEqual(padded.labels, narrow.labels);
    for (let c = 0; c < 5; c++) {
      assert.deepEqual(padded.centers.subarray(65 * c, 65 * c + 64), narrow.centers.subarray(64 * c, 64 * c + 64));
      assert.equal(padded.centers[65 * c + 64], 0);
    }
  }
  assert.deepEqual(kmeansPlusPlus(wide, { k: 7, seed: 3 }).indices, kmeansPlusPlus(X, { k: 7, seed: 3 }).indices);
});

/** scikit-learn's _kmeans_plusplus written plainly (weights as in scikit-learn ≥ 1.3), on the same RNG stream. */
function naivePlusPlus(X: Matrix, k: number, seed: number, w: Float64Array): number[] {
  const rng = createRng(seed), n = X.rows, d = X.cols;
  const d2 = (i: number, j: number) => { let s = 0; for (let f = 0; f < d; f++) s += (X.data[i * d + f] - X.data[j * d + f]) ** 2; return s; };
  const search = (vals: number[], r: number) => { let c = 0; for (let i = 0; i < n; i++) { c += vals[i]; if (c > r) return i; } return n - 1; };
  const first = search(Array.from(w), rng.next() * w.reduce((a, b) => a + b, 0));
  const chosen = [first];
  let closest = Array.from({ length: n }, (_, i) => d2(i, first));
  for (let c = 1; c < k; c++) {
    const pot = closest.reduce((s, v, i) => s + w[i] * v, 0);
    const cands = Array.from({ length: localTrials(k) }, () => search(closest.map((v, i) => w[i] * v), rng.next() * pot));
    let best = -1, bestPot = Infinity, bestClosest = closest;
    for (const q of cands) {
      const next = closest.map((v, i) => Math.min(v, d2(i, q)));
      const p = next.reduce((s, v, i) => s + w[i] * v, 0);
      if (p < bestPot) { bestPot = p; best = q; bestClosest = next; }
    }
    chosen.push(best);
    closest = bestClosest;
  }
  return chosen;
}

test('k-means++ seeding picks exactly what scikit-learn\'s greedy algorithm, written plainly, picks', () => {
  const { X } = mixture(51, 1500, randomCenters(2, 7, 4, 1.5), 1, true);
  const rng = createRng(3);
  const w = Float64Array.from({ length: X.rows }, () => (rng.next() < 0.2 ? 0 : rng.next()));
  for (const [k, seed] of [[7, 1], [12, 2], [2, 3]]) {
    const seeds = kmeansPlusPlus(X, { k, seed, sampleWeight: w });
    assert.deepEqual(Array.from(seeds.indices), naivePlusPlus(X, k, seed, w), `k=${k}`);
    seeds.indices.forEach((row, c) => assert.deepEqual(seeds.centers.subarray(c * 4, c * 4 + 4), X.data.subarray(row * 4, row * 4 + 4)));
    for (const row of seeds.indices) assert.ok(w[row] > 0, 'a zero-weight row became a centre');
  }
  assert.equal(localTrials(1), 2);
  assert.equal(localTrials(6), 3);
  assert.equal(localTrials(8), 4);
});

test('predict: training rows get their labels back; new rows go to the nearest centre', () => {
  const { X } = mixture(61, 1000, randomCenters(5, 4, 3, 3), 1, false);
  const model = fitKMeans(X, { k: 4, seed: 2 });
  assert.deepEqual(predictKMeans(model, X), model.labels);
  const { X: fresh } = mixture(62, 300, randomCenters(6, 4, 3, 4), 1.5, false);
  const got = predictKMeans(model, fresh);
  for (let i = 0; i < fresh.rows; i++) {
    const dist = (c: number) => { let s = 0; for (let f = 0; f < 3; f++) s += (fresh.data[i * 3 + f] - model.centers[c * 3 + f]) ** 2; return s; };
    for (let c = 0; c < 4; c++) assert.ok(dist(got[i]) <= dist(c), `row ${i}`);
  }
  assert.throws(() => predictKMeans(model, matrix(2, 4)), /X has 4 columns but the model was fitted on 3/);
  assert.throws(() => predictKMeans(model, fromRows([[0, NaN, 0]])), /non-finite value \(NaN\) at row 0, column 1/);
  assert.deepEqual(predictKMeans(model, matrix(0, 3)), new Int32Array(0));
});

test('non-convergence is reported, not hidden; tol follows scikit-learn (relative to the mean variance)', () => {
  const { X } = mixture(71, 3000, randomCenters(7, 6, 5, 1), 1, true);
  const capped = fitKMeans(X, { k: 6, nInit: 4, maxIter: 2, tol: 0, seed: 1 });
  assert.equal(capped.converged, false);
  assert.equal(capped.nIter, 2);
  assert.ok(capped.runs.length === 4 && capped.runs.every((r) => !r.converged && r.nIter === 2));
  // labels belong to the returned centres even when the run stopped early
  assert.deepEqual(predictKMeans(capped, X), capped.labels);
  const strict = fitKMeans(X, { k: 6, nInit: 1, tol: 0, seed: 1 });
  const loose = fitKMeans(X, { k: 6, nInit: 1, tol: 1e-2, seed: 1 });
  assert.ok(strict.converged && loose.converged);
  assert.ok(loose.nIter < strict.nIter, `tol=1e-2 took ${loose.nIter} iterations, tol=0 took ${strict.nIter}`);
  // the absolute tolerance is tol × mean column variance (1 for standardised data)
  assert.ok(Math.abs(loose.params.absoluteTol - 1e-2) < 1e-12);
  const scaled = matrix(X.rows, X.cols, X.data.map((v) => 10 * v));
  assert.ok(Math.abs(fitKMeans(scaled, { k: 2, nInit: 1, tol: 1e-2 }).params.absoluteTol - 1) < 1e-9);
});

test('the same seed gives the same model; restarts are kept by lowest inertia', () => {
  const { X } = mixture(81, 2000, randomCenters(9, 5, 4, 1), 1, true);
  const a = fitKMeans(X, { k: 5, seed: 7 }), b = fitKMeans(X, { k: 5, seed: 7 });
  assert.deepEqual(a, b);
  assert.equal(a.runs.length, 10);
  assert.equal(a.inertia, Math.min(...a.runs.map((r) => r.inertia)));
  assert.notDeepEqual(fitKMeans(X, { k: 5, seed: 8 }).runs, a.runs);
  // more restarts never make the kept run worse: runs are independent streams
  const one = fitKMeans(X, { k: 5, seed: 7, nInit: 1 });
  assert.equal(one.runs[0].inertia, a.runs[0].inertia);
});

test('fitKMeansParallel returns the very model fitKMeans returns', async () => {
  const { X } = mixture(91, 5000, randomCenters(10, 6, 5, 1.2), 1, true);
  for (const sampleWeight of [undefined, Float64Array.from({ length: X.rows }, (_, i) => (i % 7) / 2)]) {
    const params = { k: 6, nInit: 6, seed: 5, sampleWeight };
    const parallel = await fitKMeansParallel(X, params, { threads: 2 });
    assert.deepEqual(parallel, fitKMeans(X, params));
  }
  await assert.rejects(fitKMeansParallel(fromRows([[1, 1], [1, 1], [2, 2]]), { k: 3 }, { threads: 2 }), (e: Error) => e instanceof RangeError && /larger than the number of distinct rows \(2\)/.test(e.message));
});

test('degenerate input gets a clear error, not a silent NaN model', () => {
  const X = fromRows([[0, 0], [1, 1], [0, 0], [1, 1], [5, 5]]);
  assert.throws(() => fitKMeans(X, { k: 4 }), (e: Error) => e instanceof RangeError && /k=4 is larger than the number of distinct rows \(3\); choose k ≤ 3/.test(e.message));
  assert.throws(() => fitKMeans(X, { k: 3, sampleWeight: [1, 1, 1, 1, 0] }), /larger than the number of distinct rows with positive weight \(2\)/);
  assert.equal(fitKMeans(X, { k: 3 }).inertia, 0);
  assert.throws(() => fitKMeans(X, { k: 6 }), /k must be an integer from 1 to 5 \(the number of rows of X\), got 6/);
  assert.throws(() => fitKMeans(X, { k: 0 }), /k must be an integer from 1 to 5/);
  assert.throws(() => fitKMeans(X, { k: 2.5 }), /k must be an integer/);
  assert.throws(() => fitKMeans(matrix(0, 3), { k: 1 }), /X has no rows/);
  assert.throws(() => fitKMeans(matrix(3, 0), { k: 1 }), /X has no columns/);
  assert.throws(() => fitKMeans(fromRows([[0, 1], [2, NaN]]), { k: 1 }), /X has a non-finite value \(NaN\) at row 1, column 1/);
  assert.throws(() => fitKMeans(fromRows([[Infinity, 1], [2, 3]]), { k: 1 }), /non-finite value \(Infinity\) at row 0, column 0/);
  assert.throws(() => fitKMeans(X, { k: 2, sampleWeight: [1, 1, -1, 1, 1] }), /sampleWeight must be finite and ≥ 0, got -1 at row 2/);
  assert.throws(() => fitKMeans(X, { k: 2, sampleWeight: [1, 1, NaN, 1, 1] }), /sampleWeight must be finite and ≥ 0, got NaN at row 2/);
  assert.throws(() => fitKMeans(X, { k: 2, sampleWeight: [0, 0, 0, 0, 0] }), /sampleWeight is zero for every row/);
  assert.throws(() => fitKMeans(X, { k: 2, sampleWeight: [1, 1] }), /sampleWeight has 2 values but X has 5 rows/);
  assert.throws(() => fitKMeans(X, { k: 2, nInit: 0 }), /nInit must be an integer ≥ 1, got 0/);
  assert.throws(() => fitKMeans(X, { k: 2, maxIter: 0 }), /maxIter must be an integer ≥ 1, got 0/);
  assert.throws(() => fitKMeans(X, { k: 2, tol: -1 }), /tol must be a finite number ≥ 0, got -1/);
  assert.throws(() => fitKMeans(X, { k: 2, seed: NaN }), /seed must be a finite number/);
  assert.throws(() => fitKMeans(X, { k: 2, algorithm: 'full' as never }), /algorithm must be 'auto', 'lloyd' or 'hamerly', got "full"/);
});

test('constant features change nothing but the constant coordinate; all-constant data has one cluster', () => {
  const { X } = mixture(101, 800, randomCenters(11, 3, 2, 4), 1, false);
  const withConst = matrix(X.rows, 3);
  for (let i = 0; i < X.rows; i++) withConst.data.set([X.data[2 * i], 7, X.data[2 * i + 1]], 3 * i);
  const a = fitKMeans(X, { k: 3, seed: 1 }), b = fitKMeans(withConst, { k: 3, seed: 1 });
  assert.deepEqual(b.labels, a.labels);
  assert.ok(Math.abs(a.inertia - b.inertia) <= 1e-9 * a.inertia);
  for (let c = 0; c < 3; c++) assert.equal(b.centers[c * 3 + 1], 7);
  const flat = matrix(50, 2, new Float64Array(100).fill(3));
  const one = fitKMeans(flat, { k: 1 });
  assert.deepEqual(Array.from(one.centers), [3, 3]);
  assert.equal(one.inertia, 0);
  assert.equal(one.converged, true);
  assert.throws(() => fitKMeans(flat, { k: 2 }), /larger than the number of distinct rows \(1\)/);
});

test('chooseK picks k by silhouette, not by inertia, and reports every k', () => {
  const { X } = mixture(111, 1200, [[0, 0], [8, 0], [0, 8], [8, 8]], 0.8, false);
  const result = chooseK(X, { kMin: 2, kMax: 7, seed: 3 });
  assert.equal(result.k, 4);
  assert.deepEqual(result.scores.map((s) => s.k), [2, 3, 4, 5, 6, 7]);
  const inertias = result.scores.map((s) => s.inertia);
  assert.equal(Math.min(...inertias), inertias[5], 'inertia alone would pick the largest k');
  const best = result.scores.find((s) => s.k === 4) as { silhouette: number };
  for (const s of result.scores) {
    assert.ok(s.silhouette >= -1 && s.silhouette <= 1 && s.converged);
    assert.ok(s.silhouette <= best.silhouette);
  }
  assert.equal((result.model as KMeansModel).k, 4);
  assert.equal(result.silhouetteRows, 1200);
  // large data: the silhouette is scored on a seeded sample, the same rows for every k
  const sampled = chooseK(X, { kMin: 3, kMax: 5, silhouetteSampleSize: 400, nInit: 3 });
  assert.equal(sampled.silhouetteRows, 400);
  assert.equal(sampled.k, 4);
  assert.throws(() => chooseK(X, { kMin: 1, kMax: 3 }), /kMin must be an integer ≥ 2 \(a silhouette needs at least two clusters\), got 1/);
  assert.throws(() => chooseK(X, { kMin: 3, kMax: 2 }), /kMax must be an integer from 3 to 1199/);
  assert.throws(() => chooseK(fromRows([[1], [2]]), { kMin: 2, kMax: 2 }), /at least 3 rows/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { matrix, type Matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { fitScaler, transform } from '../../src/ml/scaler.js';
import { decisionFunction, fitLogistic, fitLogisticParallel, logisticObjective, predict, predictProba, type LogisticParams } from '../../src/ml/logistic.js';
import { createPool } from '../../src/ml/pool.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../bench/sklearn_logistic.py', import.meta.url));

/** n×d features with correlated columns on different scales and offsets, labels from a known logistic model. */
function synthetic(seed: number, n: number, d: number, positiveShift = -0.5): { X: Matrix; y: Float64Array } {
  const rng = createRng(seed);
  const wTrue = Array.from({ length: d }, () => rng.normal());
  const X = matrix(n, d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = rng.normal();
    let z = positiveShift;
    for (let j = 0; j < d; j++) {
      const v = (0.7 * rng.normal() + 0.5 * base) * (1 + (j % 3)) + (j % 4 === 0 ? 2 : 0);
      X.data[i * d + j] = v;
      z += 0.4 * v * wTrue[j];
    }
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { X, y };
}

/** Standardised features of which only the first three carry signal: what an L1 penalty is for. */
function sparseSignal(seed: number, n: number, d: number): { X: Matrix; y: Float64Array } {
  const rng = createRng(seed);
  const X = matrix(n, d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = rng.normal();
    let z = -0.5;
    for (let j = 0; j < d; j++) {
      const v = 0.7 * rng.normal() + 0.5 * base;
      X.data[i * d + j] = v;
      z += (j < 3 ? 1 : 0.05) * v;
    }
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { X: transform(fitScaler(X), X), y };
}

interface SkResult { coef: number[]; intercept: number; n_iter: number }
interface SkJob { X: Matrix; y: ArrayLike<number>; class_weight?: 'balanced' | [number, number]; sampleWeight?: ArrayLike<number>; C?: number; solver?: string; fit_intercept?: boolean; penalty?: string; l1_ratio?: number; tol?: number; max_iter?: number }

/** Fits every job with scikit-learn (tol=1e-10 and max_iter=10000 unless given) in one Python process. */
function sklearn(jobs: SkJob[]): SkResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'floyo-logistic-'));
  try {
    const specs = jobs.map((job, k) => {
      const { X, y } = job, n = X.rows;
      const buf = new Float64Array(n * X.cols + n * (job.sampleWeight ? 2 : 1));
      buf.set(X.data);
      buf.set(Float64Array.from(y), n * X.cols);
      if (job.sampleWeight) buf.set(Float64Array.from(job.sampleWeight), n * X.cols + n);
      const data = join(dir, `job${k}.f64`);
      writeFileSync(data, new Uint8Array(buf.buffer));
      return {
        rows: n, cols: X.cols, data, sample_weight: Boolean(job.sampleWeight), C: job.C ?? 1.0, tol: job.tol ?? 1e-10, max_iter: job.max_iter ?? 10000,
        class_weight: job.class_weight ?? null, solver: job.solver ?? 'lbfgs', fit_intercept: job.fit_intercept ?? true,
        penalty: job.penalty ?? 'l2', l1_ratio: job.l1_ratio ?? null,
      };
    });
    const r = spawnSync(PYTHON, [SCRIPT, JSON.stringify({ jobs: specs })], { encoding: 'utf8' });
    if (r.error || /No module named '(sklearn|numpy|scipy)'/.test(r.stderr ?? '')) {
      assert.fail(`scikit-learn, the reference these tests compare against, is not usable with ${PYTHON}: ${(r.error?.message ?? r.stderr).trim()}. Install it: apt-get install python3-sklearn (or run bash scripts/install-test-deps.sh as root)`);
    }
    assert.equal(r.status, 0, `scikit-learn reference failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { results: SkResult[] }).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every coefficient (and the intercept) within 1e-4·max(1, |w|) of scikit-learn's. */
function assertAgrees(model: { coef: Float64Array; intercept: number }, ref: SkResult, label: string): void {
  const ours = [...model.coef, model.intercept], theirs = [...ref.coef, ref.intercept];
  for (let j = 0; j < ours.length; j++) {
    const tol = 1e-4 * Math.max(1, Math.abs(theirs[j]));
    assert.ok(Math.abs(ours[j] - theirs[j]) <= tol, `${label}: ${j === ours.length - 1 ? 'intercept' : `coef[${j}]`} is ${ours[j]}, scikit-learn ${theirs[j]}`);
  }
}

/** Our solution is at least as good a minimiser of the common objective as scikit-learn's. */
function assertAtLeastAsOptimal(X: Matrix, y: ArrayLike<number>, params: LogisticParams, model: { coef: Float64Array; intercept: number; objective: number }, ref: SkResult): void {
  const f = logisticObjective(X, y, params);
  const theirs = f(Float64Array.from([...ref.coef, ref.intercept]), new Float64Array(X.cols + 1));
  assert.ok(model.objective <= theirs + 1e-13, `objective ${model.objective} > scikit-learn's ${theirs}`);
}

const TIGHT = { tol: 1e-10, maxIter: 10000 };

test('the gradient matches central finite differences of the objective', () => {
  const { X, y } = synthetic(3, 60, 5);
  const rng = createRng(4);
  const sampleWeight = Array.from({ length: 60 }, () => 0.2 + 2 * rng.next());
  for (const params of [{}, { C: 0.3, classWeight: 'balanced' as const, sampleWeight }, { fitIntercept: false, classWeight: [0.5, 3] as const }]) {
    const f = logisticObjective(X, y, params);
    const p = X.cols + (params.fitIntercept === false ? 0 : 1);
    const theta = Float64Array.from({ length: p }, () => rng.normal() * 0.5);
    const grad = new Float64Array(p), scratch = new Float64Array(p);
    f(theta, grad);
    for (let j = 0; j < p; j++) {
      const h = 1e-5 * Math.max(1, Math.abs(theta[j]));
      const up = Float64Array.from(theta), down = Float64Array.from(theta);
      up[j] += h;
      down[j] -= h;
      const fd = (f(up, scratch) - f(down, scratch)) / (2 * h);
      assert.ok(Math.abs(fd - grad[j]) <= 1e-7 * Math.max(1, Math.abs(grad[j])), `∂f/∂θ${j}: analytic ${grad[j]}, finite difference ${fd}`);
    }
  }
});

test('the objective is stable at huge margins: finite loss, no NaN', () => {
  const X = matrix(2, 1, [1e3, -1e3]);
  const f = logisticObjective(X, [1, 0], { fitIntercept: false });
  const g = new Float64Array(1);
  // margins ±1e5 on the right side cost ~0; on the wrong side ~1e5 each
  assert.ok(Math.abs(f(Float64Array.of(100), g) - 100 * 100 / (2 * 2)) < 1e-9);
  const wrong = f(Float64Array.of(-100), g);
  assert.ok(Math.abs(wrong - (2e5 / 2 + 100 * 100 / (2 * 2))) < 1e-6, `${wrong}`);
  assert.ok(Number.isFinite(g[0]));
});

test('coefficients agree with scikit-learn: plain, balanced, sample weights, explicit class weights, no intercept, unscaled, L1, elastic net', () => {
  const { X: raw, y } = synthetic(11, 3000, 8, -1.5); // about 1 in 4 positive: the class weights matter
  const X = transform(fitScaler(raw), raw);
  const rng = createRng(12);
  const sampleWeight = Float64Array.from({ length: X.rows }, () => 0.1 + 3 * rng.next());
  // Unscaled, correlated features: scikit-learn's lbfgs stops on its relative-decrease test
  // (ftol ≈ 2.2e-9) before tol=1e-10; its newton-cholesky solver gets there, and is the reference.
  const { X: rawB, y: yB } = synthetic(21, 2000, 6);
  // For the L1 references: saga converges slowly on correlated features, so a sparse, well-conditioned problem.
  const { X: Xs, y: ys } = sparseSignal(5, 1000, 8);
  const cases: { label: string; X: Matrix; y: Float64Array; params: LogisticParams; job: Omit<SkJob, 'X' | 'y'> }[] = [
    { label: 'plain', X, y, params: {}, job: {} },
    { label: 'balanced', X, y, params: { classWeight: 'balanced' }, job: { class_weight: 'balanced' } },
    { label: 'sample weights', X, y, params: { sampleWeight }, job: { sampleWeight } },
    { label: 'explicit class weights, sample weights, C=0.05', X, y, params: { classWeight: [0.7, 2.5], sampleWeight, C: 0.05 }, job: { class_weight: [0.7, 2.5], sampleWeight, C: 0.05 } },
    { label: 'no intercept', X, y, params: { fitIntercept: false }, job: { fit_intercept: false } },
    { label: 'unscaled vs newton-cholesky', X: rawB, y: yB, params: {}, job: { solver: 'newton-cholesky' } },
    { label: 'unscaled vs lbfgs (optimality only)', X: rawB, y: yB, params: {}, job: {} },
    // L1 parts: scikit-learn's saga (and liblinear, which penalises its intercept, so without one).
    { label: 'L1 (saga)', X: Xs, y: ys, params: { penalty: 'l1', C: 0.05 }, job: { penalty: 'l1', solver: 'saga', C: 0.05, tol: 1e-12, max_iter: 5000 } },
    { label: 'elastic net ρ=0.5, balanced (saga)', X: Xs, y: ys, params: { penalty: 'elasticnet', l1Ratio: 0.5, C: 0.05, classWeight: 'balanced' }, job: { penalty: 'elasticnet', l1_ratio: 0.5, solver: 'saga', C: 0.05, class_weight: 'balanced', tol: 1e-12, max_iter: 5000 } },
    { label: 'L1 without intercept (liblinear)', X: Xs, y: ys, params: { penalty: 'l1', C: 0.05, fitIntercept: false }, job: { penalty: 'l1', solver: 'liblinear', C: 0.05, fit_intercept: false, tol: 1e-12 } },
  ];
  const refs = sklearn(cases.map((c) => ({ X: c.X, y: c.y, ...c.job })));
  cases.forEach((c, k) => {
    const model = fitLogistic(c.X, c.y, { ...c.params, ...TIGHT });
    assert.equal(model.converged, true, `${c.label}: ${model.stop}, gradient ${model.gradNorm}`);
    assert.ok(model.gradNorm <= 1e-10);
    if (c.params.fitIntercept === false) assert.equal(model.intercept, 0);
    if (!c.label.includes('optimality only')) assertAgrees(model, refs[k], c.label);
    if (c.params.penalty === undefined) assertAtLeastAsOptimal(c.X, c.y, c.params, model, refs[k]);
    else {
      // the L1 penalty selects features: the same coefficients are exactly zero on both sides
      const zeros = (v: ArrayLike<number>) => Array.from(v, (w) => w === 0);
      assert.deepEqual(zeros(model.coef), zeros(refs[k].coef), `${c.label}: zero pattern`);
      assert.ok(model.coef.some((w) => w === 0) && model.coef.some((w) => w !== 0), `${c.label}: expected some but not all coefficients to be 0`);
    }
  });
});

test('L1 and elastic net: shifting the features moves only the unpenalised intercept', () => {
  // With an intercept, X + c has the same optimum as X (coefficients w, intercept b − w·c). The orthant
  // steps of OWL-QN must leave the intercept free: clamped at 0, it crawled and stopped far off.
  const { X: Xs, y: ys } = sparseSignal(5, 1000, 8);
  const shifted = matrix(Xs.rows, Xs.cols, Xs.data.map((v, i) => v + 10 + (i % Xs.cols)));
  for (const params of [{ penalty: 'l1', C: 0.05 }, { penalty: 'elasticnet', l1Ratio: 0.5, C: 0.05 }] as LogisticParams[]) {
    const centred = fitLogistic(Xs, ys, { ...params, ...TIGHT });
    // 600–1,200 iterations on this ill-conditioned problem; with the intercept clamped, over 8,000
    const moved = fitLogistic(shifted, ys, { ...params, ...TIGHT, maxIter: 3000 });
    assert.equal(moved.converged, true, `${params.penalty}: ${moved.stop} after ${moved.nIter} iterations`);
    for (let j = 0; j < Xs.cols; j++) assert.ok(Math.abs(moved.coef[j] - centred.coef[j]) < 1e-7, `${params.penalty} coef[${j}]: ${moved.coef[j]} vs ${centred.coef[j]}`);
    const intercept = centred.intercept - Array.from(centred.coef).reduce((a, w, j) => a + w * (10 + j), 0);
    assert.ok(Math.abs(moved.intercept - intercept) < 1e-6, `${params.penalty} intercept: ${moved.intercept} vs ${intercept}`);
  }
});

test('integer sample weights equal repeated rows; balanced equals the explicit n/(2·count) weights', () => {
  const { X, y } = synthetic(41, 400, 4, -1);
  const weights = Float64Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? 2 : 1));
  const rows: number[] = [], ys: number[] = [];
  for (let i = 0; i < 400; i++) for (let r = 0; r < weights[i]; r++) { rows.push(...X.data.subarray(i * 4, i * 4 + 4)); ys.push(y[i]); }
  const weighted = fitLogistic(X, y, { ...TIGHT, sampleWeight: weights });
  const repeated = fitLogistic(matrix(ys.length, 4, rows), ys, TIGHT);
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(weighted.coef[j] - repeated.coef[j]) < 1e-8, `coef[${j}] ${weighted.coef[j]} vs ${repeated.coef[j]}`);
  assert.ok(Math.abs(weighted.intercept - repeated.intercept) < 1e-8);

  const n1 = y.reduce((a, b) => a + b, 0), n0 = 400 - n1;
  const balanced = fitLogistic(X, y, { ...TIGHT, classWeight: 'balanced' });
  const explicit = fitLogistic(X, y, { ...TIGHT, classWeight: [400 / (2 * n0), 400 / (2 * n1)] });
  assert.deepEqual(balanced.params.classWeight, [400 / (2 * n0), 400 / (2 * n1)]);
  assert.deepEqual([...balanced.coef], [...explicit.coef]);
  // and balancing moves the decision towards the rare class: more predicted positives
  const plain = fitLogistic(X, y, TIGHT);
  const count = (u: Uint8Array) => u.reduce((a, b) => a + b, 0);
  assert.ok(count(predict(balanced, X)) > count(predict(plain, X)));
});

test('the parallel fit gives the serial fit\'s model bit for bit, on any number of threads', async () => {
  const { X, y } = synthetic(91, 15_000, 16, -1); // 240k values: large enough to go parallel
  const rng = createRng(92);
  const params: LogisticParams = { tol: 1e-8, maxIter: 500, classWeight: 'balanced', sampleWeight: Float64Array.from({ length: X.rows }, () => 0.5 + rng.next()) };
  const serial = fitLogistic(X, y, params);
  const pool = createPool({ threads: 2 });
  try {
    const onPool = await fitLogisticParallel(X, y, params, { pool });
    const onThree = await fitLogisticParallel(X, y, params, { threads: 3 });
    for (const m of [onPool, onThree]) {
      assert.deepEqual([...m.coef], [...serial.coef]);
      assert.equal(m.intercept, serial.intercept);
      assert.equal(m.nEval, serial.nEval);
      assert.equal(m.converged, true);
    }
    const l1 = { ...params, penalty: 'l1' as const, C: 0.001 };
    const l1Serial = fitLogistic(X, y, l1), l1Parallel = await fitLogisticParallel(X, y, l1, { pool });
    assert.deepEqual([...l1Parallel.coef], [...l1Serial.coef]);
    assert.ok(l1Serial.coef.some((w) => w === 0));
    // small input stays on the calling thread, with the same answer
    const small = synthetic(93, 200, 3);
    assert.deepEqual([...(await fitLogisticParallel(small.X, small.y, {}, { pool })).coef], [...fitLogistic(small.X, small.y).coef]);
    await assert.rejects(fitLogisticParallel(small.X, small.y.map(() => 0), {}, { pool }), /single class/);
  } finally {
    await pool.close();
  }
});

test('the WebAssembly kernels and their JavaScript twins give the same model, bit for bit', () => {
  // 64 columns run on WebAssembly, 65 in JavaScript; a zero 65th column adds exactly 0 to every margin
  // and keeps a zero coefficient, so the two fits must agree to the last bit (with at most 504 rows,
  // one chunk at either width: chunks are sized by the column count)
  const { X, y } = synthetic(95, 500, 64, -1);
  const pad = (M: Matrix, cols: number): Matrix => {
    const out = matrix(M.rows, cols);
    for (let i = 0; i < M.rows; i++) out.data.set(M.data.subarray(M.cols * i, M.cols * (i + 1)), cols * i);
    return out;
  };
  const params: LogisticParams = { tol: 1e-8, maxIter: 500, classWeight: 'balanced' };
  const narrow = fitLogistic(X, y, params), padded = fitLogistic(pad(X, 65), y, params);
  assert.deepEqual([...padded.coef.subarray(0, 64)], [...narrow.coef]);
  assert.equal(padded.coef[64], 0);
  assert.equal(padded.intercept, narrow.intercept);
  assert.equal(padded.nEval, narrow.nEval);
  // an odd column count (the kernels' scalar last column) agrees with the JavaScript sums to rounding
  const odd = matrix(X.rows, 63);
  for (let i = 0; i < X.rows; i++) odd.data.set(X.data.subarray(64 * i, 64 * i + 63), 63 * i);
  const theta = Float64Array.from({ length: 64 }, (_, j) => Math.sin(j) / 10), thetaPadded = new Float64Array(66);
  thetaPadded.set(theta.subarray(0, 63));
  thetaPadded[65] = theta[63];
  const g = new Float64Array(64), gPadded = new Float64Array(66);
  const f = logisticObjective(odd, y)(theta, g), fPadded = logisticObjective(pad(odd, 65), y)(thetaPadded, gPadded);
  assert.ok(Math.abs(f - fPadded) <= 1e-14 * Math.abs(f), `objective ${f} vs ${fPadded}`);
  for (let j = 0; j < 63; j++) assert.ok(Math.abs(g[j] - gPadded[j]) <= 1e-12 * (1 + Math.abs(g[j])), `gradient ${j}: ${g[j]} vs ${gPadded[j]}`);
  assert.ok(Math.abs(g[63] - gPadded[65]) <= 1e-12 * (1 + Math.abs(g[63])));
});

test('predictProba is σ(decisionFunction), stable at extreme margins; predict thresholds it', () => {
  const { X, y } = synthetic(51, 300, 3);
  const model = fitLogistic(X, y);
  const z = decisionFunction(model, X), p = predictProba(model, X), labels = predict(model, X);
  for (let i = 0; i < X.rows; i++) {
    let zi = model.intercept;
    for (let j = 0; j < 3; j++) zi += X.data[i * 3 + j] * model.coef[j];
    assert.ok(Math.abs(z[i] - zi) < 1e-12);
    assert.ok(Math.abs(p[i] - 1 / (1 + Math.exp(-z[i]))) < 1e-15);
    assert.equal(labels[i], z[i] > 0 ? 1 : 0);
  }
  const far = matrix(2, 3, [1e300, 1e300, 1e300, -1e300, -1e300, -1e300]);
  for (const v of predictProba({ ...model, coef: Float64Array.of(1, 1, 1) }, far)) assert.ok(v === 0 || v === 1);
  assert.deepEqual([...predict(model, X, 1)], new Array(X.rows).fill(0));
  assert.throws(() => predict(model, X, 1.5), /threshold must be in \[0, 1\]/);
  assert.throws(() => predictProba(model, matrix(1, 2)), /2 columns but the model was fitted on 3 features/);
  assert.throws(() => predictProba(model, matrix(1, 3, [0, NaN, 0])), /non-finite value \(NaN\) at row 0, column 1/);
});

test('constant features get a zero coefficient and change nothing else', () => {
  const { X, y } = synthetic(61, 500, 3);
  const withConst = matrix(500, 4);
  for (let i = 0; i < 500; i++) {
    withConst.data.set(X.data.subarray(i * 3, i * 3 + 3), i * 4);
    withConst.data[i * 4 + 3] = 7; // collinear with the intercept, which is free: its weight should be 0
  }
  const a = fitLogistic(X, y, TIGHT), b = fitLogistic(withConst, y, TIGHT);
  assert.ok(b.converged);
  assert.ok(Math.abs(b.coef[3]) < 1e-8, `constant column got ${b.coef[3]}`);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(a.coef[j] - b.coef[j]) < 1e-7);
  // scaled, the constant column is all zeros: its coefficient stays exactly 0
  const scaled = transform(fitScaler(withConst), withConst);
  assert.equal(fitLogistic(scaled, y, TIGHT).coef[3], 0);
});

test('separable data gives a finite, regularised model', () => {
  const X = matrix(6, 1, [-3, -2, -1, 1, 2, 3]);
  const model = fitLogistic(X, [0, 0, 0, 1, 1, 1], TIGHT);
  assert.ok(model.converged && Number.isFinite(model.coef[0]) && model.coef[0] > 0);
  assert.ok(Math.abs(model.intercept) < 1e-8); // symmetric data
  const weaker = fitLogistic(X, [0, 0, 0, 1, 1, 1], { ...TIGHT, C: 100 });
  assert.ok(weaker.coef[0] > model.coef[0]);
});

test('a warm start (init) reaches the same model in fewer steps; from the solution itself, at once', () => {
  const { X, y } = synthetic(73, 2000, 8);
  const Z = transform(fitScaler(X), X);
  const tol = 1e-8;
  const previous = fitLogistic(Z, y, { C: 0.1, tol });
  const init = [...previous.coef, previous.intercept];
  const cold = fitLogistic(Z, y, { C: 1, tol }), warm = fitLogistic(Z, y, { C: 1, tol, init });
  assert.ok(cold.converged && warm.converged);
  assert.ok(warm.nIter < cold.nIter, `warm ${warm.nIter} steps, cold ${cold.nIter}`);
  for (let j = 0; j < 8; j++) assert.ok(Math.abs(warm.coef[j] - cold.coef[j]) <= 1e-6 * Math.max(1, Math.abs(cold.coef[j])), `coef ${j}`);
  assert.ok(Math.abs(warm.intercept - cold.intercept) <= 1e-6);
  const again = fitLogistic(Z, y, { C: 0.1, tol: 1e-4, init });
  assert.equal(again.nIter, 0);
  assert.deepEqual([...again.coef], [...previous.coef]);
  assert.throws(() => fitLogistic(Z, y, { init: new Float64Array(8) }), /init must hold 8 coefficients and the intercept \(9 values\), got 8/);
  assert.throws(() => fitLogistic(Z, y, { init: new Float64Array(9).fill(NaN) }), /init\[0\] is NaN, not a finite number/);
});

test('non-convergence is reported, not hidden', () => {
  const { X, y } = synthetic(71, 500, 6);
  const model = fitLogistic(X, y, { tol: 1e-12, maxIter: 2 });
  assert.equal(model.converged, false);
  assert.equal(model.stop, 'maxIter');
  assert.equal(model.nIter, 2);
  assert.ok(model.gradNorm > 1e-12);
  assert.ok(model.coef.every(Number.isFinite));
});

test('degenerate input fails with a message that says what is wrong', () => {
  const { X, y } = synthetic(81, 20, 2);
  assert.throws(() => fitLogistic(X, new Float64Array(20)), /single class \(0\).*both classes 0 and 1/);
  assert.throws(() => fitLogistic(X, new Float64Array(20).fill(1)), /single class \(1\)/);
  assert.throws(() => fitLogistic(X, y.map((v) => (v === 1 ? 2 : 0))), /labels must be 0 or 1, got 2 at index/);
  assert.throws(() => fitLogistic(X, y.map((v) => (v === 1 ? 1 : -1))), /labels must be 0 or 1, got -1/);
  assert.throws(() => fitLogistic(matrix(0, 2), []), /no rows/);
  assert.throws(() => fitLogistic(matrix(3, 0), [0, 1, 0]), /no columns/);
  assert.throws(() => fitLogistic(X, y.subarray(0, 19)), /19 labels but X has 20 rows/);
  const bad = matrix(20, 2, Float64Array.from(X.data));
  bad.data[7] = Infinity;
  assert.throws(() => fitLogistic(bad, y), /non-finite value \(Infinity\) at row 3, column 1/);
  bad.data[7] = NaN;
  assert.throws(() => fitLogistic(bad, y), /non-finite value \(NaN\)/);
  assert.throws(() => fitLogistic(X, y, { sampleWeight: new Float64Array(19) }), /sampleWeight has 19 values but X has 20 rows/);
  assert.throws(() => fitLogistic(X, y, { sampleWeight: new Float64Array(20).fill(-1) }), /sampleWeight must be finite and ≥ 0, got -1/);
  const zeroPositives = Float64Array.from(y, (v) => (v === 1 ? 0 : 1));
  assert.throws(() => fitLogistic(X, y, { sampleWeight: zeroPositives }), /weights of class 1 sum to 0/);
  assert.throws(() => fitLogistic(X, y, { C: 0 }), /C must be a finite number > 0, got 0/);
  assert.throws(() => fitLogistic(X, y, { tol: -1 }), /tol must be a finite number ≥ 0/);
  assert.throws(() => fitLogistic(X, y, { maxIter: 0 }), /maxIter must be an integer ≥ 1/);
  assert.throws(() => fitLogistic(X, y, { classWeight: [1] as unknown as [number, number] }), /classWeight must be 'balanced', null or \[weight of class 0, weight of class 1\]/);
  assert.throws(() => fitLogistic(X, y, { classWeight: 'auto' as unknown as 'balanced' }), /classWeight must be/);
  assert.throws(() => fitLogistic({ rows: 2, cols: 2, data: new Float64Array(3) }, [0, 1]), /must be a Matrix/);
  assert.throws(() => fitLogistic(X, y, { penalty: 'l3' as 'l1' }), /penalty must be 'l2', 'l1' or 'elasticnet', got l3/);
  assert.throws(() => fitLogistic(X, y, { penalty: 'elasticnet' }), /penalty 'elasticnet' needs l1Ratio in \[0, 1\], got undefined/);
  assert.throws(() => fitLogistic(X, y, { penalty: 'elasticnet', l1Ratio: 1.5 }), /needs l1Ratio in \[0, 1\], got 1.5/);
  assert.throws(() => fitLogistic(X, y, { l1Ratio: 0.5 }), /l1Ratio applies only with penalty 'elasticnet', not 'l2'/);
});

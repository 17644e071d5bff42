// Floyo's ALS against an independent reference: bench/numpy_als.py, the published algorithm (Hu, Koren &
// Volinsky 2008; the CG half-step of Takács et al. as benfred/implicit runs it) written out in numpy.
// scikit-learn has no ALS and `implicit` is not installable here, so numpy is the peer. Both sides start
// from the same initial factors: Floyo's, read from a fit of 0 iterations with the same seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alsParams, fitAls, type AlsParams, type AlsWeighting } from '../../src/ml/als.js';
import { csrFromTriplets, type Csr } from '../../src/ml/sparse.js';
import { createRng } from '../../src/ml/random.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../bench/numpy_als.py', import.meta.url));

/**
 * Users of power-law activity buying items of skewed popularity, strengths 1..6 with some fractional
 * quantities (so log1p and BM25 see non-integers); every 13th user and the last two items are empty.
 * No user buys every item (implicit and Floyo treat BM25's negative idf differently).
 */
function sample(nUsers: number, nItems: number, seed: number, maxItems: number): Csr {
  const rng = createRng(seed);
  const rows: number[] = [], cols: number[] = [], vals: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    if (u % 13 === 4) continue;
    const m = 1 + Math.floor(Math.pow(rng.next(), 2) * maxItems);
    for (let k = 0; k < m; k++) {
      rows.push(u);
      cols.push(Math.floor(Math.pow(rng.next(), 1.7) * (nItems - 2)));
      vals.push(rng.next() < 0.2 ? 0.5 + rng.int(8) / 4 : 1 + rng.int(6));
    }
  }
  return csrFromTriplets(nUsers, nItems, rows, cols, vals);
}

interface RefJob {
  data: Csr;
  params: AlsParams;
  /** initial user and item factors, float32 */
  X0: Float32Array;
  Y0: Float32Array;
  solver: 'exact' | 'cg';
  snapshots: number[];
}

interface RefResult {
  loss: number[];
  confidence: number[];
  /** factors after the iterations in the job's snapshots */
  snapshots: Map<number, { X: Float32Array; Y: Float32Array }>;
}

/** Runs the numpy reference on every job in one Python process. */
function numpyAls(jobs: RefJob[]): RefResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'floyo-als-ref-'));
  try {
    const write = (name: string, a: Int32Array | Float32Array | Float64Array): string => {
      const path = join(dir, name);
      writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return path;
    };
    const specs = jobs.map((job, k) => {
      const { data, params: p } = job;
      const nnz = data.indptr[data.nRows];
      return {
        users: data.nRows, items: data.nCols, factors: p.factors, nnz,
        indptr: write(`job${k}.indptr.i32`, data.indptr), indices: write(`job${k}.indices.i32`, data.indices.subarray(0, nnz)),
        values: write(`job${k}.values.f64`, Float64Array.from(data.data.subarray(0, nnz))),
        user_factors: write(`job${k}.x0.f32`, job.X0), item_factors: write(`job${k}.y0.f32`, job.Y0),
        regularization: p.regularization, alpha: p.alpha, weighting: p.weighting, bm25_k1: p.bm25K1, bm25_b: p.bm25B,
        iterations: p.iterations, solver: job.solver, cg_steps: p.cgSteps, snapshots: job.snapshots, confidence: true,
        out: join(dir, `job${k}`),
      };
    });
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ jobs: specs }));
    const r = spawnSync(PYTHON, [SCRIPT, spec], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
    if (r.error || /No module named 'numpy'/.test(r.stderr ?? '')) {
      assert.fail(`numpy, the reference these tests compare Floyo's ALS against, is not usable with ${PYTHON}: ${(r.error?.message ?? r.stderr).trim()}. Install it: apt-get install python3-numpy (or run bash scripts/install-test-deps.sh as root)`);
    }
    assert.equal(r.status, 0, `numpy ALS reference failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { results: { loss: number[]; confidence: number[]; snapshots: Record<string, { user_factors: string; item_factors: string }> }[] };
    return out.results.map((res) => ({
      loss: res.loss,
      confidence: res.confidence,
      snapshots: new Map(Object.entries(res.snapshots).map(([it, paths]) => [Number(it), {
        X: new Float32Array(new Uint8Array(readFileSync(paths.user_factors)).buffer),
        Y: new Float32Array(new Uint8Array(readFileSync(paths.item_factors)).buffer),
      }])),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest |a − b| over the entries, relative to the largest |b|: float32 rounding is relative to the factors' scale. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0, scale = 0;
  for (let k = 0; k < a.length; k++) { d = Math.max(d, Math.abs(a[k] - b[k])); scale = Math.max(scale, Math.abs(b[k])); }
  return d / Math.max(scale, 1e-30);
}

/** The spacing of float32 values at |v| (one unit in the last place). */
function ulp32(v: number): number {
  return 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
}

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** Floyo's initial factors for these parameters: those of a fit of 0 iterations with the same seed. */
async function initialFactors(data: Csr, params: AlsParams): Promise<{ X0: Float32Array; Y0: Float32Array }> {
  const init = await fitAls(data, { ...params, iterations: 0 });
  // the CG and the exact paths start from the same factors
  const other = await fitAls(data, { ...params, iterations: 0, solver: params.solver === 'cg' ? 'cholesky' : 'cg' });
  assert.deepEqual(other.userFactors, init.userFactors);
  assert.deepEqual(other.itemFactors, init.itemFactors);
  return { X0: Float32Array.from(init.userFactors), Y0: Float32Array.from(init.itemFactors) };
}

const WEIGHTINGS: { weighting: AlsWeighting; alpha: number }[] = [
  { weighting: 'none', alpha: 2 }, { weighting: 'log', alpha: 4 }, { weighting: 'bm25', alpha: 3 },
];

// Tolerances of the exact solver. Both sides solve each row's normal equations in float64 from the
// same float32 inputs and round the result to float32, so they agree bit for bit unless an input
// differs: Floyo keeps BM25's item length norm in float32, which moves about a quarter of the BM25
// confidences by one float32 ulp from implicit's float64 bm25_weight; through the normal equations
// that becomes ≤ 4e-7 of the largest factor (worst of 54 matrix × λ × weighting cases tried; none and
// log agreed exactly). 2e-6 of the largest factor is ~16 float32 ulps of it; changing λ or α by 0.1%
// moves the factors ~5e-4, 250 times more.
const EXACT_FACTORS = 2e-6;
const EXACT_LOSS = 1e-7; // relative; seen ≤ 1.5e-8 (BM25), 1e-15 otherwise

test('numpy reference, exact solver: same confidences, same factors after 1 and 3 iterations, same loss, for each weighting', async (t) => {
  const data = sample(120, 70, 3, 25);
  const cases = await Promise.all(WEIGHTINGS.map(async ({ weighting, alpha }) => {
    const params = alsParams({ factors: 10, regularization: 0.05, alpha, weighting, solver: 'cholesky', seed: 5, iterations: 3 });
    const { X0, Y0 } = await initialFactors(data, params);
    const one = await fitAls(data, { ...params, iterations: 1 }, { computeLoss: true });
    const three = await fitAls(data, params, { computeLoss: true });
    return { weighting, params, X0, Y0, one, three };
  }));
  const refs = numpyAls(cases.map((c) => ({ data, params: c.params, X0: c.X0, Y0: c.Y0, solver: 'exact', snapshots: [1, 3] })));
  cases.forEach(({ weighting, X0, one, three }, k) => {
    const ref = refs[k];
    // confidences 1 + α·w(r) of the stored pairs, in the same CSR order: within one float32 ulp
    const conf = three.confidence.data;
    assert.equal(conf.length, ref.confidence.length, `${weighting}: stored pairs`);
    let worstUlps = 0;
    for (let q = 0; q < conf.length; q++) {
      const ulps = Math.abs(conf[q] - ref.confidence[q]) / ulp32(ref.confidence[q]);
      worstUlps = Math.max(worstUlps, ulps);
      assert.ok(ulps <= 1, `${weighting}: confidence ${q} is ${conf[q]}, numpy ${ref.confidence[q]}`);
    }
    const diffs: string[] = [];
    for (const [it, fit] of [[1, one], [3, three]] as const) {
      const snap = ref.snapshots.get(it);
      assert.ok(snap, `numpy snapshot after ${it} iterations`);
      const dx = maxDiff(fit.userFactors, snap.X), dy = maxDiff(fit.itemFactors, snap.Y);
      assert.ok(dx <= EXACT_FACTORS, `${weighting}, ${it} iterations: user factors differ by ${dx} of the largest`);
      assert.ok(dy <= EXACT_FACTORS, `${weighting}, ${it} iterations: item factors differ by ${dy} of the largest`);
      diffs.push(`after ${it}: users ${dx.toExponential(1)}, items ${dy.toExponential(1)}`);
    }
    // not vacuous: the factors moved far from where both started
    assert.ok(maxDiff(X0, one.userFactors) > 0.5);
    assert.equal(one.lossHistory[0], three.lossHistory[0]);
    let worstLoss = 0;
    for (let it = 0; it < 3; it++) {
      const d = relative(three.lossHistory[it], ref.loss[it]);
      worstLoss = Math.max(worstLoss, d);
      assert.ok(d <= EXACT_LOSS, `${weighting}, iteration ${it + 1}: loss ${three.lossHistory[it]}, numpy ${ref.loss[it]}`);
    }
    t.diagnostic(`${weighting}: confidences ≤ ${worstUlps} ulp; factors (of the largest) ${diffs.join('; ')}; loss ${worstLoss.toExponential(1)} relative`);
  });
});

// Tolerances of the CG solver. Floyo's CG runs in float32 (as implicit's BLAS calls do), the numpy
// one in float64, over the same algorithm (implicit's _least_squares_cg: warm start, 3 steps, stop at
// ‖r‖² < 1e-20). After one iteration the factors agree to ≤ 2e-5 of the largest (12 cases tried); later
// iterates drift further apart (up to ~1e-3) along directions the loss hardly sees — the item
// systems, built on user factors of ~30, have condition numbers float32 cannot resolve — so factors
// are compared after one iteration and the loss at every iteration (seen ≤ 2.5e-6 relative).
const CG_FACTORS = 1e-4;
const CG_LOSS = 1e-5;
// CG(3) against the exact solver is the algorithm's own gap, not a rounding error: numpy's CG shows
// the same gap. On these matrices it is up to 4.3% in the first iterations (BM25, α = 3) and ≤ 0.75%
// after the default 15 iterations.
const CG_VS_EXACT_ANY = 6e-2;
const CG_VS_EXACT_LAST = 1.5e-2;

test('numpy reference, CG solver (the default): implicit\'s CG in float64 gives the same loss, and the exact solver\'s within a few percent', async (t) => {
  const data = sample(300, 120, 8, 40);
  for (const { weighting, alpha } of WEIGHTINGS) {
    // the defaults (15 iterations, 3 CG steps, λ = 0.01) but for the number of factors
    const params = alsParams({ factors: 16, alpha, weighting, seed: 9 });
    assert.equal(params.solver, 'cg');
    const { X0, Y0 } = await initialFactors(data, params);
    const cg = await fitAls(data, params, { computeLoss: true });
    const cg1 = await fitAls(data, { ...params, iterations: 1 });
    const [exact, refCg] = numpyAls([
      { data, params, X0, Y0, solver: 'exact', snapshots: [] },
      { data, params, X0, Y0, solver: 'cg', snapshots: [1] },
    ]);
    const snap = refCg.snapshots.get(1);
    assert.ok(snap);
    const dx = maxDiff(cg1.userFactors, snap.X), dy = maxDiff(cg1.itemFactors, snap.Y);
    assert.ok(dx <= CG_FACTORS && dy <= CG_FACTORS, `${weighting}: after one CG iteration the factors differ from numpy's CG by ${dx} (users), ${dy} (items) of the largest`);
    const n = params.iterations;
    let worstCg = 0, worstExact = 0;
    for (let it = 0; it < n; it++) {
      const dCg = relative(cg.lossHistory[it], refCg.loss[it]), dExact = relative(cg.lossHistory[it], exact.loss[it]);
      worstCg = Math.max(worstCg, dCg);
      worstExact = Math.max(worstExact, dExact);
      assert.ok(dCg <= CG_LOSS, `${weighting}, iteration ${it + 1}: loss ${cg.lossHistory[it]}, numpy CG ${refCg.loss[it]}`);
      assert.ok(dExact <= CG_VS_EXACT_ANY, `${weighting}, iteration ${it + 1}: CG loss ${cg.lossHistory[it]}, numpy exact ${exact.loss[it]}`);
    }
    const last = relative(cg.lossHistory[n - 1], exact.loss[n - 1]);
    assert.ok(last <= CG_VS_EXACT_LAST, `${weighting}: after ${n} iterations CG loss ${cg.lossHistory[n - 1]}, numpy exact ${exact.loss[n - 1]}`);
    t.diagnostic(`${weighting}: vs numpy CG: factors after 1 iteration ${Math.max(dx, dy).toExponential(1)} of the largest, loss ≤ ${worstCg.toExponential(1)}; vs numpy exact: loss ≤ ${worstExact.toExponential(1)}, ${last.toExponential(1)} after ${n}`);
  }
});

// K-means fit time and inertia, Floyo vs scikit-learn, side by side on the same data in one run.
// Data: a seeded mixture of 6 overlapping, unevenly sized, anisotropic Gaussians in 8 dimensions,
// standardised (as segmentation features are), at 100k and 1M rows; k = 6, nInit = 10, tol = 1e-4.
// scikit-learn's time is KMeans.fit alone, measured inside its own process (bench/sklearn_kmeans.py).
// Each configuration runs `ROUNDS` times, alternating scikit-learn and Floyo so that a busy machine
// slows both alike; the table shows each one's best round.
//
//   npm run bench -- kmeans            (FLOYO_BENCH_SIZES=100000 to run one size)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitKMeans, fitKMeansParallel, type KMeansModel } from '../src/ml/kmeans.js';
import { matrix, type Matrix } from '../src/ml/matrix.js';
import { createPool } from '../src/ml/pool.js';
import { fitScaler, transform } from '../src/ml/scaler.js';
import { createRng } from '../src/ml/random.js';
import { report, time, type Row } from './harness.js';

const PYTHON = '/usr/bin/python3';
const K = 6, N_INIT = 10, COLS = 8, ROUNDS = 3;
const SIZES = (process.env.FLOYO_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);

/** The benchmark mixture, standardised. */
function mixture(n: number, seed: number): Matrix {
  const rng = createRng(seed);
  const share = [0.3, 0.25, 0.15, 0.12, 0.1, 0.08];
  const means = Array.from({ length: K * COLS }, () => 2 * rng.normal());
  const scales = Array.from({ length: K * COLS }, () => 0.5 + rng.next());
  const X = matrix(n, COLS);
  for (let i = 0; i < n; i++) {
    let u = rng.next(), c = 0;
    while (c < K - 1 && u >= share[c]) u -= share[c++];
    for (let f = 0; f < COLS; f++) X.data[i * COLS + f] = means[c * COLS + f] + scales[c * COLS + f] * rng.normal();
  }
  return transform(fitScaler(X), X);
}

interface SklearnFit { sklearn: string; threads: Record<string, number>; fit_seconds: number; inertia: number; n_iter: number }

function sklearnFit(file: string, n: number): SklearnFit {
  const r = spawnSync(PYTHON, ['bench/sklearn_kmeans.py', 'kmeans', '--data', file, '--rows', String(n), '--cols', String(COLS), '--k', String(K), '--n-init', String(N_INIT), '--seed', '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scikit-learn reference failed (is python3-sklearn installed? apt-get install python3-sklearn): ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as SklearnFit;
}

interface Best { ms: number; model: KMeansModel }

function keep(best: Best | null, ms: number, model: KMeansModel): Best {
  return best === null || ms < best.ms ? { ms, model } : best;
}

const rows: Row[] = [];
const notes: string[] = [];
const load0 = loadavg()[0];
const pool = createPool({ threads: 2 });
const dir = mkdtempSync(join(tmpdir(), 'floyo-bench-kmeans-'));
try {
  const cold = await time(() => fitKMeansParallel(mixture(20_000, 9), { k: K, nInit: 2 }, { pool }));
  notes.push(`First fit on a fresh pool (starting the worker thread, compiling the module there) took ${cold.ms.toFixed(0)} ms; the parallel rows below use that warm pool, as a long-running process would.`);
  for (const n of SIZES) {
    const X = mixture(n, 1);
    const file = join(dir, `x${n}.f64`);
    writeFileSync(file, Buffer.from(X.data.buffer, X.data.byteOffset, X.data.byteLength));
    let sk: SklearnFit | null = null;
    let parallel: Best | null = null, single: Best | null = null;
    for (let round = 0; round < ROUNDS; round++) {
      const s = sklearnFit(file, n);
      if (sk === null || s.fit_seconds < sk.fit_seconds) sk = s;
      const p = await time(() => fitKMeansParallel(X, { k: K, nInit: N_INIT, seed: 0 }, { pool }));
      parallel = keep(parallel, p.ms, p.value);
      const t = await time(() => fitKMeans(X, { k: K, nInit: N_INIT, seed: 0 }));
      single = keep(single, t.ms, t.value);
    }
    if (sk === null || parallel === null || single === null) throw new Error('no rounds ran');
    const skMs = sk.fit_seconds * 1000;
    const row = (impl: string, threads: number, ms: number, m: { inertia: number; nIter: number; runs?: readonly { nIter: number }[] }): Row => ({
      rows: n, impl, threads, fit_ms: Math.round(ms), 'time / sklearn': +(ms / skMs).toFixed(2), inertia: +m.inertia.toFixed(2),
      'inertia / sklearn − 1': (m.inertia / sk.inertia - 1).toExponential(1),
      'iterations (kept run / all runs)': m.runs ? `${m.nIter} / ${m.runs.reduce((a, r) => a + r.nIter, 0)}` : `${m.nIter} / (not reported)`,
    });
    rows.push(row(`scikit-learn ${sk.sklearn} KMeans (lloyd)`, sk.threads.openmp ?? 0, skMs, { inertia: sk.inertia, nIter: sk.n_iter }));
    rows.push(row('Floyo fitKMeansParallel (hamerly)', pool.threads, parallel.ms, parallel.model));
    rows.push(row('Floyo fitKMeans (hamerly)', 1, single.ms, single.model));
    // the bounds must pay for themselves: the same fit without them
    const lloyd = await time(() => fitKMeans(X, { k: K, nInit: N_INIT, seed: 0, algorithm: 'lloyd' }));
    rows.push(row('Floyo fitKMeans (lloyd: no bounds, JavaScript; 1 round)', 1, lloyd.ms, lloyd.value));
    const verdict = (ms: number): string => (ms <= skMs ? 'meets' : 'misses');
    notes.push(`${n.toLocaleString('en-US')} rows, target fit time ≤ scikit-learn's ${skMs.toFixed(0)} ms at inertia ${sk.inertia.toFixed(2)}: ` +
      `Floyo on 2 threads ${verdict(parallel.ms)} it (${parallel.ms.toFixed(0)} ms), on 1 thread ${verdict(single.ms)} it (${single.ms.toFixed(0)} ms), inertia ${parallel.model.inertia.toFixed(2)}.`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await pool.close();
}
notes.push(`Best of ${ROUNDS} alternating rounds (the Lloyd row: one). Load average (1 min) at start ${load0.toFixed(2)}, at end ${loadavg()[0].toFixed(2)} on this 2-core machine; other work on the machine slows both sides.`);
report('kmeans', `K-means fit, k=${K}, nInit=${N_INIT}, ${COLS} standardised features: Floyo vs scikit-learn`, rows, notes);

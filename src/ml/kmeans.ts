// K-means for customer segmentation: scikit-learn's algorithm (greedy k-means++ seeding, Lloyd
// iterations, n_init restarts, tol on the squared centre shift), made fast without changing its
// answer: Hamerly's bounds skip the distance computations that cannot change a label, centre sums
// are updated from the points that moved, the distance loops run as WebAssembly SIMD assembled for
// the data's column count, and fitKMeansParallel spreads the restarts over worker threads.
// Pure: plain data in, plain data out.
import { assertFinite, type Matrix } from './matrix.js';
import { createRng, type Rng } from './random.js';
import { fitScaler } from './scaler.js';
import { defaultThreads, sharedArray, withPool, type Kernel, type Pool, type SharedWasmMemory } from './pool.js';
import { silhouetteScore } from './silhouette.js';
import {
  Asm, compileModule, instantiate, loadVector, moduleBytes, sharedMemory, vectorRegs, wasmAvailable, WASM_PAGE, F64, F64X2_ADD, F64X2_EXTRACT, F64X2_MUL,
  F64X2_SPLAT, F64X2_SQRT, F64X2_SUB, F64_ADD, F64_EQ, F64_GT, F64_LT, F64_MAX, F64_MIN, F64_MUL, F64_SQRT, F64_SUB, I32, I32_ADD,
  I32_EQ, I32_GE_U, I32_MUL, I32_NE, I32_SHL, SELECT, V128, type VectorRegs,
} from './wasm.js';

/**
 * How the assignment step finds each point's nearest centre. Both give the same labels:
 * - `lloyd`: every point against every centre, every iteration, in plain JavaScript (the reference).
 * - `hamerly` (what `auto` means): one upper and one lower distance bound per point; a point is only
 *   re-examined when its bounds can no longer prove its label; centre sums follow the rows that moved
 *   (so centres may differ from `lloyd`'s in the last bits). bench/kmeans.bench.ts measures both.
 *   (Elkan's k bounds per point were measured too: fewer distances, but more bookkeeping than they
 *   saved at segmentation's shapes, so Floyo does not carry them.)
 */
export type KMeansAlgorithm = 'auto' | 'lloyd' | 'hamerly';

export interface KMeansParams {
  /** number of clusters, 1 ≤ k ≤ rows (and at most the number of distinct rows with positive weight) */
  readonly k: number;
  /** restarts from fresh k-means++ seeds; the lowest-inertia run is kept. Default 10. */
  readonly nInit?: number;
  /** Lloyd iterations per restart. Default 300. */
  readonly maxIter?: number;
  /**
   * Relative tolerance, scikit-learn's semantics: a run has converged when the labels stop changing,
   * or when the sum over centres of the squared centre shift is ≤ tol × (mean per-column variance of X).
   * Default 1e-4; 0 means only unchanged labels count.
   */
  readonly tol?: number;
  /** seed of the random generator; the same seed and data give the same model. Default 0. */
  readonly seed?: number;
  /** non-negative weight per row (not all zero); weight w counts like w copies of the row. */
  readonly sampleWeight?: ArrayLike<number>;
  /** default `auto` (= `hamerly`): see KMeansAlgorithm */
  readonly algorithm?: KMeansAlgorithm;
}

/** One restart's outcome: every restart is reported, so non-convergence is visible, not hidden. */
export interface KMeansRun {
  readonly inertia: number;
  readonly nIter: number;
  readonly converged: boolean;
}

/** A fitted k-means model: plain data (typed arrays and numbers), safe to serialise as is. */
export interface KMeansModel {
  readonly k: number;
  readonly cols: number;
  /** k × cols, row-major: centre c is centers[c * cols .. (c + 1) * cols) */
  readonly centers: Float64Array;
  /** weighted sum of squared distances of the rows to their centre, for the kept run */
  readonly inertia: number;
  /** Lloyd iterations of the kept run */
  readonly nIter: number;
  /** whether the kept run converged (labels stable, or centre shift within tol) before maxIter */
  readonly converged: boolean;
  /** the training rows' clusters */
  readonly labels: Int32Array;
  /** total sample weight in each cluster (the cluster sizes when unweighted) */
  readonly clusterWeights: Float64Array;
  /** all restarts, in order */
  readonly runs: readonly KMeansRun[];
  /** the parameters the model was fitted with, defaults filled in, and the absolute tolerance used */
  readonly params: {
    readonly k: number;
    readonly nInit: number;
    readonly maxIter: number;
    readonly tol: number;
    readonly seed: number;
    readonly algorithm: Exclude<KMeansAlgorithm, 'auto'>;
    readonly weighted: boolean;
    readonly absoluteTol: number;
  };
}

const DEFAULTS = { nInit: 10, maxIter: 300, tol: 1e-4, seed: 0, algorithm: 'auto' as KMeansAlgorithm };

function checkInt(name: string, v: number, min: number, max = Infinity, why = ''): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new RangeError(`${name} must be ${range}${why}, got ${v}`);
  }
}

function checkX(X: Matrix, what = 'X'): void {
  if (X.rows === 0) throw new RangeError(`${what} has no rows: k-means needs at least one row per cluster`);
  if (X.cols === 0) throw new RangeError(`${what} has no columns: k-means needs at least one feature`);
  if (X.data.length !== X.rows * X.cols) throw new RangeError(`${what} is ${X.rows}×${X.cols} but holds ${X.data.length} values`);
  assertFinite(X.data, X.cols, what);
}

function checkWeights(sampleWeight: ArrayLike<number> | undefined, n: number): Float64Array {
  const w = new Float64Array(n);
  if (sampleWeight === undefined) return w.fill(1);
  if (sampleWeight.length !== n) throw new RangeError(`sampleWeight has ${sampleWeight.length} values but X has ${n} rows; give one weight per row`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = sampleWeight[i];
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`sampleWeight must be finite and ≥ 0, got ${v} at row ${i}`);
    w[i] = v;
    total += v;
  }
  if (!(total > 0)) throw new RangeError('sampleWeight is zero for every row; at least one row needs a positive weight');
  return w;
}

/** scikit-learn's tolerance: tol × mean over columns of the (population, unweighted) column variance. */
function absoluteTolerance(X: Matrix, tol: number): number {
  if (tol === 0) return 0;
  const { variance } = fitScaler(X);
  return (variance.reduce((a, b) => a + b, 0) / X.cols) * tol;
}

/**
 * Squared Euclidean distance between a[ao..ao+d) and b[bo..bo+d). Even and odd columns are summed
 * apart and then added, the tail column last: the order of the two SIMD lanes in the WebAssembly
 * kernels, so both paths give the same bits.
 */
function sqDist(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s0 = 0, s1 = 0, f = 0;
  for (; f + 1 < d; f += 2) {
    const t0 = a[ao + f] - b[bo + f], t1 = a[ao + f + 1] - b[bo + f + 1];
    s0 += t0 * t0;
    s1 += t1 * t1;
  }
  let s = s0 + s1;
  if (f < d) { const t = a[ao + f] - b[bo + f]; s += t * t; }
  return s;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD kernels. JavaScript has no vector arithmetic and checks every typed-array index;
// the distance loops (k-means++ candidates, Hamerly's re-examined points, the inertia) are what a fit
// costs, and f64x2 arithmetic over a row held in registers runs them about three times faster. No
// WebAssembly toolchain is installed, so each module is assembled from opcodes with src/ml/wasm.ts
// (the assembler ALS's float32 kernels use too), specialised to the column count, k and the number of
// seeding trials, and validated by WebAssembly.Module.
// Every kernel has a JavaScript twin (used for more than MAX_WASM_COLS columns) doing the same
// arithmetic in the same order: both paths give the same model.

/** Rows wider than this run in JavaScript: the kernels keep a row in SIMD registers. */
const MAX_WASM_COLS = 64;
/** WebAssembly memories are addressed by 32-bit offsets; larger fits run in JavaScript. */
const MAX_WASM_BYTES = 2 ** 31;

/** A row of d columns held in locals (see vectorRegs), plus scratch. */
interface RowRegs extends VectorRegs { readonly acc: number; readonly tmp: number; readonly tmpTail: number }

function rowRegs(A: Asm, d: number): RowRegs {
  return { ...vectorRegs(A, d), acc: A.local(V128), tmp: A.local(V128), tmpTail: A.local(F64) };
}

/**
 * Pushes ‖row − y‖² for the row y at the address in local `ptr` + offset: lane-wise sums of the
 * column pairs, then lane 0 + lane 1, then the tail column (sqDist's order).
 */
function emitDist(A: Asm, r: RowRegs, ptr: number, offset = 0): void {
  const P = r.pairs.length;
  r.pairs.forEach((p, q) => {
    A.get(p).get(ptr).v128Load(offset + 16 * q).simd(F64X2_SUB).set(r.tmp);
    A.get(r.tmp).get(r.tmp).simd(F64X2_MUL);
    if (q > 0) A.get(r.acc).simd(F64X2_ADD);
    A.set(r.acc);
  });
  if (P > 0) A.get(r.acc).simd(F64X2_EXTRACT, 0).get(r.acc).simd(F64X2_EXTRACT, 1).op(F64_ADD);
  if (r.tail !== null) {
    A.get(r.tail).get(ptr).f64Load(offset + 16 * P).op(F64_SUB).set(r.tmpTail);
    A.get(r.tmpTail).get(r.tmpTail).op(F64_MUL);
    if (P > 0) A.op(F64_ADD);
  }
}

/**
 * Multiplies the f64 on the stack by w[i] — in a module for weighted fits; for unweighted ones every
 * weight is 1 and the product would be the same number, so nothing is emitted.
 */
function timesWeight(A: Asm, weighted: boolean, w: number, i: number): void {
  if (weighted) A.addr(w, i, 3).f64Load().op(F64_MUL);
}

/**
 * seedFirst(x, n, c, dist2, second2, labels, w, cum) → Σ w·D²: the distance of every row to the first
 * centre (at c), with labels = 0, second2 = ∞ and the running potential in cum.
 */
function asmSeedFirst(d: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32, I32], [F64]);
  const [x, n, c, dist2, second2, labels, w, cum] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = A.local(I32), xo = A.local(I32), s = A.local(F64), run = A.local(F64);
  const r = rowRegs(A, d);
  A.get(x).set(xo).f64(0).set(run);
  A.each(i, n, () => {
    loadVector(A, r, xo);
    emitDist(A, r, c);
    A.set(s);
    A.addr(dist2, i, 3).get(s).f64Store();
    A.addr(second2, i, 3).f64(Infinity).f64Store();
    A.addr(labels, i, 2).i32(0).i32Store();
    A.get(run).get(s);
    timesWeight(A, weighted, w, i);
    A.op(F64_ADD).set(run);
    A.addr(cum, i, 3).get(run).f64Store();
    A.inc(xo, 8 * d);
  });
  A.get(run);
  return A;
}

/**
 * seedTrials(x, n, cands, dist2, w, gains): for T candidate rows (their byte addresses at cands, held
 * in registers), gains[t] = Σ w·max(0, dist2 − D²(row, candidate t)), the potential candidate t would
 * remove. (Keeping the distances for the winner was measured slower than computing them again.)
 */
function asmSeedTrials(d: number, T: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32], []);
  const [x, n, cands, dist2, w, gains] = [0, 1, 2, 3, 4, 5];
  const i = A.local(I32), xo = A.local(I32), ptr = A.local(I32), di = A.local(F64), s = A.local(F64);
  const cand = Array.from({ length: T }, () => rowRegs(A, d));
  const g = Array.from({ length: T }, () => A.local(F64));
  for (let t = 0; t < T; t++) {
    A.get(cands).i32Load(4 * t).set(ptr);
    loadVector(A, cand[t], ptr);
    A.f64(0).set(g[t]);
  }
  A.get(x).set(xo);
  A.each(i, n, () => {
    A.addr(dist2, i, 3).f64Load().set(di);
    for (let t = 0; t < T; t++) {
      // the distance is symmetric: the candidate sits in registers, the row is read from memory
      emitDist(A, cand[t], xo);
      A.set(s);
      A.get(g[t]).get(di).get(s).op(F64_SUB).f64(0).op(F64_MAX);
      timesWeight(A, weighted, w, i);
      A.op(F64_ADD).set(g[t]);
    }
    A.inc(xo, 8 * d);
  });
  for (let t = 0; t < T; t++) A.get(gains).get(g[t]).f64Store(8 * t);
  return A;
}

/**
 * hamerly(x, n, centers, labels, upper, lower, half, shift, m1, m2, top, w, sums, cw, track, list) →
 * changed: Hamerly's E-step (see hamerlyJs, its twin, for the rule). In three passes, so that no
 * branch depends on the data: moving every row's bounds and listing the rows they do not settle,
 * making those rows' upper bounds exact and listing the rows still unsettled, then comparing those
 * with every centre. `list` is scratch for n row indices. With track, a relabelled row's weight moves
 * between the clusters' running sums (sums, cw) while the row is in registers.
 */
function asmHamerly(d: number, k: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32, I32, F64, F64, I32, I32, I32, I32, I32, I32], [I32]);
  const [x, n, centers, labels, upper, lower, half, shift, m1, m2, top, w, sums, cw, track, list] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const i = A.local(I32), p = A.local(I32), xo = A.local(I32), a = A.local(I32), co = A.local(I32), j = A.local(I32), j1 = A.local(I32), lt = A.local(I32);
  const changed = A.local(I32), kk = A.local(I32), open = A.local(I32), still = A.local(I32);
  const u = A.local(F64), l = A.local(F64), s = A.local(F64), b1 = A.local(F64), b2 = A.local(F64), wi = A.local(F64);
  const sa = A.local(I32), sb = A.local(I32), wv = A.local(V128), v = A.local(V128), vt = A.local(F64);
  const r = rowRegs(A, d);
  const rowBytes = 8 * d;
  A.i32(0).set(changed).i32(k).set(kk).i32(0).set(open).i32(0).set(still);
  // 1: move the bounds; list the rows they leave open
  A.each(i, n, () => {
    A.addr(labels, i, 2).i32Load().set(a);
    A.addr(upper, i, 3).f64Load().addr(shift, a, 3).f64Load().op(F64_ADD).set(u);
    A.addr(lower, i, 3).f64Load().get(m2).get(m1).get(a).get(top).op(I32_EQ).op(SELECT).op(F64_SUB).set(l);
    A.addr(upper, i, 3).get(u).f64Store();
    A.addr(lower, i, 3).get(l).f64Store();
    A.addr(list, open, 2).get(i).i32Store();
    A.get(open).get(u).get(l).addr(half, a, 3).f64Load().op(F64_MAX).op(F64_GT).op(I32_ADD).set(open);
  });
  // 2: exact distance to the own centre; keep the rows it does not settle (compacting the list in place)
  A.each(p, open, () => {
    A.addr(list, p, 2).i32Load().set(i);
    A.addr(labels, i, 2).i32Load().set(a);
    A.get(x).get(i).i32(rowBytes).op(I32_MUL).op(I32_ADD).set(xo);
    A.get(centers).get(a).i32(rowBytes).op(I32_MUL).op(I32_ADD).set(co);
    loadVector(A, r, xo);
    emitDist(A, r, co);
    A.op(F64_SQRT).set(u);
    A.addr(upper, i, 3).get(u).f64Store();
    A.addr(list, still, 2).get(i).i32Store();
    A.get(still).get(u).addr(lower, i, 3).f64Load().addr(half, a, 3).f64Load().op(F64_MAX).op(F64_GT).op(I32_ADD).set(still);
  });
  // 3: every centre, in order; strict < keeps the lowest index on ties
  A.each(p, still, () => {
    A.addr(list, p, 2).i32Load().set(i);
    A.addr(labels, i, 2).i32Load().set(a);
    A.get(x).get(i).i32(rowBytes).op(I32_MUL).op(I32_ADD).set(xo);
    loadVector(A, r, xo);
    A.f64(Infinity).set(b1).f64(Infinity).set(b2).i32(0).set(j1).get(centers).set(co);
    A.each(j, kk, () => {
      emitDist(A, r, co);
      A.set(s);
      A.get(s).get(b1).op(F64_LT).set(lt);
      A.get(b1).get(b2).get(s).op(F64_MIN).get(lt).op(SELECT).set(b2);
      A.get(j).get(j1).get(lt).op(SELECT).set(j1);
      A.get(s).get(b1).get(lt).op(SELECT).set(b1);
      A.inc(co, rowBytes);
    });
    A.addr(upper, i, 3).get(b1).op(F64_SQRT).f64Store();
    A.addr(lower, i, 3).get(b2).op(F64_SQRT).f64Store();
    A.get(j1).get(a).op(I32_NE).when(() => {
      A.addr(labels, i, 2).get(j1).i32Store();
      A.inc(changed, 1);
      A.get(track).when(() => {
        // move(): cw[a] −= w, cw[j1] += w, sums[a] −= w·row, sums[j1] += w·row
        if (weighted) A.addr(w, i, 3).f64Load().set(wi); else A.f64(1).set(wi);
        A.addr(cw, a, 3).addr(cw, a, 3).f64Load().get(wi).op(F64_SUB).f64Store();
        A.addr(cw, j1, 3).addr(cw, j1, 3).f64Load().get(wi).op(F64_ADD).f64Store();
        A.get(sums).get(a).i32(rowBytes).op(I32_MUL).op(I32_ADD).set(sa);
        A.get(sums).get(j1).i32(rowBytes).op(I32_MUL).op(I32_ADD).set(sb);
        if (weighted) A.get(wi).simd(F64X2_SPLAT).set(wv);
        r.pairs.forEach((pair, q) => {
          if (weighted) A.get(wv).get(pair).simd(F64X2_MUL).set(v); else A.get(pair).set(v);
          A.get(sa).get(sa).v128Load(16 * q).get(v).simd(F64X2_SUB).v128Store(16 * q);
          A.get(sb).get(sb).v128Load(16 * q).get(v).simd(F64X2_ADD).v128Store(16 * q);
        });
        if (r.tail !== null) {
          const off = 8 * 2 * r.pairs.length;
          A.get(r.tail);
          if (weighted) A.get(wi).op(F64_MUL);
          A.set(vt);
          A.get(sa).get(sa).f64Load(off).get(vt).op(F64_SUB).f64Store(off);
          A.get(sb).get(sb).f64Load(off).get(vt).op(F64_ADD).f64Store(off);
        }
      });
    });
  });
  A.get(changed);
  return A;
}

/** inertia(x, n, centers, labels, w) → Σ w·‖row − its centre‖². */
function asmInertia(d: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32], [F64]);
  const [x, n, centers, labels, w] = [0, 1, 2, 3, 4];
  const i = A.local(I32), xo = A.local(I32), co = A.local(I32), total = A.local(F64);
  const r = rowRegs(A, d);
  A.get(x).set(xo).f64(0).set(total);
  A.each(i, n, () => {
    loadVector(A, r, xo);
    A.get(centers).addr(labels, i, 2).i32Load().i32(8 * d).op(I32_MUL).op(I32_ADD).set(co);
    A.get(total);
    emitDist(A, r, co);
    timesWeight(A, weighted, w, i);
    A.op(F64_ADD).set(total);
    A.inc(xo, 8 * d);
  });
  A.get(total);
  return A;
}

/**
 * seedUpdate(x, n, cand, c, dist2, second2, labels, w, cum) → Σ w·D²: takes the row at cand as centre
 * c: each row's nearest and second-nearest squared distances and label, and the running potential in
 * cum (the twin of seedUpdateJs).
 */
function asmSeedUpdate(d: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32, I32, I32], [F64]);
  const [x, n, cand, c, dist2, second2, labels, w, cum] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = A.local(I32), lt = A.local(I32), xo = A.local(I32), di = A.local(F64), v = A.local(F64), run = A.local(F64);
  const r = rowRegs(A, d);
  loadVector(A, r, cand);
  A.f64(0).set(run).get(x).set(xo);
  A.each(i, n, () => {
    A.addr(dist2, i, 3).f64Load().set(di);
    emitDist(A, r, xo);
    A.set(v);
    A.get(v).get(di).op(F64_LT).set(lt);
    A.addr(second2, i, 3).get(di).addr(second2, i, 3).f64Load().get(v).op(F64_MIN).get(lt).op(SELECT).f64Store();
    A.addr(labels, i, 2).get(c).addr(labels, i, 2).i32Load().get(lt).op(SELECT).i32Store();
    A.get(v).get(di).get(lt).op(SELECT).set(v);
    A.addr(dist2, i, 3).get(v).f64Store();
    A.get(run).get(v);
    timesWeight(A, weighted, w, i);
    A.op(F64_ADD).set(run);
    A.addr(cum, i, 3).get(run).f64Store();
    A.inc(xo, 8 * d);
  });
  A.get(run);
  return A;
}

/**
 * accumulate(x, n, labels, w, sums, cw): per-cluster weighted sums of the rows and total weights,
 * from zero; rows of weight 0 are skipped (the twin of accumulateJs).
 */
function asmAccumulate(d: number, k: number, weighted: boolean): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32], []);
  const [x, n, labels, w, sums, cw] = [0, 1, 2, 3, 4, 5];
  const i = A.local(I32), xo = A.local(I32), so = A.local(I32), a = A.local(I32), q = A.local(I32), end = A.local(I32), wi = A.local(F64), wv = A.local(V128);
  // zero the sums and weights
  A.get(sums).set(q).get(sums).i32(8 * k * d).op(I32_ADD).set(end);
  A.block((exit) => A.loop((top) => {
    A.get(q).get(end).op(I32_GE_U).brIf(exit);
    A.get(q).f64(0).f64Store().inc(q, 8).br(top);
  }));
  A.get(cw).set(q).get(cw).i32(8 * k).op(I32_ADD).set(end);
  A.block((exit) => A.loop((top) => {
    A.get(q).get(end).op(I32_GE_U).brIf(exit);
    A.get(q).f64(0).f64Store().inc(q, 8).br(top);
  }));
  A.each(i, n, (next) => {
    if (weighted) {
      A.addr(w, i, 3).f64Load().set(wi);
      A.get(wi).f64(0).op(F64_EQ).brIf(next);
    } else {
      A.f64(1).set(wi);
    }
    A.addr(labels, i, 2).i32Load().set(a);
    A.addr(cw, a, 3).addr(cw, a, 3).f64Load().get(wi).op(F64_ADD).f64Store();
    A.get(x).get(i).i32(8 * d).op(I32_MUL).op(I32_ADD).set(xo);
    A.get(sums).get(a).i32(8 * d).op(I32_MUL).op(I32_ADD).set(so);
    A.get(wi).simd(F64X2_SPLAT).set(wv);
    for (let p = 0; p < d >> 1; p++) {
      A.get(so).get(so).v128Load(16 * p);
      if (weighted) A.get(wv);
      A.get(xo).v128Load(16 * p);
      if (weighted) A.simd(F64X2_MUL);
      A.simd(F64X2_ADD).v128Store(16 * p);
    }
    if (d & 1) {
      A.get(so).get(so).f64Load(8 * (d - 1));
      if (weighted) A.get(wi);
      A.get(xo).f64Load(8 * (d - 1));
      if (weighted) A.op(F64_MUL);
      A.op(F64_ADD).f64Store(8 * (d - 1));
    }
  });
  return A;
}

/** sqrtAll(p, count): p[i] = √p[i], two at a time (count even: buffers are padded to 16 bytes). */
function asmSqrtAll(): Asm {
  const A = new Asm([I32, I32], []);
  const [p, count] = [0, 1];
  const end = A.local(I32);
  A.get(p).get(count).i32(3).op(I32_SHL).op(I32_ADD).set(end);
  A.block((exit) => A.loop((top) => {
    A.get(p).get(end).op(I32_GE_U).brIf(exit);
    A.get(p).get(p).v128Load().simd(F64X2_SQRT).v128Store().inc(p, 16).br(top);
  }));
  return A;
}

interface WasmKernels {
  seedFirst(x: number, n: number, c: number, dist2: number, second2: number, labels: number, w: number, cum: number): number;
  seedTrials(x: number, n: number, cands: number, dist2: number, w: number, gains: number): void;
  hamerly(x: number, n: number, centers: number, labels: number, upper: number, lower: number, half: number, shift: number, m1: number, m2: number, top: number, w: number, sums: number, cw: number, track: number, list: number): number;
  inertia(x: number, n: number, centers: number, labels: number, w: number): number;
  seedUpdate(x: number, n: number, cand: number, c: number, dist2: number, second2: number, labels: number, w: number, cum: number): number;
  accumulate(x: number, n: number, labels: number, w: number, sums: number, cw: number): void;
  sqrtAll(p: number, count: number): void;
}

function buildModule(d: number, k: number, trials: number, weighted: boolean): Uint8Array {
  const fns = [
    asmSeedFirst(d, weighted), asmSeedTrials(d, trials, weighted), asmHamerly(d, k, weighted), asmInertia(d, weighted),
    asmSeedUpdate(d, weighted), asmAccumulate(d, k, weighted), asmSqrtAll(),
  ];
  const names = ['seedFirst', 'seedTrials', 'hamerly', 'inertia', 'seedUpdate', 'accumulate', 'sqrtAll'];
  return moduleBytes(fns, names.map((s, i) => [s, i]));
}

/** Compiled modules by (cols, k, trials, weighted), per thread: a fit compiles once, restarts reuse. */
const modules = new Map<string, object>();

function kernelsFor(memory: SharedWasmMemory, d: number, k: number, trials: number, weighted: boolean): WasmKernels {
  const key = `${d}:${k}:${trials}:${weighted}`;
  let mod = modules.get(key);
  if (!mod) {
    mod = compileModule(buildModule(d, k, trials, weighted)); // callers check wasmFits first
    modules.set(key, mod);
  }
  return instantiate<WasmKernels>(mod, memory);
}

// ---------------------------------------------------------------------------------------------
// The buffers of a fit. With WebAssembly they are views into one shared memory laid out as
// [x | w | work of thread 0 | work of thread 1 | ...]; without, plain typed arrays.

/** Byte offsets of one thread's buffers, relative to the start of its work area. */
interface WorkLayout {
  readonly labels: number; readonly upper: number; readonly lower: number; readonly cum: number;
  readonly centers: number; readonly half: number;
  readonly shift: number; readonly cand: number; readonly gains: number; readonly sums: number; readonly cw: number;
  readonly bytes: number;
}

const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

function workLayout(n: number, d: number, k: number, trials: number): WorkLayout {
  let bytes = 0;
  const take = (size: number): number => { const at = bytes; bytes += align16(size); return at; };
  const at = {
    labels: take(4 * n), upper: take(8 * n), lower: take(8 * n), cum: take(8 * n),
    centers: take(8 * k * d), half: take(8 * k), shift: take(8 * k), cand: take(4 * trials), gains: take(8 * trials), sums: take(8 * k * d), cw: take(8 * k),
  };
  return { ...at, bytes };
}

/** Where x, w and the work areas sit in a fit's memory. */
interface MemoryPlan { readonly x: number; readonly w: number; readonly work: number; readonly workBytes: number; readonly bytes: number }

function memoryPlan(n: number, d: number, k: number, trials: number, threads: number, weighted: boolean): MemoryPlan {
  // unweighted fits need no weights in memory: their kernels multiply by nothing
  const x = 0, w = align16(8 * n * d), work = w + (weighted ? align16(8 * n) : 0);
  const workBytes = workLayout(n, d, k, trials).bytes;
  return { x, w, work, workBytes, bytes: work + threads * workBytes };
}

/** Whether the WebAssembly kernels can run this fit. */
function wasmFits(plan: MemoryPlan, d: number): boolean {
  return wasmAvailable && d <= MAX_WASM_COLS && plan.bytes <= MAX_WASM_BYTES;
}

/** The memory and addresses a Work lives at, when it runs on WebAssembly. */
interface Placement { readonly memory: SharedWasmMemory; readonly plan: MemoryPlan; readonly thread: number }

/** Reusable buffers of one fit (or of one thread of a parallel fit): allocated once, shared by restarts. */
interface Work {
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly trials: number;
  readonly x: Float64Array;
  readonly w: Float64Array;
  readonly labels: Int32Array;
  /** k-means++: squared distance to the closest chosen centre; Lloyd: upper bound on the distance to the own centre */
  readonly upper: Float64Array;
  /** k-means++: squared distance to the second-closest chosen centre; Lloyd: lower bound on the distance to the second-closest centre */
  readonly lower: Float64Array;
  /** k-means++: running sum of weight·D²; afterwards the Hamerly kernel's scratch list of rows */
  readonly cum: Float64Array;
  readonly centers: Float64Array;
  /** half the distance from each centre to its closest other centre */
  readonly half: Float64Array;
  /** how far each centre moved in the last M-step */
  readonly shift: Float64Array;
  /** k-means++ candidates: byte addresses of their rows (WebAssembly) */
  readonly cand: Int32Array;
  readonly gains: Float64Array;
  /** k-means++ candidates: row indices */
  readonly candRows: Int32Array;
  readonly sums: Float64Array;
  readonly cw: Float64Array;
  /** the kernels and the byte addresses of x, w and this work area's buffers; null: JavaScript */
  readonly wasm: { readonly fns: WasmKernels; readonly x: number; readonly w: number; readonly at: WorkLayout; readonly base: number } | null;
}

function makeWork(x: Float64Array, w: Float64Array, n: number, d: number, k: number, trials: number, weighted: boolean, place: Placement | null): Work {
  const common = { n, d, k, trials, candRows: new Int32Array(trials) };
  if (place === null) {
    return {
      ...common, x, w, wasm: null,
      labels: new Int32Array(n), upper: new Float64Array(n), lower: new Float64Array(n), cum: new Float64Array(n),
      centers: new Float64Array(k * d),
      half: new Float64Array(k), shift: new Float64Array(k), cand: new Int32Array(trials), gains: new Float64Array(trials),
      sums: new Float64Array(k * d), cw: new Float64Array(k),
    };
  }
  const { memory, plan, thread } = place;
  const buf = memory.buffer, at = workLayout(n, d, k, trials), base = plan.work + thread * plan.workBytes;
  const f64 = (off: number, len: number): Float64Array => new Float64Array(buf, base + off, len);
  const i32 = (off: number, len: number): Int32Array => new Int32Array(buf, base + off, len);
  return {
    ...common,
    x: new Float64Array(buf, plan.x, n * d), w: weighted ? new Float64Array(buf, plan.w, n) : w,
    labels: i32(at.labels, n), upper: f64(at.upper, n), lower: f64(at.lower, n), cum: f64(at.cum, n),
    centers: f64(at.centers, k * d),
    half: f64(at.half, k), shift: f64(at.shift, k), cand: i32(at.cand, trials), gains: f64(at.gains, trials),
    sums: f64(at.sums, k * d), cw: f64(at.cw, k),
    wasm: { fns: kernelsFor(memory, d, k, trials, weighted), x: plan.x, w: plan.w, at, base },
  };
}

/** A one-thread Work for X: on WebAssembly when it fits (X and the weights are copied into its memory). */
function workFor(X: Matrix, w: Float64Array, k: number, trials: number, weighted: boolean): Work {
  const n = X.rows, d = X.cols;
  const plan = memoryPlan(n, d, k, trials, 1, weighted);
  if (!wasmFits(plan, d)) return makeWork(X.data, w, n, d, k, trials, weighted, null);
  const memory = sharedMemory(plan.bytes);
  new Float64Array(memory.buffer, plan.x, n * d).set(X.data);
  if (weighted) new Float64Array(memory.buffer, plan.w, n).set(w);
  return makeWork(X.data, w, n, d, k, trials, weighted, { memory, plan, thread: 0 });
}

// JavaScript twins of the kernels: the same arithmetic in the same order.

function seedFirstJs(work: Work, first: number): number {
  const { n, d, x, w, labels, upper: dist2, lower: second2, cum } = work;
  let running = 0;
  for (let i = 0, o = 0, q = first * d; i < n; i++, o += d) {
    const s = sqDist(x, o, x, q, d);
    dist2[i] = s;
    second2[i] = Infinity;
    labels[i] = 0;
    running += w[i] * s;
    cum[i] = running;
  }
  return running;
}

function seedTrialsJs(work: Work): void {
  const { n, d, x, w, upper: dist2, candRows, gains, trials } = work;
  gains.fill(0);
  for (let i = 0, o = 0; i < n; i++, o += d) {
    const di = dist2[i], wi = w[i];
    for (let t = 0; t < trials; t++) gains[t] += Math.max(di - sqDist(x, o, x, candRows[t] * d, d), 0) * wi;
  }
}

/**
 * Hamerly's E-step (the twin of the WebAssembly kernel). A row whose upper bound u on the distance
 * to its centre is at most max(lower bound on the second-closest, half the distance from its centre to
 * the nearest other centre) keeps its label unexamined; otherwise u is made exact, and if that does
 * not settle it the row is compared with every centre.
 */
function hamerlyJs(work: Work, m1: number, m2: number, top: number, track: boolean): number {
  const { n, d, k, x, labels, upper, lower, centers, half, shift } = work;
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const a = labels[i];
    let u = upper[i] + shift[a];
    const l = lower[i] - (a === top ? m2 : m1);
    const m = Math.max(l, half[a]);
    if (u <= m) { upper[i] = u; lower[i] = l; continue; }
    const o = i * d;
    u = Math.sqrt(sqDist(x, o, centers, a * d, d));
    if (u <= m) { upper[i] = u; lower[i] = l; continue; }
    let b1 = Infinity, b2 = Infinity, j1 = 0;
    for (let j = 0; j < k; j++) {
      const s = sqDist(x, o, centers, j * d, d);
      if (s < b1) { b2 = b1; b1 = s; j1 = j; } else b2 = Math.min(b2, s);
    }
    upper[i] = Math.sqrt(b1);
    lower[i] = Math.sqrt(b2);
    if (j1 !== a) {
      labels[i] = j1;
      changed++;
      if (track) move(work, i, a, j1);
    }
  }
  return changed;
}

function inertiaJs(work: Work): number {
  const { n, d, x, w, labels, centers } = work;
  let total = 0;
  for (let i = 0, o = 0; i < n; i++, o += d) total += w[i] * sqDist(x, o, centers, labels[i] * d, d);
  return total;
}

/** k exceeds the distinct rows; carries their number across threads. */
class DistinctError extends RangeError {
  constructor(readonly k: number, readonly distinct: number, weighted: boolean) {
    const rows = weighted ? 'distinct rows with positive weight' : 'distinct rows';
    super(`k=${k} is larger than the number of ${rows} (${distinct}); choose k ≤ ${distinct}`);
    this.name = 'RangeError';
  }
}

/** The first index whose cumulative potential exceeds r (scikit-learn's searchsorted on the cumsum). */
function searchCumulative(cum: Float64Array, r: number): number {
  let lo = 0, hi = cum.length - 1;
  if (!(cum[hi] > r)) {
    // rounding left r at the very top: take the last row that adds potential
    while (hi > 0 && cum[hi - 1] === cum[hi]) hi--;
    return hi;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > r) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/**
 * Greedy k-means++ into work.centers, as scikit-learn's `_kmeans_plusplus` (with its ≥ 1.3 sample
 * weights): the first centre is a row drawn with probability ∝ weight; each further centre is the best
 * of `trials` candidates drawn ∝ weight·D², the one that leaves the smallest potential Σ weight·D².
 * All candidates are scored in one pass over the data, keeping each one's D² so that taking the winner
 * needs no distances. (Skipping rows by the triangle inequality was measured slower: the branch costs
 * more than the distances it saves.)
 * Leaves labels = nearest chosen centre and upper = squared distance to it (the first E-step, for
 * free) and lower = squared distance to the second-nearest (Hamerly's first lower bound).
 * Returns the chosen row indices. Throws a DistinctError when the potential runs out before k centres.
 */
function seedPlusPlus(work: Work, rng: Rng, weighted: boolean): Int32Array {
  const { n, d, k, trials, x, w, cum, centers, candRows, cand, gains, wasm } = work;
  const indices = new Int32Array(k);
  let running = 0;
  for (let i = 0; i < n; i++) { running += w[i]; cum[i] = running; }
  const first = searchCumulative(cum, rng.next() * running);
  indices[0] = first;
  centers.set(x.subarray(first * d, first * d + d), 0);
  running = wasm
    ? wasm.fns.seedFirst(wasm.x, n, wasm.base + wasm.at.centers, wasm.base + wasm.at.upper, wasm.base + wasm.at.lower, wasm.base + wasm.at.labels, wasm.w, wasm.base + wasm.at.cum)
    : seedFirstJs(work, first);
  for (let c = 1; c < k; c++) {
    const pot = running;
    if (!(pot > 0)) throw new DistinctError(k, c, weighted);
    for (let t = 0; t < trials; t++) candRows[t] = searchCumulative(cum, rng.next() * pot);
    if (wasm) {
      for (let t = 0; t < trials; t++) cand[t] = wasm.x + 8 * d * candRows[t];
      wasm.fns.seedTrials(wasm.x, n, wasm.base + wasm.at.cand, wasm.base + wasm.at.upper, wasm.w, wasm.base + wasm.at.gains);
    } else {
      seedTrialsJs(work);
    }
    let bt = 0;
    for (let t = 1; t < trials; t++) if (gains[t] > gains[bt]) bt = t;
    const chosen = candRows[bt];
    indices[c] = chosen;
    centers.set(x.subarray(chosen * d, chosen * d + d), c * d);
    running = wasm
      ? wasm.fns.seedUpdate(wasm.x, n, wasm.x + 8 * d * chosen, c, wasm.base + wasm.at.upper, wasm.base + wasm.at.lower, wasm.base + wasm.at.labels, wasm.w, wasm.base + wasm.at.cum)
      : seedUpdateJs(work, chosen, c);
  }
  return indices;
}

function seedUpdateJs(work: Work, chosen: number, c: number): number {
  const { n, d, x, w, labels, upper: dist2, lower: second2, cum } = work;
  let running = 0;
  for (let i = 0; i < n; i++) {
    const di = dist2[i], v = sqDist(x, i * d, x, chosen * d, d);
    if (v < di) { second2[i] = di; dist2[i] = v; labels[i] = c; running += w[i] * v; }
    else { second2[i] = Math.min(second2[i], v); running += w[i] * di; }
    cum[i] = running;
  }
  return running;
}

/** Per-cluster weighted sums and weights of the points, from scratch. */
function accumulate(work: Work): void {
  const { wasm } = work;
  if (wasm) wasm.fns.accumulate(wasm.x, work.n, wasm.base + wasm.at.labels, wasm.w, wasm.base + wasm.at.sums, wasm.base + wasm.at.cw);
  else accumulateJs(work);
}

function accumulateJs(work: Work): void {
  const { n, d, x, w, labels, sums, cw } = work;
  sums.fill(0);
  cw.fill(0);
  for (let i = 0, o = 0; i < n; i++, o += d) {
    const wi = w[i];
    if (wi === 0) continue;
    const a = labels[i], p = a * d;
    cw[a] += wi;
    for (let f = 0; f < d; f++) sums[p + f] += wi * x[o + f];
  }
}

/** Moves point i's weight from cluster a to b in the running sums. */
function move(work: Work, i: number, a: number, b: number): void {
  const { d, x, w, sums, cw } = work;
  const wi = w[i];
  cw[a] -= wi;
  cw[b] += wi;
  for (let f = 0, o = i * d, pa = a * d, pb = b * d; f < d; f++) {
    const v = wi * x[o + f];
    sums[pa + f] -= v;
    sums[pb + f] += v;
  }
}

/**
 * scikit-learn's empty-cluster relocation: each cluster left without weight takes the (positive-weight)
 * point farthest from its current centre, in decreasing order of distance. Returns how many points moved.
 */
function relocateEmpty(work: Work): number {
  const { n, d, k, x, w, labels, cw, centers, upper, lower } = work;
  const empty: number[] = [];
  for (let j = 0; j < k; j++) if (!(cw[j] > 0)) empty.push(j);
  if (empty.length === 0) return 0;
  const far = new Float64Array(n);
  for (let i = 0, o = 0; i < n; i++, o += d) {
    // a point alone in its cluster stays: moving it would only empty another cluster
    far[i] = w[i] === 0 || cw[labels[i]] <= w[i] ? -1 : sqDist(x, o, centers, labels[i] * d, d);
  }
  const order = Array.from(far.keys()).filter((i) => far[i] >= 0).sort((a, b) => far[b] - far[a] || a - b);
  let moved = 0;
  for (const j of empty) {
    const i = order[moved];
    if (i === undefined) break;
    moved++;
    move(work, i, labels[i], j);
    labels[i] = j;
    upper[i] = Infinity; // its bounds no longer hold: re-examine it fully next time
    lower[i] = 0;
  }
  return moved;
}

/** M-step: centres = sums / weights; shift[j] = how far centre j moved. Returns Σ shift². */
function updateCenters(work: Work): number {
  const { d, k, centers, sums, cw, shift } = work;
  let total = 0;
  for (let j = 0; j < k; j++) {
    const p = j * d;
    if (!(cw[j] > 0)) { shift[j] = 0; continue; } // only when relocation found nothing to move: keep the centre
    const inv = 1 / cw[j];
    let s = 0;
    for (let f = 0; f < d; f++) {
      const c = sums[p + f] * inv;
      const t = c - centers[p + f];
      s += t * t;
      centers[p + f] = c;
    }
    shift[j] = Math.sqrt(s);
    total += s;
  }
  return total;
}

/** half[j] = ½ · distance from centre j to its nearest other centre. */
function halfNearest(work: Work): void {
  const { d, k, centers, half } = work;
  half.fill(Infinity);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const h = 0.5 * Math.sqrt(sqDist(centers, a * d, centers, b * d, d));
      if (h < half[a]) half[a] = h;
      if (h < half[b]) half[b] = h;
    }
  }
}

/**
 * Hamerly's E-step with the bounds first moved by the last M-step's shifts: a row's lower bound drops
 * by the largest shift among the other centres. Updates labels (and the running sums when `track`);
 * returns how many labels changed.
 */
function assignHamerly(work: Work, track: boolean): number {
  const { k, shift, wasm } = work;
  let m1 = 0, m2 = 0, top = -1;
  for (let j = 0; j < k; j++) {
    const s = shift[j];
    if (s > m1) { m2 = m1; m1 = s; top = j; } else if (s > m2) m2 = s;
  }
  if (!wasm) return hamerlyJs(work, m1, m2, top, track);
  const at = (off: number): number => wasm.base + off;
  return wasm.fns.hamerly(wasm.x, work.n, at(wasm.at.centers), at(wasm.at.labels), at(wasm.at.upper), at(wasm.at.lower), at(wasm.at.half),
    at(wasm.at.shift), m1, m2, top, wasm.w, at(wasm.at.sums), at(wasm.at.cw), track ? 1 : 0, at(wasm.at.cum) /* free after seeding */);
}

/** Plain Lloyd E-step: every point against every centre, in JavaScript. Returns how many labels changed. */
function assignLloyd(work: Work): number {
  const { n, d, k, x, labels, centers } = work;
  let changed = 0;
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let best = Infinity, bj = 0;
    for (let j = 0; j < k; j++) {
      const s = sqDist(x, o, centers, j * d, d);
      if (s < best) { best = s; bj = j; }
    }
    if (labels[i] !== bj) { labels[i] = bj; changed++; }
  }
  return changed;
}

function inertiaOf(work: Work): number {
  const { wasm } = work;
  return wasm ? wasm.fns.inertia(wasm.x, work.n, wasm.base + wasm.at.centers, wasm.base + wasm.at.labels, wasm.w) : inertiaJs(work);
}

/** One k-means run from the seeding in work (labels, and squared distance bounds in upper and lower). */
function lloydRun(work: Work, algorithm: 'lloyd' | 'hamerly', maxIter: number, absTol: number): KMeansRun {
  const { n, upper, lower, wasm } = work;
  const hamerly = algorithm === 'hamerly';
  if (hamerly && wasm) {
    wasm.fns.sqrtAll(wasm.base + wasm.at.upper, n);
    wasm.fns.sqrtAll(wasm.base + wasm.at.lower, n);
  } else if (hamerly) {
    for (let i = 0; i < n; i++) { upper[i] = Math.sqrt(upper[i]); lower[i] = Math.sqrt(lower[i]); }
  }
  // many moved points: a fresh sum is cheaper than incremental updates and stops rounding drift
  const recomputeAbove = n >>> 3;
  let changed = n; // the seeding's assignment is the first E-step; all labels are new
  let converged = false, strict = false, iter = 0;
  while (iter < maxIter) {
    if (iter > 0) {
      changed = hamerly ? assignHamerly(work, true) : assignLloyd(work);
      if (!hamerly || changed > recomputeAbove) accumulate(work);
    } else {
      accumulate(work);
    }
    iter++;
    changed += relocateEmpty(work);
    const shift2 = updateCenters(work);
    if (iter > 1 && changed === 0) { converged = strict = true; break; }
    if (shift2 <= absTol) { converged = true; break; }
    if (hamerly) halfNearest(work);
  }
  if (!strict) {
    // the labels must belong to the final centres (scikit-learn reruns the E-step too)
    if (hamerly) { halfNearest(work); assignHamerly(work, false); } else assignLloyd(work);
  }
  return { inertia: inertiaOf(work), nIter: iter, converged };
}

/** scikit-learn's number of local seeding trials: 2 + ⌊ln k⌋. */
export function localTrials(k: number): number {
  return 2 + Math.floor(Math.log(k));
}

/**
 * k-means++ seeding alone (greedy, 2 + ⌊ln k⌋ candidates per centre, as scikit-learn): the k chosen
 * row indices and their coordinates (k × cols). Throws a RangeError when k exceeds the number of
 * distinct rows with positive weight.
 */
export function kmeansPlusPlus(X: Matrix, params: { k: number; seed?: number; sampleWeight?: ArrayLike<number>; nLocalTrials?: number }): { indices: Int32Array; centers: Float64Array } {
  checkX(X);
  checkInt('k', params.k, 1, X.rows, ` (the number of rows of X)`);
  const trials = params.nLocalTrials ?? localTrials(params.k);
  checkInt('nLocalTrials', trials, 1);
  const w = checkWeights(params.sampleWeight, X.rows), weighted = params.sampleWeight !== undefined;
  const work = workFor(X, w, params.k, trials, weighted);
  const indices = seedPlusPlus(work, createRng(params.seed ?? DEFAULTS.seed), weighted);
  return { indices, centers: work.centers.slice() };
}

interface Resolved {
  readonly k: number;
  readonly nInit: number;
  readonly maxIter: number;
  readonly tol: number;
  readonly seed: number;
  readonly algorithm: Exclude<KMeansAlgorithm, 'auto'>;
  readonly weighted: boolean;
  readonly w: Float64Array;
  readonly absTol: number;
}

function resolve(X: Matrix, params: KMeansParams): Resolved {
  checkX(X);
  const { k } = params;
  checkInt('k', k, 1, X.rows, ' (the number of rows of X)');
  const nInit = params.nInit ?? DEFAULTS.nInit;
  checkInt('nInit', nInit, 1);
  const maxIter = params.maxIter ?? DEFAULTS.maxIter;
  checkInt('maxIter', maxIter, 1);
  const tol = params.tol ?? DEFAULTS.tol;
  if (!Number.isFinite(tol) || tol < 0) throw new RangeError(`tol must be a finite number ≥ 0, got ${tol}`);
  const seed = params.seed ?? DEFAULTS.seed;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const requested = params.algorithm ?? DEFAULTS.algorithm;
  if (requested !== 'auto' && requested !== 'lloyd' && requested !== 'hamerly') {
    throw new RangeError(`algorithm must be 'auto', 'lloyd' or 'hamerly', got ${JSON.stringify(requested)}`);
  }
  const algorithm = requested === 'auto' ? 'hamerly' : requested;
  const w = checkWeights(params.sampleWeight, X.rows);
  return { k, nInit, maxIter, tol, seed, algorithm, weighted: params.sampleWeight !== undefined, w, absTol: absoluteTolerance(X, tol) };
}

/** Restart r: k-means++ from createRng(seed).fork(r), then Lloyd iterations. Leaves centres and labels in work. */
function restart(work: Work, r: number, p: Pick<Resolved, 'seed' | 'algorithm' | 'weighted' | 'maxIter' | 'absTol'>): KMeansRun {
  seedPlusPlus(work, createRng(p.seed).fork(r), p.weighted);
  return lloydRun(work, p.algorithm, p.maxIter, p.absTol);
}

/** The model from the kept run; runs[best] is it. */
function toModel(X: Matrix, p: Resolved, runs: KMeansRun[], best: number, centers: Float64Array, labels: Int32Array): KMeansModel {
  const { k, nInit, maxIter, tol, seed, algorithm, weighted, w, absTol } = p;
  const clusterWeights = new Float64Array(k);
  for (let i = 0; i < X.rows; i++) clusterWeights[labels[i]] += w[i];
  const run = runs[best];
  return {
    k, cols: X.cols, centers, inertia: run.inertia, nIter: run.nIter, converged: run.converged, labels, clusterWeights, runs,
    params: { k, nInit, maxIter, tol, seed, algorithm, weighted, absoluteTol: absTol },
  };
}

/**
 * Fits k-means: `nInit` runs of k-means++ seeding followed by Lloyd iterations (until the labels stop
 * changing, the squared centre shift falls within tol, or `maxIter`), keeping the run with the lowest
 * inertia (the first one on a tie). Restart r draws from `createRng(seed).fork(r)`, so runs are
 * reproducible and independent of each other, and fitKMeansParallel gives the very same model.
 *
 * Throws a RangeError for: an empty X, NaN/±Infinity anywhere in X, bad parameters, weights that are
 * negative, non-finite or all zero, and k larger than the number of distinct rows with positive weight
 * (scikit-learn would return duplicate centres with a ConvergenceWarning; a segment model with fewer
 * real segments than it claims is a bug upstream, so Floyo refuses).
 */
export function fitKMeans(X: Matrix, params: KMeansParams): KMeansModel {
  const p = resolve(X, params);
  const work = workFor(X, p.w, p.k, localTrials(p.k), p.weighted);
  const runs: KMeansRun[] = [];
  let best = 0;
  const centers = new Float64Array(p.k * X.cols), labels = new Int32Array(X.rows);
  for (let r = 0; r < p.nInit; r++) {
    const run = restart(work, r, p);
    runs.push(run);
    if (r === 0 || run.inertia < runs[best].inertia) {
      best = r;
      centers.set(work.centers);
      labels.set(work.labels);
    }
  }
  return toModel(X, p, runs, best, centers, labels);
}

/** Arguments of the restart kernel: shared arrays in, per-restart results out. */
type RestartArgs = {
  /** the fit's memory ([x | w | one work area per thread]); a one-page stand-in when `wasm` is false */
  readonly memory: SharedWasmMemory;
  readonly wasm: boolean;
  /** X and the weights on shared memory (views into `memory` when `wasm`) */
  readonly x: Float64Array;
  readonly w: Float64Array;
  readonly rows: number;
  readonly cols: number;
  readonly k: number;
  readonly seed: number;
  readonly algorithm: string;
  readonly weighted: boolean;
  readonly maxIter: number;
  readonly absTol: number;
  /** nInit × k × cols: each restart's centres */
  readonly centers: Float64Array;
  /** nInit × 5: inertia, nIter, converged (0/1), thread, distinct rows when k exceeded them (else 0) */
  readonly stats: Float64Array;
  /** threads × rows: the labels of each thread's best restart so far */
  readonly labels: Int32Array;
  /** threads: the inertia of each thread's best restart so far */
  readonly bestInertia: Float64Array;
};

const STATS = 5;

/**
 * The pool kernel of fitKMeansParallel: runs restarts [start, end) on one thread. Exported for the
 * worker threads, which import it by name; not part of the API.
 */
export function kmeansRestartKernel(args: RestartArgs, start: number, end: number, thread: number): void {
  const { rows: n, cols: d, k, stats } = args;
  const algorithm = args.algorithm as Resolved['algorithm'];
  const trials = localTrials(k);
  const place = args.wasm ? { memory: args.memory, plan: memoryPlan(n, d, k, trials, 0, args.weighted), thread } : null;
  const work = makeWork(args.x, args.w, n, d, k, trials, args.weighted, place);
  for (let r = start; r < end; r++) {
    let run: KMeansRun;
    try {
      run = restart(work, r, { ...args, algorithm });
    } catch (e) {
      if (!(e instanceof DistinctError)) throw e;
      stats[r * STATS + 4] = e.distinct;
      return;
    }
    args.centers.set(work.centers, r * k * d);
    stats.set([run.inertia, run.nIter, run.converged ? 1 : 0, thread, 0], r * STATS);
    // a thread runs its restarts in increasing order, so its best is also the first of equals
    if (run.inertia < args.bestInertia[thread]) {
      args.bestInertia[thread] = run.inertia;
      args.labels.set(work.labels, thread * n);
    }
  }
}

const restartKernel: Kernel<RestartArgs> = { module: import.meta.url, name: 'kmeansRestartKernel', fn: kmeansRestartKernel };

/** Where fitKMeansParallel runs. */
export interface ParallelOptions {
  /** a pool to run on (left open); without one, a pool of `threads` is made for this call and closed */
  readonly pool?: Pool;
  /** threads of the pool made for this call; default the machine's cores */
  readonly threads?: number;
}

/**
 * fitKMeans with the restarts spread over worker threads, each restart whole on one thread, X shared
 * (copied once into shared memory). Returns the same model as fitKMeans, bit for bit. Pays when
 * nInit ≥ 2 and the data is large; a long-lived pool saves starting the workers on every call.
 */
export async function fitKMeansParallel(X: Matrix, params: KMeansParams, options: ParallelOptions = {}): Promise<KMeansModel> {
  const p = resolve(X, params);
  const { k, nInit } = p;
  const n = X.rows, d = X.cols, trials = localTrials(k);
  return withPool(options.pool, options.threads ?? defaultThreads(), async (pool) => {
    const plan = memoryPlan(n, d, k, trials, pool.threads, p.weighted);
    const wasm = wasmFits(plan, d);
    const memory = sharedMemory(wasm ? plan.bytes : WASM_PAGE);
    const x = wasm ? new Float64Array(memory.buffer, plan.x, n * d) : sharedArray(Float64Array, n * d);
    const w = wasm && p.weighted ? new Float64Array(memory.buffer, plan.w, n) : sharedArray(Float64Array, n);
    x.set(X.data);
    w.set(p.w);
    const args: RestartArgs = {
      memory, wasm, x, w, rows: n, cols: d, k, seed: p.seed, algorithm: p.algorithm, weighted: p.weighted,
      maxIter: p.maxIter, absTol: p.absTol,
      centers: sharedArray(Float64Array, nInit * k * d), stats: sharedArray(Float64Array, nInit * STATS),
      labels: sharedArray(Int32Array, pool.threads * n), bestInertia: sharedArray(Float64Array, pool.threads).fill(Infinity),
    };
    await pool.parallelFor(restartKernel, nInit, args, { chunk: 1 });
    const { stats } = args;
    for (let r = 0; r < nInit; r++) if (stats[r * STATS + 4] > 0) throw new DistinctError(k, stats[r * STATS + 4], p.weighted);
    const runs: KMeansRun[] = [];
    let best = 0;
    for (let r = 0; r < nInit; r++) {
      runs.push({ inertia: stats[r * STATS], nIter: stats[r * STATS + 1], converged: stats[r * STATS + 2] === 1 });
      if (runs[r].inertia < runs[best].inertia) best = r;
    }
    const thread = stats[best * STATS + 3];
    const centers = args.centers.slice(best * k * d, (best + 1) * k * d);
    const labels = args.labels.slice(thread * n, (thread + 1) * n);
    return toModel(X, p, runs, best, centers, labels);
  });
}

/** The nearest centre of each row of X (ties go to the lower cluster index). */
export function predictKMeans(model: Pick<KMeansModel, 'k' | 'cols' | 'centers'>, X: Matrix): Int32Array {
  const { k, cols: d, centers } = model;
  if (X.cols !== d) throw new RangeError(`X has ${X.cols} columns but the model was fitted on ${d}`);
  if (centers.length !== k * d) throw new RangeError(`model has ${centers.length} centre values, expected k×cols = ${k * d}`);
  assertFinite(X.data, Math.max(1, X.cols), 'X');
  const n = X.rows, x = X.data, out = new Int32Array(n);
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let best = Infinity, bj = 0;
    for (let j = 0; j < k; j++) {
      const s = sqDist(x, o, centers, j * d, d);
      if (s < best) { best = s; bj = j; }
    }
    out[i] = bj;
  }
  return out;
}

export interface ChooseKParams extends Omit<KMeansParams, 'k'> {
  /** smallest k tried, ≥ 2 (the silhouette needs two clusters) */
  readonly kMin: number;
  /** largest k tried, ≤ rows − 1 */
  readonly kMax: number;
  /**
   * Rows the silhouette is computed on: exact (all rows) when the data has at most this many, else a
   * seeded sample of this size, the same sample for every k so the scores compare. Default 10 000.
   */
  readonly silhouetteSampleSize?: number;
}

export interface KScore {
  readonly k: number;
  readonly silhouette: number;
  readonly inertia: number;
  readonly nIter: number;
  readonly converged: boolean;
}

export interface ChooseKResult {
  /** the k with the highest silhouette (the smaller k on a tie) */
  readonly k: number;
  readonly model: KMeansModel;
  /** one entry per k tried, in increasing k */
  readonly scores: readonly KScore[];
  /** rows the silhouette was computed on (all rows when exact) */
  readonly silhouetteRows: number;
}

/**
 * Fits k-means for each k in [kMin, kMax] and picks the k with the best mean silhouette. Never by
 * inertia: inertia always falls as k grows. The silhouette ignores sampleWeight (each row counts once).
 * `onK` is told each k before its fit.
 */
export function chooseK(X: Matrix, params: ChooseKParams, onK?: (k: number) => void): ChooseKResult {
  checkX(X);
  const { kMin, kMax } = params;
  checkInt('kMin', kMin, 2, Infinity, ' (a silhouette needs at least two clusters)');
  if (X.rows < 3) throw new RangeError(`chooseK needs at least 3 rows (k from 2 to rows − 1), X has ${X.rows}`);
  checkInt('kMax', kMax, kMin, X.rows - 1, ' (from kMin to rows − 1)');
  const sampleSize = params.silhouetteSampleSize ?? 10_000;
  checkInt('silhouetteSampleSize', sampleSize, 2);
  const seed = params.seed ?? DEFAULTS.seed;
  const scores: KScore[] = [];
  let best: { k: number; silhouette: number; model: KMeansModel } | null = null;
  for (let k = kMin; k <= kMax; k++) {
    onK?.(k);
    const model = fitKMeans(X, { ...params, k });
    // the sample depends only on (rows, size, seed): every k is scored on the same rows
    const silhouette = silhouetteScore(X, model.labels, { sampleSize, seed });
    scores.push({ k, silhouette, inertia: model.inertia, nIter: model.nIter, converged: model.converged });
    if (best === null || silhouette > best.silhouette) best = { k, silhouette, model };
  }
  if (best === null) throw new RangeError('kMax must be ≥ kMin'); // unreachable after validation
  return { k: best.k, model: best.model, scores, silhouetteRows: Math.min(sampleSize, X.rows) };
}

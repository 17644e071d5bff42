// Binary logistic regression with an L2 (L-BFGS) or L1 / elastic-net (OWL-QN) penalty: the model behind
// churn risk. It minimises scikit-learn's objective, so on the same data it gives scikit-learn's coefficients.
import { assertFinite, type Matrix } from './matrix.js';
import { minimizeLbfgs, minimizeLbfgsAsync, minimizeOwlqn, minimizeOwlqnAsync, type LbfgsResult, type LbfgsStop } from './lbfgs.js';
import { defaultThreads, sharedArray, toShared, withPool, type Kernel, type Pool, type SharedWasmMemory } from './pool.js';
import {
  Asm, borrowMemory, compileModule, emitPairwiseDot, instantiate, loadVector, moduleBytes, pairwiseDot, returnMemory, sharedMemory, vectorRegs, wasmAvailable,
  WASM_PAGE, F64, F64_ADD, F64_MUL, F64X2_ADD, F64X2_MUL, F64X2_SPLAT, I32, V128,
} from './wasm.js';

/** Class weights: 'balanced' (n / (2·count of the class), counted without sample weights, as scikit-learn) or [weight of class 0, weight of class 1]. */
export type ClassWeight = 'balanced' | readonly [number, number];

/** Settings of fitLogistic; every one is optional. */
export interface LogisticParams {
  /** inverse regularisation strength, > 0; default 1 (as scikit-learn) */
  C?: number;
  /** stop when max_i |∂F/∂θ_i| ≤ tol, F the objective normalised by the total weight (see logisticObjective); default 1e-4 */
  tol?: number;
  /** most iterations of L-BFGS (or OWL-QN); default 100 (as scikit-learn) */
  maxIter?: number;
  /** default none (every class weighs 1) */
  classWeight?: ClassWeight | null;
  /** one weight ≥ 0 per row; default all 1 */
  sampleWeight?: ArrayLike<number> | null;
  /** fit an (unpenalised) intercept; default true */
  fitIntercept?: boolean;
  /** L-BFGS correction pairs; default 10 (as scikit-learn's L-BFGS-B) */
  memory?: number;
  /**
   * 'l2' (default), 'l1' or 'elasticnet', as scikit-learn: the penalty is ρ‖w‖₁ + (1 − ρ)/2·‖w‖²
   * with ρ = 0, 1 or l1Ratio. With an L1 part the fit uses OWL-QN, which handles the kink at 0 and
   * gives exact zeros; tol then bounds the pseudo-gradient.
   */
  penalty?: 'l2' | 'l1' | 'elasticnet';
  /** ρ ∈ [0, 1] for penalty 'elasticnet' (scikit-learn's l1_ratio); required there, not allowed otherwise */
  l1Ratio?: number;
  /**
   * Where the fit starts: the coefficients, then the intercept when fitIntercept (scikit-learn's warm_start).
   * Default 0. Along a path of C values each fit starting from the previous one's solution needs far fewer steps.
   */
  init?: ArrayLike<number> | null;
}

/** A fitted model: plain data. */
export interface LogisticModel {
  /** one coefficient per feature */
  readonly coef: Float64Array;
  /** 0 when fitIntercept is false */
  readonly intercept: number;
  readonly nFeatures: number;
  /** optimiser iterations and objective evaluations */
  readonly nIter: number;
  readonly nEval: number;
  /** true iff the gradient norm reached tol within maxIter; a model that did not converge is still returned, marked so */
  readonly converged: boolean;
  /** why the optimiser stopped ('gradient' is convergence) */
  readonly stop: LbfgsStop;
  /** max_i |∂f/∂θ_i| of the normalised objective at the solution (the pseudo-gradient's with an L1 part) */
  readonly gradNorm: number;
  /** the normalised objective at the solution: weighted mean log-loss + (ρ‖w‖₁ + (1 − ρ)/2·‖w‖²)/(C·Σweights) */
  readonly objective: number;
  /** the settings it was fitted with; class weights resolved to numbers */
  readonly params: {
    readonly C: number; readonly tol: number; readonly maxIter: number; readonly fitIntercept: boolean;
    readonly classWeight: readonly [number, number] | null; readonly penalty: 'l2' | 'l1' | 'elasticnet'; readonly l1Ratio: number;
  };
}

interface Resolved {
  C: number; tol: number; maxIter: number; fitIntercept: boolean; memory: number;
  classWeight: readonly [number, number] | null;
  penalty: 'l2' | 'l1' | 'elasticnet';
  /** ρ: the L1 share of the penalty */
  l1Ratio: number;
}

function resolveParams(params: LogisticParams): Resolved {
  const C = params.C ?? 1;
  const tol = params.tol ?? 1e-4;
  const maxIter = params.maxIter ?? 100;
  const fitIntercept = params.fitIntercept ?? true;
  const memory = params.memory ?? 10;
  if (typeof C !== 'number' || !Number.isFinite(C) || C <= 0) throw new RangeError(`logistic regression: C must be a finite number > 0, got ${C}`);
  if (typeof tol !== 'number' || !(tol >= 0) || !Number.isFinite(tol)) throw new RangeError(`logistic regression: tol must be a finite number ≥ 0, got ${tol}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new RangeError(`logistic regression: maxIter must be an integer ≥ 1, got ${maxIter}`);
  if (typeof fitIntercept !== 'boolean') throw new TypeError(`logistic regression: fitIntercept must be true or false, got ${String(fitIntercept)}`);
  if (!Number.isInteger(memory) || memory < 1) throw new RangeError(`logistic regression: memory must be an integer ≥ 1, got ${memory}`);
  const cw = params.classWeight ?? null;
  if (cw !== null && cw !== 'balanced') {
    if (!Array.isArray(cw) || cw.length !== 2 || !cw.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`logistic regression: classWeight must be 'balanced', null or [weight of class 0, weight of class 1] with finite weights ≥ 0, got ${JSON.stringify(cw)}`);
    }
  }
  const penalty = params.penalty ?? 'l2';
  if (penalty !== 'l2' && penalty !== 'l1' && penalty !== 'elasticnet') throw new RangeError(`logistic regression: penalty must be 'l2', 'l1' or 'elasticnet', got ${String(penalty)}`);
  const ratio = params.l1Ratio;
  if (penalty === 'elasticnet') {
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) throw new RangeError(`logistic regression: penalty 'elasticnet' needs l1Ratio in [0, 1], got ${ratio}`);
  } else if (ratio !== undefined) {
    throw new RangeError(`logistic regression: l1Ratio applies only with penalty 'elasticnet', not '${penalty}'`);
  }
  const l1Ratio = penalty === 'l1' ? 1 : penalty === 'elasticnet' ? (ratio as number) : 0;
  return { C, tol, maxIter, fitIntercept, memory, classWeight: cw === 'balanced' ? null : cw, penalty, l1Ratio };
}

function checkMatrix(X: Matrix, what: string): void {
  if (!X || !(X.data instanceof Float64Array) || !Number.isInteger(X.rows) || !Number.isInteger(X.cols) || X.data.length !== X.rows * X.cols) {
    throw new TypeError(`${what} must be a Matrix (rows, cols, a Float64Array of rows·cols values)`);
  }
}

/** The prepared fitting problem: labels as 0/1 bytes and one combined weight (sample × class) per row. */
interface Problem { X: Matrix; y: Uint8Array; weight: Float64Array; totalWeight: number; classWeight: readonly [number, number] | null }

function prepare(X: Matrix, yIn: ArrayLike<number>, params: LogisticParams, r: Resolved): Problem {
  checkMatrix(X, 'logistic regression: X');
  const n = X.rows;
  if (n === 0) throw new RangeError('logistic regression: X has no rows; fitting needs at least one sample of each class');
  if (X.cols === 0) throw new RangeError('logistic regression: X has no columns; fitting needs at least one feature');
  if (!yIn || typeof yIn.length !== 'number') throw new TypeError('logistic regression: y must be an array of 0/1 labels');
  if (yIn.length !== n) throw new RangeError(`logistic regression: y has ${yIn.length} labels but X has ${n} rows`);
  assertFinite(X.data, X.cols, 'logistic regression: X');
  const y = new Uint8Array(n);
  const counts = [0, 0];
  for (let i = 0; i < n; i++) {
    const v = yIn[i];
    if (v !== 0 && v !== 1) throw new RangeError(`logistic regression: labels must be 0 or 1, got ${v} at index ${i}`);
    y[i] = v;
    counts[v]++;
  }
  if (counts[0] === 0 || counts[1] === 0) {
    throw new RangeError(`logistic regression: y holds a single class (${counts[0] === 0 ? 1 : 0}) in all ${n} rows; fitting needs samples of both classes 0 and 1`);
  }
  let classWeight = r.classWeight;
  if (params.classWeight === 'balanced') classWeight = [n / (2 * counts[0]), n / (2 * counts[1])];
  const weight = new Float64Array(n);
  const sw = params.sampleWeight ?? null;
  if (sw !== null) {
    if (typeof sw.length !== 'number') throw new TypeError('logistic regression: sampleWeight must be an array of numbers');
    if (sw.length !== n) throw new RangeError(`logistic regression: sampleWeight has ${sw.length} values but X has ${n} rows`);
  }
  const classTotal = [0, 0];
  for (let i = 0; i < n; i++) {
    let w = 1;
    if (sw !== null) {
      w = sw[i];
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`logistic regression: sampleWeight must be finite and ≥ 0, got ${w} at index ${i}`);
    }
    if (classWeight !== null) w *= classWeight[y[i]];
    weight[i] = w;
    classTotal[y[i]] += w;
  }
  if (!(classTotal[0] > 0) || !(classTotal[1] > 0)) {
    throw new RangeError(`logistic regression: the weights of class ${classTotal[0] > 0 ? 1 : 0} sum to 0; both classes need positive total weight`);
  }
  return { X, y, weight, totalWeight: classTotal[0] + classTotal[1], classWeight };
}

// The loss loop runs over fixed chunks of rows, each leaving its gradient, intercept gradient and loss
// in its own slot of `partial`; the slots are then summed in chunk order. So the result is the same
// bits whether the chunks run on one thread or on many, in any order. A chunk holds about 256 KB of X:
// its second pass (the gradient) reads rows the first pass has just brought into cache.
function chunkRows(d: number): number {
  return Math.max(64, Math.min(65536, Math.floor(32768 / Math.max(1, d))));
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD kernels for the two passes over X that a loss evaluation costs: the margins X·w
// and the gradient Xᵀ·r, in f64x2 lanes with w (or the gradient sums) held in registers; about three
// times faster than JavaScript, which has no vector arithmetic. The exp and log1p between the passes
// stay in JavaScript. Assembled with src/ml/wasm.ts (see kmeans.ts), specialised to the column count.
// Each kernel has a JavaScript twin (used for more than MAX_WASM_COLS columns, or without
// WebAssembly) doing the same arithmetic in the same order: both paths give the same model.

/** Wider rows run in JavaScript: the kernels keep w, or the gradient sums, in SIMD registers. */
const MAX_WASM_COLS = 64;
/** WebAssembly memories are addressed by 32-bit offsets; larger problems run in JavaScript. */
const MAX_WASM_BYTES = 2 ** 31;

/**
 * margins(x, n, w, b, sgn, u): u[i] = sgn[i]·(b + x_i·w) for the n rows at x, the dot product in
 * pairwiseDot's order.
 */
function asmMargins(d: number): Asm {
  const A = new Asm([I32, I32, I32, F64, I32, I32], []);
  const [x, n, w, b, sgn, u] = [0, 1, 2, 3, 4, 5];
  const i = A.local(I32), xo = A.local(I32), acc = A.local(V128), wr = vectorRegs(A, d);
  loadVector(A, wr, w);
  A.get(x).set(xo);
  A.each(i, n, () => {
    A.addr(u, i, 3).addr(sgn, i, 3).f64Load().get(b);
    emitPairwiseDot(A, wr, acc, (q) => A.get(xo).v128Load(16 * q), () => A.get(xo).f64Load(16 * wr.pairs.length));
    A.op(F64_ADD).op(F64_MUL).f64Store();
    A.inc(xo, 8 * d);
  });
  return A;
}

/** gradient(x, n, r, out): out[j] = Σᵢ r[i]·x_ij over the n rows at x, summed in row order per column. */
function asmGradient(d: number): Asm {
  const A = new Asm([I32, I32, I32, I32], []);
  const [x, n, r, out] = [0, 1, 2, 3];
  const i = A.local(I32), xo = A.local(I32), ri = A.local(F64), rv = A.local(V128);
  const P = d >> 1, sums = Array.from({ length: P }, () => A.local(V128)), tail = d & 1 ? A.local(F64) : -1;
  for (const s of sums) A.f64(0).simd(F64X2_SPLAT).set(s);
  if (tail >= 0) A.f64(0).set(tail);
  A.get(x).set(xo);
  A.each(i, n, () => {
    A.addr(r, i, 3).f64Load().tee(ri).simd(F64X2_SPLAT).set(rv);
    sums.forEach((s, q) => A.get(s).get(xo).v128Load(16 * q).get(rv).simd(F64X2_MUL).simd(F64X2_ADD).set(s));
    if (tail >= 0) A.get(tail).get(xo).f64Load(16 * P).get(ri).op(F64_MUL).op(F64_ADD).set(tail);
    A.inc(xo, 8 * d);
  });
  sums.forEach((s, q) => A.get(out).get(s).v128Store(16 * q));
  if (tail >= 0) A.get(out).get(tail).f64Store(16 * P);
  return A;
}

interface WasmKernels {
  margins(x: number, n: number, w: number, b: number, sgn: number, u: number): void;
  gradient(x: number, n: number, r: number, out: number): void;
}

/** Compiled modules by column count, per thread. */
const modules = new Map<number, object>();

function kernelsFor(memory: SharedWasmMemory, d: number): WasmKernels {
  let mod = modules.get(d);
  if (!mod) {
    mod = compileModule(moduleBytes([asmMargins(d), asmGradient(d)], [['margins', 0], ['gradient', 1]]));
    modules.set(d, mod);
  }
  return instantiate<WasmKernels>(mod, memory);
}

/** marginsJs: asmMargins's twin. */
function marginsJs(x: Float64Array, d: number, w: Float64Array, b: number, sgn: Float64Array, u: Float64Array, start: number, end: number): void {
  for (let i = start, off = start * d; i < end; i++, off += d) u[i] = sgn[i] * (b + pairwiseDot(x, off, w, d));
}

/** gradientJs: asmGradient's twin, writing out[at..at+d). */
function gradientJs(x: Float64Array, d: number, r: Float64Array, out: Float64Array, at: number, start: number, end: number): void {
  for (let j = 0; j < d; j++) out[at + j] = 0;
  for (let i = start, off = start * d; i < end; i++, off += d) {
    const ri = r[i];
    for (let j = 0; j < d; j++) out[at + j] += x[off + j] * ri;
  }
}

/** Arguments of logisticLossKernel (exported for the pool's workers; not part of the API). */
export type LogisticLossArgs = {
  /** the problem's memory, holding every array below when `wasm`; a one-page stand-in otherwise */
  memory: SharedWasmMemory; wasm: boolean;
  X: Float64Array; d: number; fitIntercept: boolean; chunk: number;
  /** −1 for label 1, +1 for label 0 */
  sgn: Float64Array; weight: Float64Array; theta: Float64Array;
  /** per row: the signed margin u, then weighted ∂ℓ/∂z (scratch) */
  resid: Float64Array;
  /** per chunk: d gradient sums, the intercept's, the loss */
  partial: Float64Array;
};

/**
 * Loss and gradient sums of rows [start, end) (start a multiple of args.chunk) into their chunks'
 * slots of args.partial. With u = z for y = 0 and u = −z for y = 1: ℓ(y, z) = ln(1 + e^(−|u|)) +
 * max(u, 0) and ∂ℓ/∂z = σ(z) − y = sgn·σ(u) — one overflow-free form for both labels.
 */
export function logisticLossKernel(a: LogisticLossArgs, start: number, end: number): void {
  const { X: data, d, sgn, weight, theta, resid, partial, chunk } = a;
  if (start % chunk !== 0) throw new RangeError(`logisticLossKernel: start ${start} is not a multiple of the chunk ${chunk}`);
  const b = a.fitIntercept ? theta[d] : 0;
  const P = d + 2;
  const fns = a.wasm ? kernelsFor(a.memory, d) : null;
  for (let c0 = start; c0 < end; c0 += chunk) {
    const c1 = Math.min(end, c0 + chunk), base = (c0 / chunk) * P;
    // Pass 1: the signed margins.
    if (fns) fns.margins(data.byteOffset + 8 * c0 * d, c1 - c0, theta.byteOffset, b, sgn.byteOffset + 8 * c0, resid.byteOffset + 8 * c0);
    else marginsJs(data, d, theta, b, sgn, resid, c0, c1);
    // Loss and residuals.
    let loss = 0, gb = 0;
    for (let i = c0; i < c1; i++) {
      const u = resid[i], wi = weight[i];
      const e = Math.exp(-Math.abs(u));
      loss += wi * (Math.log1p(e) + (u > 0 ? u : 0));
      const rw = (wi * sgn[i] * (u >= 0 ? 1 : e)) / (1 + e);
      resid[i] = rw;
      gb += rw;
    }
    // Pass 2: the chunk's Xᵀ·resid, over rows the first pass has just brought into cache.
    if (fns) fns.gradient(data.byteOffset + 8 * c0 * d, c1 - c0, resid.byteOffset + 8 * c0, partial.byteOffset + 8 * base);
    else gradientJs(data, d, resid, partial, base, c0, c1);
    partial[base + d] = gb;
    partial[base + d + 1] = loss;
  }
}

const LOSS_KERNEL: Kernel<LogisticLossArgs> = { module: import.meta.url, name: 'logisticLossKernel', fn: logisticLossKernel };

const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/**
 * The loss kernel's arrays: with WebAssembly, views into one borrowed memory (give it back with
 * returnMemory when the fit is done) laid out as [X | sgn | weight | resid | theta | partial], X
 * copied in; without, typed arrays — shared ones when `shared` (for a pool's workers).
 */
function lossArgs(p: Problem, r: Resolved, shared: boolean): LogisticLossArgs {
  const { rows: n, cols: d } = p.X;
  const chunk = chunkRows(d);
  const lengths = { X: n * d, sgn: n, weight: n, resid: n, theta: d + 1, partial: Math.ceil(n / chunk) * (d + 2) };
  const bytes = Object.values(lengths).reduce((s, len) => s + align16(8 * len), 0);
  const wasm = wasmAvailable && d <= MAX_WASM_COLS && bytes <= MAX_WASM_BYTES;
  const memory = wasm ? borrowMemory(bytes) : sharedMemory(WASM_PAGE);
  let at = 0;
  const alloc = (len: number): Float64Array => {
    if (wasm) { const v = new Float64Array(memory.buffer, at, len); at += align16(8 * len); return v; }
    return shared ? sharedArray(Float64Array, len) : new Float64Array(len);
  };
  const X = wasm ? alloc(lengths.X) : shared ? toShared(p.X.data) : p.X.data;
  if (wasm) X.set(p.X.data);
  const sgn = alloc(n);
  for (let i = 0; i < n; i++) sgn[i] = p.y[i] === 1 ? -1 : 1;
  const weight = alloc(n);
  weight.set(p.weight);
  return {
    memory, wasm, X, d, fitIntercept: r.fitIntercept, chunk, sgn, weight,
    resid: alloc(lengths.resid), theta: alloc(lengths.theta), partial: alloc(lengths.partial),
  };
}

/** After the kernel ran over every row: sums the chunks in order, adds the penalty, normalises. */
function reduce(a: LogisticLossArgs, p: Problem, r: Resolved, grad: Float64Array): number {
  const { d, partial, theta } = a;
  const P = d + 2, nChunks = partial.length / P;
  const invS = 1 / p.totalWeight, l2 = (1 - r.l1Ratio) / (r.C * p.totalWeight);
  let loss = 0, gb = 0, ww = 0;
  for (let j = 0; j < d; j++) grad[j] = 0;
  for (let c = 0, base = 0; c < nChunks; c++, base += P) {
    for (let j = 0; j < d; j++) grad[j] += partial[base + j];
    gb += partial[base + d];
    loss += partial[base + d + 1];
  }
  for (let j = 0; j < d; j++) {
    const w = theta[j];
    ww += w * w;
    grad[j] = grad[j] * invS + w * l2;
  }
  if (r.fitIntercept) grad[d] = gb * invS;
  return loss * invS + 0.5 * l2 * ww;
}

/** The L1 weight of each parameter for OWL-QN: ρ/(C·S) on the coefficients, 0 on the intercept. */
function l1Weights(p: Problem, r: Resolved): Float64Array {
  const d = p.X.cols;
  const w = new Float64Array(d + (r.fitIntercept ? 1 : 0));
  w.fill(r.l1Ratio / (r.C * p.totalWeight), 0, d);
  return w;
}

function objectiveOf(args: LogisticLossArgs, p: Problem, r: Resolved): (theta: Float64Array, grad: Float64Array) => number {
  return (theta, grad) => {
    args.theta.set(theta);
    logisticLossKernel(args, 0, p.X.rows);
    return reduce(args, p, r, grad);
  };
}

/**
 * The objective fitLogistic minimises, over θ = [w₁…w_d, b] (b only when fitIntercept):
 *
 *   F(θ) = (1/S)·Σᵢ sᵢ·ℓ(yᵢ, xᵢ·w + b) + (ρ‖w‖₁ + (1 − ρ)/2·‖w‖²) / (C·S),   ℓ(y, z) = ln(1 + eᶻ) − y·z,
 *
 * sᵢ the sample weight times the class weight of yᵢ, S = Σᵢ sᵢ, ρ the L1 share of the penalty (0 for
 * 'l2'). It is scikit-learn's C·Σ sᵢ·ℓᵢ + ρ‖w‖₁ + (1 − ρ)/2·‖w‖² divided by C·S — the same minimiser;
 * the normalisation makes `tol` mean the same at any n (as scikit-learn ≥ 1.4 does). The returned
 * function computes the smooth part (all but ρ‖w‖₁/(C·S), which the solver handles): it writes the
 * gradient into grad and returns the value. Validates its input exactly as fitLogistic does.
 */
export function logisticObjective(X: Matrix, y: ArrayLike<number>, params: LogisticParams = {}): (theta: Float64Array, grad: Float64Array) => number {
  const r = resolveParams(params);
  const p = prepare(X, y, params, r);
  return objectiveOf(lossArgs(p, r, false), p, r); // its memory is its own, for as long as it is used
}

/**
 * Fits regularised binary logistic regression from θ = 0 or params.init (see logisticObjective for the objective):
 * by L-BFGS for the L2 penalty, by OWL-QN when the penalty has an L1 part. The intercept is not
 * penalised. Throws on: empty X, NaN/Infinity, labels other
 * than 0/1, a single class, mismatched lengths, negative weights, invalid settings. A fit that hits
 * maxIter (or cannot make progress) is returned with `converged: false` and the reason in `stop`.
 */
export function fitLogistic(X: Matrix, y: ArrayLike<number>, params: LogisticParams = {}): LogisticModel {
  const r = resolveParams(params);
  const problem = prepare(X, y, params, r);
  const args = lossArgs(problem, r, false);
  try {
    const objective = objectiveOf(args, problem, r), x0 = startingPoint(X.cols, params, r);
    const result = r.l1Ratio > 0 ? minimizeOwlqn(objective, x0, l1Weights(problem, r), lbfgsOptions(r)) : minimizeLbfgs(objective, x0, lbfgsOptions(r));
    return toModel(result, problem, r);
  } finally {
    if (args.wasm) returnMemory(args.memory);
  }
}

/** Where fitLogisticParallel runs. */
export interface LogisticParallelOptions {
  /** a pool to run on (left open); without one, a temporary pool of `threads` threads is made and closed */
  readonly pool?: Pool;
  /** threads when no pool is given (default: os.availableParallelism()) */
  readonly threads?: number;
}

/**
 * fitLogistic with each evaluation of the loss spread over a pool of worker threads. Gives the very
 * same model, bit for bit, as fitLogistic on the same input — whatever the number of threads —
 * because the loss is summed over fixed chunks of rows in a fixed order. Small inputs (under about
 * 200k values) are computed on the calling thread, where the threads would cost more than they save.
 */
export async function fitLogisticParallel(X: Matrix, y: ArrayLike<number>, params: LogisticParams = {}, options: LogisticParallelOptions = {}): Promise<LogisticModel> {
  const r = resolveParams(params);
  const problem = prepare(X, y, params, r);
  const threads = options.threads ?? defaultThreads();
  return withPool(options.pool, threads, async (pool) => {
    const args = lossArgs(problem, r, true);
    try {
      const serialBelow = Math.floor(200_000 / X.cols);
      const objective = async (theta: Float64Array, grad: Float64Array): Promise<number> => {
        args.theta.set(theta);
        await pool.parallelFor(LOSS_KERNEL, X.rows, args, { chunk: args.chunk, serialBelow });
        return reduce(args, problem, r, grad);
      };
      const x0 = startingPoint(X.cols, params, r);
      const result = r.l1Ratio > 0
        ? await minimizeOwlqnAsync(objective, x0, l1Weights(problem, r), lbfgsOptions(r))
        : await minimizeLbfgsAsync(objective, x0, lbfgsOptions(r));
      return toModel(result, problem, r);
    } finally {
      if (args.wasm) returnMemory(args.memory);
    }
  });
}

/** θ₀: the warm start when given (checked), else zeros. */
function startingPoint(d: number, params: LogisticParams, r: Resolved): Float64Array {
  const x0 = new Float64Array(d + (r.fitIntercept ? 1 : 0));
  const init = params.init;
  if (init === undefined || init === null) return x0;
  if (init.length !== x0.length) {
    throw new RangeError(`logistic regression: init must hold ${d} coefficients${r.fitIntercept ? ' and the intercept' : ''} (${x0.length} values), got ${init.length}`);
  }
  for (let i = 0; i < x0.length; i++) {
    if (!Number.isFinite(init[i])) throw new RangeError(`logistic regression: init[${i}] is ${init[i]}, not a finite number`);
    x0[i] = init[i];
  }
  return x0;
}

function lbfgsOptions(r: Resolved): { tol: number; maxIter: number; memory: number } {
  return { tol: r.tol, maxIter: r.maxIter, memory: r.memory };
}

function toModel(result: LbfgsResult, problem: Problem, r: Resolved): LogisticModel {
  const d = problem.X.cols;
  return {
    coef: result.x.slice(0, d),
    intercept: r.fitIntercept ? result.x[d] : 0,
    nFeatures: d,
    nIter: result.nIter,
    nEval: result.nEval,
    converged: result.converged,
    stop: result.stop,
    gradNorm: result.gradNorm,
    objective: result.f,
    params: { C: r.C, tol: r.tol, maxIter: r.maxIter, fitIntercept: r.fitIntercept, classWeight: problem.classWeight, penalty: r.penalty, l1Ratio: r.l1Ratio },
  };
}

function checkPredictInput(model: LogisticModel, X: Matrix): void {
  checkMatrix(X, 'logistic regression: X');
  if (X.cols !== model.nFeatures) throw new RangeError(`logistic regression: X has ${X.cols} columns but the model was fitted on ${model.nFeatures} features`);
  assertFinite(X.data, X.cols, 'logistic regression: X');
}

/** The margin xᵢ·w + b of each row. */
export function decisionFunction(model: LogisticModel, X: Matrix): Float64Array {
  checkPredictInput(model, X);
  const { rows: n, cols: d, data } = X;
  const w = model.coef, b = model.intercept;
  const out = new Float64Array(n);
  for (let i = 0, off = 0; i < n; i++, off += d) {
    let z = b;
    for (let j = 0; j < d; j++) z += data[off + j] * w[j];
    out[i] = z;
  }
  return out;
}

/** P(y = 1 | xᵢ) = σ(xᵢ·w + b) for each row, computed without overflow for any margin. */
export function predictProba(model: LogisticModel, X: Matrix): Float64Array {
  const z = decisionFunction(model, X);
  for (let i = 0; i < z.length; i++) {
    const e = Math.exp(-Math.abs(z[i]));
    z[i] = z[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
  }
  return z;
}

/** 1 where P(y = 1 | xᵢ) > threshold (default 0.5, i.e. a positive margin), else 0. */
export function predict(model: LogisticModel, X: Matrix, threshold = 0.5): Uint8Array {
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) throw new RangeError(`logistic regression: threshold must be in [0, 1], got ${threshold}`);
  const p = predictProba(model, X);
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] > threshold ? 1 : 0;
  return out;
}

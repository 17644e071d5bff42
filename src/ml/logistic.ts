// Binary logistic regression with an L2 (L-BFGS) or L1 / elastic-net (OWL-QN) penalty: the model behind
// churn risk. It minimises scikit-learn's objective, so on the same data it gives scikit-learn's coefficients.
import { assertFinite, type Matrix } from './matrix.js';
import { minimizeLbfgs, minimizeLbfgsAsync, minimizeOwlqn, minimizeOwlqnAsync, type LbfgsResult, type LbfgsStop } from './lbfgs.js';
import { defaultThreads, sharedArray, toShared, withPool, type Kernel, type Pool } from './pool.js';

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

/** Arguments of logisticLossKernel (exported for the pool's workers; not part of the API). */
export type LogisticLossArgs = {
  X: Float64Array; d: number; fitIntercept: boolean; chunk: number;
  /** −1 for label 1, +1 for label 0 */
  sgn: Float64Array; weight: Float64Array; theta: Float64Array;
  /** per row: weighted ∂ℓ/∂z (scratch) */
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
  const d4 = d - (d & 3), P = d + 2;
  for (let c0 = start; c0 < end; c0 += chunk) {
    const c1 = Math.min(end, c0 + chunk), base = (c0 / chunk) * P;
    let loss = 0, gb = 0;
    // Pass 1: margins (four accumulators to break the add latency chain), loss and residuals.
    for (let i = c0, off = c0 * d; i < c1; i++, off += d) {
      let z0 = b, z1 = 0, z2 = 0, z3 = 0, j = 0;
      for (; j < d4; j += 4) {
        z0 += data[off + j] * theta[j];
        z1 += data[off + j + 1] * theta[j + 1];
        z2 += data[off + j + 2] * theta[j + 2];
        z3 += data[off + j + 3] * theta[j + 3];
      }
      for (; j < d; j++) z0 += data[off + j] * theta[j];
      const s = sgn[i], wi = weight[i];
      const u = s * (z0 + z1 + (z2 + z3));
      const e = Math.exp(-Math.abs(u));
      loss += wi * (Math.log1p(e) + (u > 0 ? u : 0));
      const rw = (wi * s * (u >= 0 ? 1 : e)) / (1 + e);
      resid[i] = rw;
      gb += rw;
    }
    // Pass 2: the chunk's Xᵀ·resid, four rows at a time to amortise the loads and stores of the sums.
    for (let j = 0; j < d; j++) partial[base + j] = 0;
    let i = c0, off = c0 * d;
    for (; i + 3 < c1; i += 4, off += 4 * d) {
      const r0 = resid[i], r1 = resid[i + 1], r2 = resid[i + 2], r3 = resid[i + 3];
      const o1 = off + d, o2 = o1 + d, o3 = o2 + d;
      for (let j = 0; j < d; j++) partial[base + j] += r0 * data[off + j] + r1 * data[o1 + j] + (r2 * data[o2 + j] + r3 * data[o3 + j]);
    }
    for (; i < c1; i++, off += d) {
      const ri = resid[i];
      for (let j = 0; j < d; j++) partial[base + j] += ri * data[off + j];
    }
    partial[base + d] = gb;
    partial[base + d + 1] = loss;
  }
}

const LOSS_KERNEL: Kernel<LogisticLossArgs> = { module: import.meta.url, name: 'logisticLossKernel', fn: logisticLossKernel };

function lossArgs(p: Problem, r: Resolved, shared: boolean): LogisticLossArgs {
  const { rows: n, cols: d } = p.X;
  const chunk = chunkRows(d);
  const alloc = (len: number) => (shared ? sharedArray(Float64Array, len) : new Float64Array(len));
  const sgn = alloc(n);
  for (let i = 0; i < n; i++) sgn[i] = p.y[i] === 1 ? -1 : 1;
  const weight = alloc(n);
  weight.set(p.weight);
  return {
    X: shared ? toShared(p.X.data) : p.X.data, d, fitIntercept: r.fitIntercept, chunk, sgn, weight,
    theta: alloc(d + 1), resid: alloc(n), partial: alloc(Math.ceil(n / chunk) * (d + 2)),
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

function makeObjective(p: Problem, r: Resolved): (theta: Float64Array, grad: Float64Array) => number {
  const args = lossArgs(p, r, false);
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
  return makeObjective(prepare(X, y, params, r), r);
}

/**
 * Fits regularised binary logistic regression from θ = 0 (see logisticObjective for the objective):
 * by L-BFGS for the L2 penalty, by OWL-QN when the penalty has an L1 part. The intercept is not
 * penalised. Throws on: empty X, NaN/Infinity, labels other
 * than 0/1, a single class, mismatched lengths, negative weights, invalid settings. A fit that hits
 * maxIter (or cannot make progress) is returned with `converged: false` and the reason in `stop`.
 */
export function fitLogistic(X: Matrix, y: ArrayLike<number>, params: LogisticParams = {}): LogisticModel {
  const r = resolveParams(params);
  const problem = prepare(X, y, params, r);
  const objective = makeObjective(problem, r), x0 = new Float64Array(X.cols + (r.fitIntercept ? 1 : 0));
  const result = r.l1Ratio > 0 ? minimizeOwlqn(objective, x0, l1Weights(problem, r), lbfgsOptions(r)) : minimizeLbfgs(objective, x0, lbfgsOptions(r));
  return toModel(result, problem, r);
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
    const serialBelow = Math.floor(200_000 / X.cols);
    const objective = async (theta: Float64Array, grad: Float64Array): Promise<number> => {
      args.theta.set(theta);
      await pool.parallelFor(LOSS_KERNEL, X.rows, args, { chunk: args.chunk, serialBelow });
      return reduce(args, problem, r, grad);
    };
    const x0 = new Float64Array(X.cols + (r.fitIntercept ? 1 : 0));
    const result = r.l1Ratio > 0
      ? await minimizeOwlqnAsync(objective, x0, l1Weights(problem, r), lbfgsOptions(r))
      : await minimizeLbfgsAsync(objective, x0, lbfgsOptions(r));
    return toModel(result, problem, r);
  });
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

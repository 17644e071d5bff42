// Implicit-feedback ALS (Hu, Koren & Volinsky 2008, "Collaborative Filtering for Implicit Feedback
// Datasets"), with the conjugate-gradient solver of Takács, Pilászy & Tikk 2011 as benfred/implicit
// does it, and an exact Cholesky solver as the reference.
//
// Every observed (user, item) pair with strength r > 0 has preference 1 and confidence c = 1 + α·w(r),
// where w is r itself, log1p(r) or implicit's BM25 weight; every other pair has preference 0 and
// confidence 1. Each half-step solves, for every user u with item factors Y fixed,
//   (YᵀY + λI + Σ_{i∈u} (c_ui − 1) y_i y_iᵀ) x_u = Σ_{i∈u} c_ui y_i,
// sharing YᵀY across users, then the same for items with X fixed. Factors are float32 (like implicit).
// The CG solver and the scoring of every item for a user run in float32 WebAssembly SIMD, as implicit's
// float32 BLAS calls do; the exact solver, fold-in and explain work in float64. Rows are independent and Gram matrices are summed over
// fixed chunks in a fixed order, so a fit is the same bit for bit on any number of threads.
import { createRng } from './random.js';
import { checkSparse, toCsc, transposeCsc, type Csr } from './sparse.js';
import { defaultThreads, sharedArray, toShared, withPool, type Kernel, type Pool, type SharedWasmMemory } from './pool.js';
import {
  Asm, borrowMemory, compileModule, instantiate, moduleBytes, returnMemory, sharedMemory,
  wasmAvailable, WASM_PAGE, F32, F32X4_ADD, F32X4_EXTRACT, F32X4_MAX, F32X4_MUL, F32X4_SPLAT, F32_ADD, F32_DIV,
  F32_GT, F32_LT, F32_MUL, F32_NEG, F32_SUB, I32, I32_ADD, I32_AND, I32_EQ, I32_EQZ, I32_GE_S, I32_GE_U, I32_GT_S, I32_LE_S, I32_MUL, I32_NE,
  I32_SHL, I32_SUB, I8X16_SHUFFLE, V128,
} from './wasm.js';

/** How interaction strengths r become weights w before confidence c = 1 + α·w. */
export type AlsWeighting = 'none' | 'log' | 'bm25';
/** 'cg': a few warm-started conjugate-gradient steps per row (fast); 'cholesky': the exact solve. */
export type AlsSolver = 'cg' | 'cholesky';

/** ALS hyper-parameters; every field has a default (see {@link alsParams}). */
export interface AlsParams {
  /** latent dimensions, integer in 1..1024 (default 64) */
  readonly factors: number;
  /** λ, the L2 penalty on every user and item vector, ≥ 0 (default 0.01) */
  readonly regularization: number;
  /** α in c = 1 + α·w(r), ≥ 0 (default 1) */
  readonly alpha: number;
  /** w(r): 'none' → r, 'log' → log1p(r), 'bm25' → implicit's bm25_weight (default 'none') */
  readonly weighting: AlsWeighting;
  /** BM25 K1 > 0 (default 100, implicit's) */
  readonly bm25K1: number;
  /** BM25 B in [0, 1] (default 0.8, implicit's) */
  readonly bm25B: number;
  /** ALS iterations (a user half-step then an item half-step), integer ≥ 0 (default 15) */
  readonly iterations: number;
  /** default 'cg' */
  readonly solver: AlsSolver;
  /** conjugate-gradient steps per row and half-step, integer ≥ 1 (default 3) */
  readonly cgSteps: number;
  /** seed of the factor initialisation (default 0) */
  readonly seed: number;
}

/**
 * A fitted model: plain data. Factor matrices are row-major, `factors` floats per user / item; a fit
 * returns them on SharedArrayBuffers so batch scoring on the worker pool shares them without a copy.
 */
export interface AlsModel {
  readonly kind: 'als';
  readonly params: AlsParams;
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  /** nUsers × factors */
  readonly userFactors: Float32Array;
  /** nItems × factors */
  readonly itemFactors: Float32Array;
  /** the training confidences c = 1 + α·w(r), users × items; its rows are what each user bought */
  readonly confidence: Csr;
  /** BM25 length normalisation per item, kept to weight fold-in interactions as in training (null unless weighting = 'bm25') */
  readonly bm25ItemNorm: Float32Array | null;
  /** training loss after each iteration (implicit's definition, see {@link alsLoss}); empty unless computeLoss was set */
  readonly lossHistory: Float64Array;
}

/** One user's interactions: item indices and their raw strengths r (duplicates are summed). */
export interface UserInteractions {
  readonly items: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

/** Execution options of the functions that can use worker threads. */
export interface ParallelOptions {
  /** a pool to run on (left open); without one a temporary pool of `threads` is made when the work is large enough */
  readonly pool?: Pool;
  /** threads when no pool is given (default: os.availableParallelism()) */
  readonly threads?: number;
}

export interface FitOptions extends ParallelOptions {
  /** compute the training loss after every iteration (costs about one CG step) */
  readonly computeLoss?: boolean;
  /** called after every iteration with its wall time in seconds and the loss (NaN unless computeLoss) */
  readonly onIteration?: (info: { iteration: number; seconds: number; loss: number }) => void;
}

/** Top-n items of one query, best first; may hold fewer than n when fewer items qualify. */
export interface Ranked {
  readonly items: Int32Array;
  readonly scores: Float32Array;
}

export interface RecommendOptions {
  /** leave out the items the user bought in training (default true; needs a user index) */
  readonly filterAlreadyBought?: boolean;
  /** item indices never to recommend */
  readonly exclude?: ArrayLike<number>;
}

const DEFAULTS: AlsParams = {
  factors: 64, regularization: 0.01, alpha: 1, weighting: 'none', bm25K1: 100, bm25B: 0.8,
  iterations: 15, solver: 'cg', cgSteps: 3, seed: 0,
};

/**
 * Fills in defaults and validates ALS parameters; throws a RangeError that says which parameter is
 * wrong, its value and what is allowed.
 */
export function alsParams(given: Partial<AlsParams> = {}): AlsParams {
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULTS)) throw new RangeError(`unknown ALS parameter '${key}'; allowed: ${Object.keys(DEFAULTS).join(', ')}`);
  }
  const p: AlsParams = { ...DEFAULTS, ...given };
  const int = (name: keyof AlsParams, lo: number, hi: number): void => {
    const v = p[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in ${lo}..${hi}, got ${String(v)}`);
  };
  const num = (name: keyof AlsParams, ok: (v: number) => boolean, allowed: string): void => {
    const v = p[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${name} must be ${allowed}, got ${String(v)}`);
  };
  int('factors', 1, 1024);
  num('regularization', (v) => v >= 0, 'a finite number ≥ 0');
  num('alpha', (v) => v >= 0, 'a finite number ≥ 0');
  if (!['none', 'log', 'bm25'].includes(p.weighting)) throw new RangeError(`weighting must be 'none', 'log' or 'bm25', got ${String(p.weighting)}`);
  num('bm25K1', (v) => v > 0, 'a finite number > 0');
  num('bm25B', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  int('iterations', 0, 1_000_000);
  if (p.solver !== 'cg' && p.solver !== 'cholesky') throw new RangeError(`solver must be 'cg' or 'cholesky', got ${String(p.solver)}`);
  int('cgSteps', 1, 1_000_000);
  num('seed', () => true, 'a finite number');
  return Object.freeze(p);
}

// ---------------------------------------------------------------------------------------------
// Confidence weighting

/**
 * The confidence matrix c = 1 + α·w(r) of raw interaction strengths (users × items), as ALS trains on
 * it. Entries with r = 0 are dropped (no interaction); NaN, ±Infinity or negative strengths are an
 * error naming the user and item. BM25 follows implicit's `bm25_weight` applied to the item × user
 * matrix: w = r·(K1 + 1) / (K1·norm_i + r) · idf_u, with norm_i = 1 − B + B·(Σ_u r_ui) / mean over items,
 * idf_u = ln(nItems) − ln(1 + items of u); a negative idf (a user who bought every item) counts as 0.
 */
export function confidenceMatrix(userItems: Csr, params: AlsParams): { confidence: Csr; bm25ItemNorm: Float32Array | null } {
  checkSparse(userItems, 'userItems');
  if (userItems.format !== 'csr') throw new RangeError(`userItems must be a CSR matrix (users × items), got ${String(userItems.format)}`);
  const itemNorm = params.weighting === 'bm25' ? bm25ItemNorm(userItems, params.bm25B) : null;
  return { confidence: weighted(userItems, params, itemNorm), bm25ItemNorm: itemNorm };
}

/** The confidences of userItems' positive strengths, weighted with the given BM25 item norms (null: not BM25). */
function weighted(userItems: Csr, params: AlsParams, itemNorm: Float32Array | null): Csr {
  const { nRows: nUsers, nCols: nItems, indptr, indices, data } = userItems;
  let kept = 0;
  for (let u = 0; u < nUsers; u++) {
    for (let k = indptr[u]; k < indptr[u + 1]; k++) {
      const r = data[k];
      if (r < 0) throw new RangeError(`userItems has a negative strength ${r} at user ${u}, item ${indices[k]}; strengths must be finite numbers ≥ 0`);
      if (r > 0) kept++;
    }
  }
  const outPtr = new Int32Array(nUsers + 1), outIdx = new Int32Array(kept), outData = new Float32Array(kept);
  let q = 0;
  for (let u = 0; u < nUsers; u++) {
    let m = 0;
    for (let k = indptr[u]; k < indptr[u + 1]; k++) if (data[k] > 0) m++;
    const idf = itemNorm ? bm25Idf(nItems, m) : 0;
    for (let k = indptr[u]; k < indptr[u + 1]; k++) {
      const r = data[k];
      if (!(r > 0)) continue;
      const i = indices[k];
      outIdx[q] = i;
      outData[q] = 1 + params.alpha * weight(params, r, itemNorm ? itemNorm[i] : 0, idf);
      if (!Number.isFinite(outData[q])) throw new RangeError(`confidence at user ${u}, item ${i} overflows float32 (strength ${r}, alpha ${params.alpha})`);
      q++;
    }
    outPtr[u + 1] = q;
  }
  return { format: 'csr', nRows: nUsers, nCols: nItems, indptr: outPtr, indices: outIdx, data: outData };
}

function bm25ItemNorm(userItems: Csr, b: number): Float32Array {
  const { nCols: nItems, indices, data } = userItems;
  const sums = new Float64Array(nItems);
  let total = 0;
  for (let k = 0; k < data.length; k++) { sums[indices[k]] += data[k]; total += data[k]; }
  const mean = total / Math.max(1, nItems);
  const norm = new Float32Array(nItems);
  for (let i = 0; i < nItems; i++) norm[i] = 1 - b + (mean > 0 ? (b * sums[i]) / mean : 0);
  return norm;
}

function bm25Idf(nItems: number, userNnz: number): number {
  return Math.max(0, Math.log(nItems) - Math.log1p(userNnz));
}

function weight(params: AlsParams, r: number, itemNorm: number, idf: number): number {
  switch (params.weighting) {
    case 'none': return r;
    case 'log': return Math.log1p(r);
    case 'bm25': return ((r * (params.bm25K1 + 1)) / (params.bm25K1 * itemNorm + r)) * idf;
  }
}

// ---------------------------------------------------------------------------------------------
// Dense kernels on one row. Factors are Float32Array rows at an offset; row state is Float64Array.
// Loops are unrolled by four with independent accumulators so V8 keeps several multiplies in flight.

function dotF(Y: Float32Array, yo: number, v: Float64Array, K: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, f = 0;
  for (; f + 3 < K; f += 4) {
    s0 += Y[yo + f] * v[f];
    s1 += Y[yo + f + 1] * v[f + 1];
    s2 += Y[yo + f + 2] * v[f + 2];
    s3 += Y[yo + f + 3] * v[f + 3];
  }
  for (; f < K; f++) s0 += Y[yo + f] * v[f];
  return s0 + s1 + s2 + s3;
}

function axpyF(v: Float64Array, a: number, Y: Float32Array, yo: number, K: number): void {
  let f = 0;
  for (; f + 3 < K; f += 4) {
    v[f] += a * Y[yo + f];
    v[f + 1] += a * Y[yo + f + 1];
    v[f + 2] += a * Y[yo + f + 2];
    v[f + 3] += a * Y[yo + f + 3];
  }
  for (; f < K; f++) v[f] += a * Y[yo + f];
}

function dotD(a: Float64Array, b: Float64Array, K: number): number {
  let s0 = 0, s1 = 0, f = 0;
  for (; f + 1 < K; f += 2) { s0 += a[f] * b[f]; s1 += a[f + 1] * b[f + 1]; }
  if (f < K) s0 += a[f] * b[f];
  return s0 + s1;
}

/** out = G·v for a full (both triangles stored) symmetric K × K matrix G. */
function symv(G: Float64Array, v: Float64Array, out: Float64Array, K: number): void {
  let i = 0;
  for (; i + 1 < K; i += 2) {
    const g0 = i * K, g1 = g0 + K;
    let a0 = 0, a1 = 0, b0 = 0, b1 = 0, j = 0;
    for (; j + 1 < K; j += 2) {
      const v0 = v[j], v1 = v[j + 1];
      a0 += G[g0 + j] * v0; a1 += G[g0 + j + 1] * v1;
      b0 += G[g1 + j] * v0; b1 += G[g1 + j + 1] * v1;
    }
    if (j < K) { a0 += G[g0 + j] * v[j]; b0 += G[g1 + j] * v[j]; }
    out[i] = a0 + a1;
    out[i + 1] = b0 + b1;
  }
  if (i < K) out[i] = dotD(G.subarray(i * K, i * K + K), v, K);
}

/**
 * In-place Cholesky factorisation A = L·Lᵀ of a row-major K × K matrix whose lower triangle holds A
 * (the upper triangle is ignored). Returns false when A is not positive definite.
 */
function cholesky(A: Float64Array, K: number): boolean {
  for (let j = 0; j < K; j++) {
    const jo = j * K;
    let d = A[jo + j];
    for (let k = 0; k < j; k++) d -= A[jo + k] * A[jo + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    A[jo + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < K; i++) {
      const io = i * K;
      let s0 = A[io + j], s1 = 0, k = 0;
      for (; k + 1 < j; k += 2) { s0 -= A[io + k] * A[jo + k]; s1 -= A[io + k + 1] * A[jo + k + 1]; }
      if (k < j) s0 -= A[io + k] * A[jo + k];
      A[io + j] = (s0 + s1) * inv;
    }
  }
  return true;
}

/** Solves L·Lᵀ·x = b in place (b becomes x) with the factor from {@link cholesky}. */
function choleskySolve(L: Float64Array, K: number, b: Float64Array): void {
  for (let i = 0; i < K; i++) {
    const io = i * K;
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[io + k] * b[k];
    b[i] = s / L[io + i];
  }
  for (let i = K - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < K; k++) s -= L[k * K + i] * b[k];
    b[i] = s / L[i * K + i];
  }
}

/**
 * Lower triangle of A += Σ_k w[k]·y_k·y_kᵀ over rows items[s..e) of Y: four rows per pass, so each
 * entry of A is loaded and stored once per four products.
 */
function gramianLower(A: Float64Array, Y: Float32Array, K: number, items: Int32Array, w: ArrayLike<number>, s: number, e: number, wShift: number): void {
  let k = s;
  for (; k + 3 < e; k += 4) {
    const o0 = items[k] * K, o1 = items[k + 1] * K, o2 = items[k + 2] * K, o3 = items[k + 3] * K;
    const w0 = w[k] - wShift, w1 = w[k + 1] - wShift, w2 = w[k + 2] - wShift, w3 = w[k + 3] - wShift;
    for (let i = 0; i < K; i++) {
      const a0 = w0 * Y[o0 + i], a1 = w1 * Y[o1 + i], a2 = w2 * Y[o2 + i], a3 = w3 * Y[o3 + i], io = i * K;
      for (let j = 0; j <= i; j++) A[io + j] += a0 * Y[o0 + j] + a1 * Y[o1 + j] + a2 * Y[o2 + j] + a3 * Y[o3 + j];
    }
  }
  for (; k < e; k++) rank1Lower(A, w[k] - wShift, Y, items[k] * K, K);
}

/** Lower triangle of A += w·y·yᵀ for the float32 row y at offset yo. */
function rank1Lower(A: Float64Array, w: number, Y: Float32Array, yo: number, K: number): void {
  for (let i = 0; i < K; i++) {
    const wy = w * Y[yo + i], io = i * K;
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      A[io + j] += wy * Y[yo + j];
      A[io + j + 1] += wy * Y[yo + j + 1];
      A[io + j + 2] += wy * Y[yo + j + 2];
      A[io + j + 3] += wy * Y[yo + j + 3];
    }
    for (; j <= i; j++) A[io + j] += wy * Y[yo + j];
  }
}

// ---------------------------------------------------------------------------------------------
// The CG half-step in WebAssembly SIMD. Plain JS cannot use the CPU's vector units, and the CG inner
// loops (a K×K symmetric product and a dot + axpy per interaction, four times per row) are what an
// iteration costs; 128-bit SIMD does four float32 lanes at a time, like implicit's float32 BLAS calls.
// There is no WebAssembly toolchain on the build machines, so the module is assembled from its opcodes
// with src/ml/wasm.ts: a few dozen instructions, validated by WebAssembly.Module on first use. All
// arrays of a fit live in one shared WebAssembly.Memory, so every worker runs the same module over them.

/** log2 of the alignment the v128 accesses below hint: float32's 4 bytes (hints never affect results) */
const F32_ALIGN = 2;

// function indices
const F_DOT = 0, F_AXPY = 1, F_XPBY = 2, F_SYMV = 3, F_ACCUM = 4, F_CG = 5, F_GRAM = 6;

/** dot(a, b, n) = Σ a[f]·b[f] over float32 arrays at byte addresses a, b */
function asmDot(): Asm {
  const A = new Asm([I32, I32, I32], [F32]);
  const a = 0, b = 1, n = 2, end = A.local(I32), acc0 = A.local(V128), acc1 = A.local(V128), s = A.local(F32);
  // a runs to a + 4·(n & ~7) in steps of two vectors, one vector more if n & 4, then scalars
  A.get(a).get(n).i32(~7).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(end);
  A.f32(0).simd(F32X4_SPLAT).tee(acc0).set(acc1);
  A.block((exit) => A.loop((top) => {
    A.get(a).get(end).op(I32_GE_U).brIf(exit);
    A.get(acc0).get(a).v128Load(0, F32_ALIGN).get(b).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc0);
    A.get(acc1).get(a).v128Load(16, F32_ALIGN).get(b).v128Load(16, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc1);
    A.get(a).i32(32).op(I32_ADD).set(a).get(b).i32(32).op(I32_ADD).set(b).br(top);
  }));
  A.get(n).i32(4).op(I32_AND).when(() => {
    A.get(acc0).get(a).v128Load(0, F32_ALIGN).get(b).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc0);
    A.get(a).i32(16).op(I32_ADD).set(a).get(b).i32(16).op(I32_ADD).set(b);
  });
  A.get(acc0).get(acc1).simd(F32X4_ADD).set(acc0);
  A.get(acc0).simd(F32X4_EXTRACT, 0).get(acc0).simd(F32X4_EXTRACT, 1).op(F32_ADD)
    .get(acc0).simd(F32X4_EXTRACT, 2).get(acc0).simd(F32X4_EXTRACT, 3).op(F32_ADD).op(F32_ADD).set(s);
  A.get(n).i32(3).op(I32_AND).i32(2).op(I32_SHL).get(a).op(I32_ADD).set(end);
  A.block((exit) => A.loop((top) => {
    A.get(a).get(end).op(I32_GE_U).brIf(exit);
    A.get(s).get(a).f32Load().get(b).f32Load().op(F32_MUL).op(F32_ADD).set(s);
    A.get(a).i32(4).op(I32_ADD).set(a).get(b).i32(4).op(I32_ADD).set(b).br(top);
  }));
  A.get(s);
  return A;
}

/**
 * y[f] = α·x[f] + β·y[f] for f < n, float32 arrays at byte addresses y, x. With β = 1 this is axpy;
 * with α = 1 it is CG's p ← r + β·p.
 */
function asmLinear(beta1: boolean): Asm {
  // (y, alpha, x, n) for axpy; (y, beta, x, n) for xpby
  const A = new Asm([I32, F32, I32, I32], []);
  const y = 0, coef = 1, x = 2, n = 3, end = A.local(I32), vc = A.local(V128);
  A.get(coef).simd(F32X4_SPLAT).set(vc);
  A.get(y).get(n).i32(~3).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(end);
  const vec = (): void => {
    A.get(y);
    if (beta1) A.get(y).v128Load(0, F32_ALIGN).get(vc).get(x).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD);
    else A.get(x).v128Load(0, F32_ALIGN).get(vc).get(y).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD);
    A.v128Store(0, F32_ALIGN);
  };
  const scalar = (): void => {
    A.get(y);
    if (beta1) A.get(y).f32Load().get(coef).get(x).f32Load().op(F32_MUL).op(F32_ADD);
    else A.get(x).f32Load().get(coef).get(y).f32Load().op(F32_MUL).op(F32_ADD);
    A.f32Store();
  };
  A.block((exit) => A.loop((top) => {
    A.get(y).get(end).op(I32_GE_U).brIf(exit);
    vec();
    A.get(y).i32(16).op(I32_ADD).set(y).get(x).i32(16).op(I32_ADD).set(x).br(top);
  }));
  A.get(n).i32(3).op(I32_AND).i32(2).op(I32_SHL).get(y).op(I32_ADD).set(end);
  A.block((exit) => A.loop((top) => {
    A.get(y).get(end).op(I32_GE_U).brIf(exit);
    scalar();
    A.get(y).i32(4).op(I32_ADD).set(y).get(x).i32(4).op(I32_ADD).set(x).br(top);
  }));
  return A;
}

/**
 * symv(G, v, out, n): out = G·v for the full n × n float32 matrix G, n a multiple of 4 (G and v are
 * zero-padded to it). Four rows per pass, so each load of v feeds four products.
 */
function asmSymv(): Asm {
  const A = new Asm([I32, I32, I32, I32], []);
  const G = 0, v = 1, out = 2, n = 3;
  const i = A.local(I32), jb = A.local(I32), rowBytes = A.local(I32), vv = A.local(V128);
  const g = [A.local(I32), A.local(I32), A.local(I32), A.local(I32)];
  const acc = [A.local(V128), A.local(V128), A.local(V128), A.local(V128)];
  A.get(n).i32(2).op(I32_SHL).set(rowBytes);
  A.for(i, () => A.i32(0), () => A.get(n), 4, () => {
    A.get(G).get(i).get(rowBytes).op(I32_MUL).op(I32_ADD).set(g[0]);
    for (let r = 1; r < 4; r++) A.get(g[r - 1]).get(rowBytes).op(I32_ADD).set(g[r]);
    for (const a of acc) A.f32(0).simd(F32X4_SPLAT).set(a);
    A.for(jb, () => A.i32(0), () => A.get(rowBytes), 16, () => {
      A.get(v).get(jb).op(I32_ADD).v128Load(0, F32_ALIGN).set(vv);
      acc.forEach((a, r) => {
        A.get(a).get(g[r]).get(jb).op(I32_ADD).v128Load(0, F32_ALIGN).get(vv).simd(F32X4_MUL).simd(F32X4_ADD).set(a);
      });
    });
    acc.forEach((a, r) => {
      A.get(out).get(i).i32(2).op(I32_SHL).op(I32_ADD);
      A.get(a).simd(F32X4_EXTRACT, 0).get(a).simd(F32X4_EXTRACT, 1).op(F32_ADD)
        .get(a).simd(F32X4_EXTRACT, 2).get(a).simd(F32X4_EXTRACT, 3).op(F32_ADD).op(F32_ADD);
      A.f32Store(r * 4);
    });
  });
  return A;
}

/**
 * gram(F, start, end, K, Kp, out): out[i·Kp + j] += Σ_r F[r·K + i]·F[r·K + j] over rows [start, end),
 * i, j < K. Four rows per pass, so each load and store of out carries four products.
 */
function asmGram(): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32], []);
  const F = 0, start = 1, end = 2, K = 3, Kp = 4, out = 5;
  const r = A.local(I32), i = A.local(I32), jb = A.local(I32), rowBytes = A.local(I32), vecBytes = A.local(I32), go = A.local(I32), last = A.local(I32);
  const x = [A.local(I32), A.local(I32), A.local(I32), A.local(I32)];
  const sv = [A.local(V128), A.local(V128), A.local(V128), A.local(V128)];
  const ss = [A.local(F32), A.local(F32), A.local(F32), A.local(F32)];
  A.get(K).i32(2).op(I32_SHL).set(rowBytes);
  A.get(K).i32(~3).op(I32_AND).i32(2).op(I32_SHL).set(vecBytes);
  const rows = (B: number, step: () => void): void => {
    // rows r .. r + B − 1 at x[0..B)
    A.get(F).get(r).get(rowBytes).op(I32_MUL).op(I32_ADD).set(x[0]);
    for (let b = 1; b < B; b++) A.get(x[b - 1]).get(rowBytes).op(I32_ADD).set(x[b]);
    A.for(i, () => A.i32(0), () => A.get(K), 1, () => {
      A.get(out).get(i).get(Kp).op(I32_MUL).i32(2).op(I32_SHL).op(I32_ADD).set(go);
      for (let b = 0; b < B; b++) {
        A.get(x[b]).get(i).i32(2).op(I32_SHL).op(I32_ADD).f32Load().tee(ss[b]).simd(F32X4_SPLAT).set(sv[b]);
      }
      A.for(jb, () => A.i32(0), () => A.get(vecBytes), 16, () => {
        A.get(go).get(jb).op(I32_ADD);
        A.get(go).get(jb).op(I32_ADD).v128Load(0, F32_ALIGN);
        for (let b = 0; b < B; b++) A.get(sv[b]).get(x[b]).get(jb).op(I32_ADD).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD);
        A.v128Store(0, F32_ALIGN);
      });
      A.for(jb, () => A.get(vecBytes), () => A.get(rowBytes), 4, () => {
        A.get(go).get(jb).op(I32_ADD);
        A.get(go).get(jb).op(I32_ADD).f32Load();
        for (let b = 0; b < B; b++) A.get(ss[b]).get(x[b]).get(jb).op(I32_ADD).f32Load().op(F32_MUL).op(F32_ADD);
        A.f32Store();
      });
    });
    step();
  };
  A.get(end).i32(3).op(I32_SUB).set(last);
  A.get(start).set(r);
  A.block((exit) => A.loop((top) => {
    A.get(r).get(last).op(I32_GE_S).brIf(exit);
    rows(4, () => A.get(r).i32(4).op(I32_ADD).set(r));
    A.br(top);
  }));
  A.block((exit) => A.loop((top) => {
    A.get(r).get(end).op(I32_GE_S).brIf(exit);
    rows(1, () => A.get(r).i32(1).op(I32_ADD).set(r));
    A.br(top);
  }));
  return A;
}

/**
 * accum(s, e, indices, conf, Y, K, v, out, mode): for the interactions k in [s, e) of one row,
 * out += t·y_k with t = c − (c − 1)·(y_k·v) (mode 0, the residual) or (c − 1)·(y_k·v) (mode 1, A·p).
 * The dot product and the update are inlined: this loop is where an iteration spends most of its time.
 */
function asmAccum(): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const s = 0, e = 1, indices = 2, conf = 3, Y = 4, K = 5, v = 6, out = 7, mode = 8;
  const k = A.local(I32), yo = A.local(I32), c = A.local(F32), t = A.local(F32), d = A.local(F32);
  const rowBytes = A.local(I32), vecBytes = A.local(I32), fb = A.local(I32);
  const acc0 = A.local(V128), acc1 = A.local(V128), vt = A.local(V128);
  A.get(K).i32(2).op(I32_SHL).set(rowBytes);
  A.get(K).i32(~3).op(I32_AND).i32(2).op(I32_SHL).set(vecBytes);
  A.for(k, () => A.get(s), () => A.get(e), 1, () => {
    A.get(Y).get(indices).get(k).i32(2).op(I32_SHL).op(I32_ADD).i32Load().get(rowBytes).op(I32_MUL).op(I32_ADD).set(yo);
    A.get(conf).get(k).i32(2).op(I32_SHL).op(I32_ADD).f32Load().set(c);
    // d = y·v: two vector accumulators, then the scalar tail
    A.f32(0).simd(F32X4_SPLAT).tee(acc0).set(acc1);
    A.i32(0).set(fb);
    A.block((exit) => A.loop((top) => {
      A.get(fb).i32(32).op(I32_ADD).get(vecBytes).op(I32_GT_S).brIf(exit);
      A.get(acc0).get(yo).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).get(v).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc0);
      A.get(acc1).get(yo).get(fb).op(I32_ADD).v128Load(16, F32_ALIGN).get(v).get(fb).op(I32_ADD).v128Load(16, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc1);
      A.get(fb).i32(32).op(I32_ADD).set(fb).br(top);
    }));
    // whole vector pairs are done; one vector is left when their count is odd
    A.get(fb).i32(16).op(I32_ADD).get(vecBytes).op(I32_LE_S).when(() => {
      A.get(acc0).get(yo).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).get(v).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD).set(acc0);
    });
    A.get(acc0).get(acc1).simd(F32X4_ADD).set(acc0);
    A.get(acc0).simd(F32X4_EXTRACT, 0).get(acc0).simd(F32X4_EXTRACT, 1).op(F32_ADD)
      .get(acc0).simd(F32X4_EXTRACT, 2).get(acc0).simd(F32X4_EXTRACT, 3).op(F32_ADD).op(F32_ADD).set(d);
    A.for(fb, () => A.get(vecBytes), () => A.get(rowBytes), 4, () => {
      A.get(d).get(yo).get(fb).op(I32_ADD).f32Load().get(v).get(fb).op(I32_ADD).f32Load().op(F32_MUL).op(F32_ADD).set(d);
    });
    A.get(c).f32(1).op(F32_SUB).get(d).op(F32_MUL).set(t);
    A.get(mode).op(I32_EQZ).when(() => { A.get(c).get(t).op(F32_SUB).set(t); });
    // out += t·y
    A.get(t).simd(F32X4_SPLAT).set(vt);
    A.for(fb, () => A.i32(0), () => A.get(vecBytes), 16, () => {
      A.get(out).get(fb).op(I32_ADD);
      A.get(out).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).get(vt).get(yo).get(fb).op(I32_ADD).v128Load(0, F32_ALIGN).simd(F32X4_MUL).simd(F32X4_ADD);
      A.v128Store(0, F32_ALIGN);
    });
    A.for(fb, () => A.get(vecBytes), () => A.get(rowBytes), 4, () => {
      A.get(out).get(fb).op(I32_ADD);
      A.get(out).get(fb).op(I32_ADD).f32Load().get(t).get(yo).get(fb).op(I32_ADD).f32Load().op(F32_MUL).op(F32_ADD);
      A.f32Store();
    });
  });
  return A;
}

/**
 * cg(start, end, indptr, indices, conf, X, Y, G, K, Kp, steps, scratch): implicit's
 * `_least_squares_cg` for rows [start, end), X updated in place. G is Kp × Kp, zero-padded from K to
 * Kp = K rounded up to 4; scratch holds r, p, A·p and a copy of x, Kp floats each, zero beyond K.
 */
function asmCg(): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const start = 0, end = 1, indptr = 2, indices = 3, conf = 4, X = 5, Y = 6, G = 7, K = 8, Kp = 9, steps = 10, scratch = 11;
  const u = A.local(I32), s = A.local(I32), e = A.local(I32), x = A.local(I32), r = A.local(I32), p = A.local(I32), ap = A.local(I32);
  const xs = A.local(I32), padBytes = A.local(I32);
  const it = A.local(I32), rowBytes = A.local(I32), rsold = A.local(F32), rsnew = A.local(F32), alpha = A.local(F32), pap = A.local(F32);
  A.get(K).i32(2).op(I32_SHL).set(rowBytes);
  A.get(Kp).i32(2).op(I32_SHL).set(padBytes);
  A.get(scratch).set(r);
  A.get(r).get(padBytes).op(I32_ADD).set(p);
  A.get(p).get(padBytes).op(I32_ADD).set(ap);
  A.get(ap).get(padBytes).op(I32_ADD).set(xs);
  A.for(u, () => A.get(start), () => A.get(end), 1, (_exit, next) => {
    A.get(indptr).get(u).i32(2).op(I32_SHL).op(I32_ADD).tee(s).i32(4).op(I32_ADD).i32Load().set(e);
    A.get(s).i32Load().set(s);
    A.get(X).get(u).get(rowBytes).op(I32_MUL).op(I32_ADD).set(x);
    // no interactions: zero factors
    A.get(s).get(e).op(I32_EQ).when(() => { A.get(x).i32(0).get(rowBytes).memoryFill().br(next); });
    // r = Σ c·y − (G + Σ (c−1)·y·yᵀ)·x
    A.get(xs).get(x).get(rowBytes).memoryCopy();
    A.get(G).get(xs).get(r).get(Kp).call(F_SYMV);
    A.get(r).f32(-2).get(r).get(K).call(F_XPBY); // r ← r − 2·r = −G·x, exactly
    A.get(s).get(e).get(indices).get(conf).get(Y).get(K).get(x).get(r).i32(0).call(F_ACCUM);
    A.get(p).get(r).get(padBytes).memoryCopy();
    A.get(r).get(r).get(K).call(F_DOT).tee(rsold).f32(1e-20).op(F32_LT).brIf(next);
    A.for(it, () => A.i32(0), () => A.get(steps), 1, (stop) => {
      A.get(G).get(p).get(ap).get(Kp).call(F_SYMV);
      A.get(s).get(e).get(indices).get(conf).get(Y).get(K).get(p).get(ap).i32(1).call(F_ACCUM);
      A.get(p).get(ap).get(K).call(F_DOT).tee(pap).f32(0).op(F32_GT).op(I32_EQZ).brIf(stop);
      A.get(rsold).get(pap).op(F32_DIV).set(alpha);
      A.get(x).get(alpha).get(p).get(K).call(F_AXPY);
      A.get(r).get(alpha).op(F32_NEG).get(ap).get(K).call(F_AXPY);
      A.get(r).get(r).get(K).call(F_DOT).tee(rsnew).f32(1e-20).op(F32_LT).brIf(stop);
      A.get(p).get(rsnew).get(rsold).op(F32_DIV).get(r).get(K).call(F_XPBY);
      A.get(rsnew).set(rsold);
    });
  });
  return A;
}

function buildCgModule(): Uint8Array {
  const fns = [asmDot(), asmLinear(true), asmLinear(false), asmSymv(), asmAccum(), asmCg(), asmGram()];
  return moduleBytes(fns, [['cg', F_CG], ['gram', F_GRAM]]);
}

let cgModule: object | null = null;
interface CgExports {
  cg(start: number, end: number, indptr: number, indices: number, conf: number, X: number, Y: number, G: number, K: number, Kp: number, steps: number, scratch: number): void;
  gram(F: number, start: number, end: number, K: number, Kp: number, out: number): void;
}
const cgInstances = new WeakMap<object, CgExports>();

/** The module instantiated over the args' memory, once per args object (one loop) and thread. */
function instanceFor(args: { memory: SharedWasmMemory }): CgExports {
  let inst = cgInstances.get(args);
  if (!inst) {
    cgModule ??= compileModule(buildCgModule());
    inst = instantiate<CgExports>(cgModule, args.memory);
    cgInstances.set(args, inst);
  }
  return inst;
}

/** K rounded up to a multiple of 4, the SIMD width: the stride of G and of the CG scratch vectors. */
function padded(K: number): number {
  return Math.ceil(K / 4) * 4;
}

/** @internal arguments of {@link alsCgKernel}: views into `memory`, whose byte offsets the module uses */
export type CgArgs = {
  memory: SharedWasmMemory; indptr: Int32Array; indices: Int32Array; conf: Float32Array;
  X: Float32Array; Y: Float32Array; G: Float32Array; K: number; cgSteps: number; scratch: Float32Array;
};

/**
 * @internal One CG half-step for rows [start, end), as implicit's `_least_squares_cg` (residual from
 * the previous X[u], cgSteps steps, stop when ‖r‖² < 1e-20), in float32 SIMD. Rows with no
 * interactions get zero factors. Each thread uses its own slice of scratch.
 */
export function alsCgKernel(a: CgArgs, start: number, end: number, thread: number): void {
  const Kp = padded(a.K);
  instanceFor(a).cg(start, end, a.indptr.byteOffset, a.indices.byteOffset, a.conf.byteOffset, a.X.byteOffset, a.Y.byteOffset,
    a.G.byteOffset, a.K, Kp, a.cgSteps, a.scratch.byteOffset + thread * 4 * Kp * 4);
}

/** @internal arguments of {@link alsGramSimdKernel} */
export type GramSimdArgs = { memory: SharedWasmMemory; F: Float32Array; K: number; chunk: number; partial: Float32Array };

/** @internal float32 FᵀF of rows [start, end) into the chunk's K × Kp slice of partial (zeroed before the loop). */
export function alsGramSimdKernel(a: GramSimdArgs, start: number, end: number): void {
  const Kp = padded(a.K);
  const out = a.partial.byteOffset + Math.floor(start / a.chunk) * a.K * Kp * 4;
  instanceFor(a).gram(a.F.byteOffset, start, end, a.K, Kp, out);
}

/** The arrays of one CG fit, carved from one shared WebAssembly.Memory. */
interface Arena {
  memory: SharedWasmMemory;
  cui: Csr;
  ciu: Csr;
  X: Float32Array;
  Y: Float32Array;
  /** YᵀY + λI (or XᵀX + λI), Kp × Kp, zero-padded */
  G: Float32Array;
  /** per-chunk Gram partials, at most 64 chunks of K × Kp */
  partial: Float32Array;
  /** per-thread CG vectors, 4·Kp floats each */
  scratch: Float32Array;
}

const MAX_REDUCTION_CHUNKS = 64;

function fitArena(cui: Csr, ciu: Csr, K: number, threads: number): Arena {
  const nU = cui.nRows, nI = cui.nCols, nnz = cui.indptr[nU], Kp = padded(K);
  const lengths = [nU + 1, nnz, nnz, nI + 1, nnz, nnz, nU * K, nI * K, Kp * Kp, MAX_REDUCTION_CHUNKS * K * Kp, threads * 4 * Kp];
  const bytesOf = (n: number): number => Math.ceil((n * 4) / 16) * 16;
  const bytes = lengths.reduce((s, n) => s + bytesOf(n), 0);
  if (bytes > 2 ** 32 - 2 ** 16) {
    throw new RangeError(`this fit needs ${(bytes / 2 ** 30).toFixed(1)} GiB of WebAssembly memory and at most 4 GiB is possible; use fewer factors or split the data`);
  }
  const memory = sharedMemory(bytes);
  let offset = 0;
  const take = <T extends Int32Array | Float32Array>(ctor: new (b: SharedArrayBuffer, o: number, n: number) => T, src: ArrayLike<number> | null, n: number): T => {
    const a = new ctor(memory.buffer, offset, n);
    if (src) a.set(src);
    offset += bytesOf(n);
    return a;
  };
  const copy = (m: Csr): Csr => ({
    ...m, indptr: take(Int32Array, m.indptr, m.nRows + 1), indices: take(Int32Array, m.indices, nnz), data: take(Float32Array, m.data, nnz),
  });
  return {
    memory, cui: copy(cui), ciu: copy(ciu), X: take(Float32Array, null, nU * K), Y: take(Float32Array, null, nI * K),
    G: take(Float32Array, null, Kp * Kp), partial: take(Float32Array, null, MAX_REDUCTION_CHUNKS * K * Kp),
    scratch: take(Float32Array, null, threads * 4 * Kp),
  };
}

// ---------------------------------------------------------------------------------------------
// Kernels run by the pool (exported for the worker threads; not part of the API).

/** @internal arguments of {@link alsGramKernel} */
export type GramArgs = { F: Float32Array; K: number; chunk: number; partial: Float64Array };

/**
 * @internal Lower triangle of F[start:end]ᵀ·F[start:end] into partial[(start / chunk)·K·K ...], so
 * the sum over chunks is the same whatever thread ran which chunk (reproducible to the last bit).
 */
export function alsGramKernel(a: GramArgs, start: number, end: number): void {
  const { F, K, partial } = a;
  const base = Math.floor(start / a.chunk) * K * K;
  let r = start;
  // four rows at a time: each partial entry is loaded and stored once per four products
  for (; r + 3 < end; r += 4) {
    const o0 = r * K, o1 = o0 + K, o2 = o1 + K, o3 = o2 + K;
    for (let i = 0; i < K; i++) {
      const x0 = F[o0 + i], x1 = F[o1 + i], x2 = F[o2 + i], x3 = F[o3 + i], io = base + i * K;
      for (let j = 0; j <= i; j++) partial[io + j] += x0 * F[o0 + j] + x1 * F[o1 + j] + x2 * F[o2 + j] + x3 * F[o3 + j];
    }
  }
  for (; r < end; r++) {
    const o = r * K;
    for (let i = 0; i < K; i++) {
      const x = F[o + i], io = base + i * K;
      for (let j = 0; j <= i; j++) partial[io + j] += x * F[o + j];
    }
  }
}

/** @internal arguments of {@link alsExactKernel} */
export type ExactArgs = {
  indptr: Int32Array; indices: Int32Array; conf: Float32Array; X: Float32Array; Y: Float32Array; G: Float64Array; K: number;
};

/**
 * @internal The exact half-step for rows [start, end), as implicit's `_least_squares`: build
 * G + Σ (c−1)·y·yᵀ (G = YᵀY + λI) and b = Σ c·y in float64 and solve by Cholesky. Rows with no
 * interactions get zero factors.
 */
export function alsExactKernel(a: ExactArgs, start: number, end: number): void {
  const { indptr, indices, conf, X, Y, G, K } = a;
  const x = new Float64Array(K), A = new Float64Array(K * K);
  for (let u = start; u < end; u++) {
    const s = indptr[u], e = indptr[u + 1], xo = u * K;
    if (s === e) {
      X.fill(0, xo, xo + K);
      continue;
    }
    A.set(G);
    x.fill(0);
    for (let k = s; k < e; k++) axpyF(x, conf[k], Y, indices[k] * K, K);
    gramianLower(A, Y, K, indices, conf, s, e, 1);
    if (!cholesky(A, K)) throw new RangeError(`ALS: the normal equations of row ${u} are not positive definite; use regularization > 0`);
    choleskySolve(A, K, x);
    for (let f = 0; f < K; f++) X[xo + f] = x[f];
  }
}

/** @internal arguments of {@link alsFoldInKernel}: ExactArgs plus Z = G⁻¹·Y (see {@link solveUser}) */
export type FoldInArgs = ExactArgs & { Z: Float64Array };

/** @internal Rows [start, end) folded in from their training interactions, as {@link foldIn} does one. */
export function alsFoldInKernel(a: FoldInArgs, start: number, end: number): void {
  for (let u = start; u < end; u++) solveUser(a.Y, a.K, a.G, a.Z, a.indices, a.conf, a.indptr[u], a.indptr[u + 1], a.X, u * a.K);
}

/** @internal arguments of {@link alsLossKernel} */
export type LossArgs = {
  indptr: Int32Array; indices: Int32Array; conf: Float32Array;
  X: Float32Array; Y: Float32Array; G: Float64Array; K: number; chunk: number; partial: Float64Array;
};

/**
 * @internal Per-chunk sums for {@link alsLoss}: [Σ_u (xᵀYᵀYx + Σ_i (c−1)s² − 2cs + c), Σ_u ‖x_u‖², Σ c].
 */
export function alsLossKernel(a: LossArgs, start: number, end: number): void {
  const { indptr, indices, conf, X, Y, G, K, partial } = a;
  const x = new Float64Array(K), gx = new Float64Array(K);
  let loss = 0, norm = 0, total = 0;
  for (let u = start; u < end; u++) {
    const xo = u * K;
    for (let f = 0; f < K; f++) x[f] = X[xo + f];
    symv(G, x, gx, K);
    loss += dotD(x, gx, K);
    norm += dotD(x, x, K);
    for (let k = indptr[u]; k < indptr[u + 1]; k++) {
      const c = conf[k], sc = dotF(Y, indices[k] * K, x, K);
      loss += (c - 1) * sc * sc - 2 * c * sc + c;
      total += c;
    }
  }
  const o = Math.floor(start / a.chunk) * 3;
  partial[o] += loss;
  partial[o + 1] += norm;
  partial[o + 2] += total;
}

const self = import.meta.url;
const GRAM: Kernel<GramArgs> = { module: self, name: 'alsGramKernel', fn: alsGramKernel };
const EXACT: Kernel<ExactArgs> = { module: self, name: 'alsExactKernel', fn: alsExactKernel };
const FOLD_IN: Kernel<FoldInArgs> = { module: self, name: 'alsFoldInKernel', fn: alsFoldInKernel };
const CG: Kernel<CgArgs> = { module: self, name: 'alsCgKernel', fn: alsCgKernel };
const GRAM_SIMD: Kernel<GramSimdArgs> = { module: self, name: 'alsGramSimdKernel', fn: alsGramSimdKernel };
const LOSS: Kernel<LossArgs> = { module: self, name: 'alsLossKernel', fn: alsLossKernel };
const RECOMMEND: Kernel<RecommendArgs> = { module: self, name: 'alsRecommendKernel', fn: alsRecommendKernel };

// ---------------------------------------------------------------------------------------------
// Driving the kernels

/** Chunks for reductions: at most 64, independent of the thread count, so sums are reproducible. */
function reductionChunk(n: number): number {
  return Math.max(64, Math.ceil(n / MAX_REDUCTION_CHUNKS));
}

/** Full symmetric FᵀF (+ λI on the diagonal) of the rows×K float32 matrix F. */
async function gram(pool: Pool, F: Float32Array, rows: number, K: number, lambda: number): Promise<Float64Array> {
  const chunk = reductionChunk(rows);
  const chunks = Math.ceil(rows / chunk);
  const partial = sharedArray(Float64Array, Math.max(1, chunks) * K * K);
  await pool.parallelFor(GRAM, rows, { F, K, chunk, partial }, { chunk });
  const G = sharedArray(Float64Array, K * K);
  for (let c = 0; c < chunks; c++) {
    const o = c * K * K;
    for (let i = 0; i < K; i++) for (let j = 0; j <= i; j++) G[i * K + j] += partial[o + i * K + j];
  }
  for (let i = 0; i < K; i++) {
    G[i * K + i] += lambda;
    for (let j = 0; j < i; j++) G[j * K + i] = G[i * K + j];
  }
  return G;
}

/** Rows per chunk for row solves: small enough to balance power-law rows across threads. */
function solveChunk(n: number, threads: number): number {
  return Math.max(16, Math.min(1024, Math.ceil(n / (64 * threads))));
}

/** X ← the exact least-squares rows of m against Y (YᵀY from nY rows of Y). */
async function exactHalfStep(pool: Pool, m: Csr, X: Float32Array, Y: Float32Array, nY: number, K: number, lambda: number): Promise<void> {
  const G = await gram(pool, Y, nY, K, lambda);
  const args: ExactArgs = { indptr: m.indptr, indices: m.indices, conf: m.data, X, Y, G, K };
  await pool.parallelFor(EXACT, m.nRows, args, { chunk: solveChunk(m.nRows, pool.threads) });
}

/**
 * arena.G ← FᵀF + λI (F: rows × K), zero-padded to Kp × Kp: float32 SIMD products per chunk, the
 * chunks summed in float64 in chunk order, so the result does not depend on the thread count.
 */
async function simdGram(pool: Pool, arena: Arena, F: Float32Array, rows: number, K: number, lambda: number): Promise<void> {
  const Kp = padded(K), chunk = reductionChunk(rows), chunks = Math.ceil(rows / chunk);
  arena.partial.fill(0, 0, chunks * K * Kp);
  await pool.parallelFor(GRAM_SIMD, rows, { memory: arena.memory, F, K, chunk, partial: arena.partial }, { chunk });
  const sum = new Float64Array(K * K);
  for (let c = 0; c < chunks; c++) {
    const o = c * K * Kp;
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) sum[i * K + j] += arena.partial[o + i * Kp + j];
  }
  arena.G.fill(0);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) arena.G[i * Kp + j] = sum[i * K + j];
    arena.G[i * Kp + i] += lambda;
  }
}

/** X ← cgSteps warm-started CG steps per row of m against Y; every array lives in arena.memory. */
async function cgHalfStep(pool: Pool, arena: Arena, m: Csr, X: Float32Array, Y: Float32Array, nY: number, K: number, params: AlsParams): Promise<void> {
  await simdGram(pool, arena, Y, nY, K, params.regularization);
  const args: CgArgs = {
    memory: arena.memory, indptr: m.indptr, indices: m.indices, conf: m.data, X, Y, G: arena.G, K, cgSteps: params.cgSteps, scratch: arena.scratch,
  };
  await pool.parallelFor(CG, m.nRows, args, { chunk: solveChunk(m.nRows, pool.threads) });
}

async function lossOf(pool: Pool, cui: Csr, X: Float32Array, Y: Float32Array, K: number, lambda: number): Promise<number> {
  const nUsers = cui.nRows, nItems = cui.nCols;
  const G = await gram(pool, Y, nItems, K, 0);
  const chunk = reductionChunk(nUsers);
  const partial = sharedArray(Float64Array, Math.max(1, Math.ceil(nUsers / chunk)) * 3);
  await pool.parallelFor(LOSS, nUsers, { indptr: cui.indptr, indices: cui.indices, conf: cui.data, X, Y, G, K, chunk, partial }, { chunk });
  let loss = 0, userNorm = 0, total = 0, itemNorm = 0;
  for (let c = 0; c < partial.length; c += 3) { loss += partial[c]; userNorm += partial[c + 1]; total += partial[c + 2]; }
  for (let k = 0; k < nItems * K; k++) itemNorm += Y[k] * Y[k];
  const nnz = cui.indptr[nUsers];
  return (loss + lambda * (userNorm + itemNorm)) / (total + nUsers * nItems - nnz);
}

/** Approximate multiply-adds of one ALS iteration: below a few tens of millions, threads cost more than they save. */
function iterationWork(nUsers: number, nItems: number, nnz: number, K: number, steps: number): number {
  return (nUsers + nItems) * K * K * (steps + 1) + 4 * nnz * K * (steps + 1);
}
const SERIAL_WORK = 3e7;

function threadsFor(opts: ParallelOptions, work: number): number {
  const t = opts.threads ?? defaultThreads();
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`threads must be a positive integer, got ${t}`);
  return work < SERIAL_WORK ? 1 : t;
}

function shareCsr(a: Csr): Csr {
  return { ...a, indptr: toShared(a.indptr), indices: toShared(a.indices), data: toShared(a.data) };
}

/**
 * Fits implicit ALS to a users × items matrix of raw interaction strengths (purchase counts,
 * quantities, ...). Deterministic for a given seed, whatever the thread count. Runs on `options.pool`,
 * or on a temporary pool of `options.threads` threads (closed before returning) when the data is large.
 */
export async function fitAls(userItems: Csr, params: Partial<AlsParams> = {}, options: FitOptions = {}): Promise<AlsModel> {
  const p = alsParams(params);
  const { confidence: cui0, bm25ItemNorm } = confidenceMatrix(userItems, p);
  const ciu0 = transposeCsc(toCsc(cui0));
  const nUsers = cui0.nRows, nItems = cui0.nCols, K = p.factors;
  const exact = p.solver === 'cholesky';
  const losses: number[] = [];
  const threads = threadsFor(options, iterationWork(nUsers, nItems, cui0.indptr[nUsers], K, exact ? K : p.cgSteps));
  const userFactors = sharedArray(Float32Array, nUsers * K), itemFactors = sharedArray(Float32Array, nItems * K);
  await withPool(options.pool, threads, async (pool) => {
    // CG runs in WebAssembly over one shared memory; the exact solver in JS over shared arrays
    const arena = exact ? null : fitArena(cui0, ciu0, K, pool.threads);
    const cui = arena ? arena.cui : shareCsr(cui0), ciu = arena ? arena.ciu : shareCsr(ciu0);
    const X = arena ? arena.X : userFactors, Y = arena ? arena.Y : itemFactors;
    const rng = createRng(p.seed);
    // implicit's initialisation: uniform in [0, 0.01), users first
    for (let k = 0; k < X.length; k++) X[k] = rng.next() * 0.01;
    for (let k = 0; k < Y.length; k++) Y[k] = rng.next() * 0.01;
    for (let it = 0; it < p.iterations; it++) {
      const t0 = performance.now();
      if (arena) {
        await cgHalfStep(pool, arena, cui, X, Y, nItems, K, p);
        await cgHalfStep(pool, arena, ciu, Y, X, nUsers, K, p);
      } else {
        await exactHalfStep(pool, cui, X, Y, nItems, K, p.regularization);
        await exactHalfStep(pool, ciu, Y, X, nUsers, K, p.regularization);
      }
      const seconds = (performance.now() - t0) / 1000;
      const loss = options.computeLoss ? await lossOf(pool, cui, X, Y, K, p.regularization) : NaN;
      if (options.computeLoss) losses.push(loss);
      options.onIteration?.({ iteration: it, seconds, loss });
    }
    if (arena) {
      userFactors.set(X);
      itemFactors.set(Y);
    }
  });
  return Object.freeze({
    kind: 'als', params: p, factors: K, nUsers, nItems, userFactors, itemFactors,
    confidence: shareCsr(cui0), bm25ItemNorm, lossHistory: Float64Array.from(losses),
  });
}

function checkModel(model: AlsModel): void {
  const { factors: K, nUsers, nItems } = model;
  if (model.kind !== 'als') throw new TypeError(`expected an ALS model, got kind ${String(model.kind)}`);
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`an ALS model needs at least 1 factor, got ${K}`);
  if (model.userFactors.length !== nUsers * K || model.itemFactors.length !== nItems * K) {
    throw new RangeError(`ALS model factor arrays do not match ${nUsers} users × ${nItems} items × ${K} factors`);
  }
}

/**
 * The training loss of implicit's `calculate_loss`:
 * (Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²)) / (Σ c_ui over observed + number of unobserved pairs).
 */
export async function alsLoss(model: AlsModel, options: ParallelOptions = {}): Promise<number> {
  checkModel(model);
  const cui = shareCsr(model.confidence);
  const threads = threadsFor(options, model.nUsers * model.factors ** 2 + 2 * cui.indptr[model.nUsers] * model.factors);
  return withPool(options.pool, threads, (pool) =>
    lossOf(pool, cui, toShared(model.userFactors), toShared(model.itemFactors), model.factors, model.params.regularization));
}

/**
 * A final exact user half-step: every user's vector becomes the exact least-squares solution against
 * the model's item factors (what {@link foldIn} computes for one user). After it, folding in a training
 * user's interactions reproduces the stored vector. Returns a new model; the given one is unchanged.
 */
export async function exactUserStep(model: AlsModel, options: ParallelOptions = {}): Promise<AlsModel> {
  checkModel(model);
  const { nUsers, factors: K } = model;
  const cache = itemCache(model);
  const cui = shareCsr(model.confidence);
  const X = sharedArray(Float32Array, nUsers * K);
  const args: FoldInArgs = { indptr: cui.indptr, indices: cui.indices, conf: cui.data, X, Y: toShared(model.itemFactors), G: toShared(cache.G), Z: toShared(cache.Z), K };
  const threads = threadsFor(options, nUsers * K * K * 2 + cui.indptr[nUsers] * K * K);
  await withPool(options.pool, threads, (pool) => pool.parallelFor(FOLD_IN, nUsers, args, { chunk: solveChunk(nUsers, pool.threads) }));
  return Object.freeze({ ...model, userFactors: X });
}

// ---------------------------------------------------------------------------------------------
// Serving: fold-in, recommend, similar items, explain

interface ItemCache {
  lambda: number;
  /** YᵀY + λI, full symmetric */
  G: Float64Array;
  /** Cholesky factor of G */
  L: Float64Array;
  /** Z = Y·G⁻¹, nItems × K: row i is G⁻¹·y_i, for the Woodbury fold-in */
  Z: Float64Array;
  norms: Float32Array;
}
const itemCaches = new WeakMap<Float32Array, ItemCache>();

/** Derived item-side arrays, computed once per item-factor matrix and cached. */
function itemCache(model: AlsModel): ItemCache {
  const hit = itemCaches.get(model.itemFactors);
  const lambda = model.params.regularization;
  if (hit && hit.lambda === lambda) return hit;
  const { itemFactors: Y, nItems, factors: K } = model;
  const G = new Float64Array(K * K);
  alsGramKernel({ F: Y, K, chunk: Math.max(1, nItems), partial: G }, 0, nItems);
  for (let i = 0; i < K; i++) {
    G[i * K + i] += lambda;
    for (let j = 0; j < i; j++) G[j * K + i] = G[i * K + j];
  }
  const L = G.slice();
  const Z = new Float64Array(nItems * K);
  const norms = new Float32Array(nItems);
  const spd = cholesky(L, K);
  const z = new Float64Array(K);
  for (let i = 0; i < nItems; i++) {
    let n2 = 0;
    for (let f = 0; f < K; f++) { z[f] = Y[i * K + f]; n2 += z[f] * z[f]; }
    norms[i] = Math.sqrt(n2);
    if (spd) { choleskySolve(L, K, z); Z.set(z, i * K); }
  }
  const cache: ItemCache = { lambda, G, L: spd ? L : new Float64Array(0), Z: spd ? Z : new Float64Array(0), norms };
  itemCaches.set(Y, cache);
  return cache;
}

/** Sorted, summed, validated interactions of one user, weighted into confidences as in training. */
function userConfidences(model: AlsModel, user: number | UserInteractions): { items: Int32Array; conf: Float64Array } {
  if (typeof user === 'number') {
    checkUser(model, user);
    const { indptr, indices, data } = model.confidence;
    const s = indptr[user], e = indptr[user + 1];
    return { items: indices.slice(s, e), conf: Float64Array.from(data.subarray(s, e)) };
  }
  const { items, values } = user;
  if (!items || !values || items.length !== values.length) {
    throw new RangeError(`user interactions need items and values of equal length, got ${items?.length} and ${values?.length}`);
  }
  const n = items.length;
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = items[k], v = values[k];
    if (!Number.isInteger(i) || i < 0 || i >= model.nItems) throw new RangeError(`interaction ${k}: item ${i} is outside 0..${model.nItems - 1}`);
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`interaction ${k}: strength ${v} of item ${i} must be a finite number ≥ 0`);
    order[k] = k;
  }
  order.sort((a, b) => items[a] - items[b] || a - b);
  const outItems = new Int32Array(n), sums = new Float64Array(n);
  let m = 0;
  for (let q = 0; q < n; q++) {
    const k = order[q];
    if (m > 0 && outItems[m - 1] === items[k]) sums[m - 1] += values[k];
    else { outItems[m] = items[k]; sums[m] = values[k]; m++; }
  }
  let kept = 0;
  for (let q = 0; q < m; q++) if (sums[q] > 0) kept++;
  const p = model.params, norm = model.bm25ItemNorm;
  const idf = p.weighting === 'bm25' ? bm25Idf(model.nItems, kept) : 0;
  const keptItems = new Int32Array(kept), conf = new Float64Array(kept);
  let o = 0;
  for (let q = 0; q < m; q++) {
    if (!(sums[q] > 0)) continue;
    const i = outItems[q];
    if (p.weighting === 'bm25' && !norm) throw new RangeError('the model uses BM25 weighting but has no bm25ItemNorm');
    keptItems[o] = i;
    // through float32, exactly as the training confidences were stored
    conf[o] = Math.fround(1 + p.alpha * weight(p, Math.fround(sums[q]), norm ? norm[i] : 0, idf));
    o++;
  }
  return { items: keptItems, conf };
}

function checkUser(model: AlsModel, user: number): void {
  if (!Number.isInteger(user) || user < 0 || user >= model.nUsers) throw new RangeError(`user ${user} is outside 0..${model.nUsers - 1}`);
}

function checkItem(model: AlsModel, item: number): void {
  if (!Number.isInteger(item) || item < 0 || item >= model.nItems) throw new RangeError(`item ${item} is outside 0..${model.nItems - 1}`);
}

/** A = G + Σ (c−1)·y·yᵀ over items[s … e) (G = YᵀY + λI), Cholesky-factored. */
function userGramian(G: Float64Array, Y: Float32Array, K: number, items: Int32Array, conf: ArrayLike<number>, s: number, e: number): Float64Array {
  const A = G.slice();
  gramianLower(A, Y, K, items, conf, s, e, 1);
  if (!cholesky(A, K)) throw new RangeError('ALS: the user\'s normal equations are not positive definite; the model needs regularization > 0');
  return A;
}

/**
 * Folds a user into the model without retraining: the exact least-squares user vector for the given
 * interactions against the trained item factors (implicit's `recalculate_user`). Accepts a training
 * user's index (their training interactions) or fresh interactions of raw strengths, weighted as in
 * training. For a user with few items it uses the Woodbury identity on the cached (YᵀY + λI)⁻¹·Y, so
 * the cost is O(m²·K) rather than O(m·K² + K³).
 */
export function foldIn(model: AlsModel, user: number | UserInteractions): Float32Array {
  checkModel(model);
  const K = model.factors, Y = model.itemFactors;
  const cache = itemCache(model);
  const { items, conf } = userConfidences(model, user);
  const out = new Float32Array(K);
  solveUser(Y, K, cache.G, cache.Z, items, conf, 0, items.length, out, 0);
  return out;
}

/**
 * {@link foldIn} for every row of `userItems` (users × the model's items, raw strengths), on the worker
 * pool: row u of the result (nRows × K, on shared memory) is exactly the vector foldIn gives for row u's
 * interactions; an empty row gives zeros. `onProgress(rows)` says how many rows are done, block by block.
 */
export async function foldInMany(
  model: AlsModel, userItems: Csr, options: ParallelOptions & { onProgress?: (rows: number) => void } = {},
): Promise<Float32Array> {
  checkModel(model);
  checkSparse(userItems, 'userItems');
  if (userItems.format !== 'csr' || userItems.nCols !== model.nItems) {
    throw new RangeError(`userItems must be a CSR matrix over the model's ${model.nItems} items, got ${String(userItems.format)} with ${userItems.nCols} columns`);
  }
  const p = model.params;
  if (p.weighting === 'bm25' && !model.bm25ItemNorm) throw new RangeError('the model uses BM25 weighting but has no bm25ItemNorm');
  // the model's item norms, not userItems' own: weighted as foldIn weighs one user
  const cui = shareCsr(weighted(userItems, p, p.weighting === 'bm25' ? model.bm25ItemNorm : null));
  const n = userItems.nRows, K = model.factors;
  const cache = itemCache(model);
  const X = sharedArray(Float32Array, n * K);
  const shared = { indices: cui.indices, conf: cui.data, Y: toShared(model.itemFactors), G: toShared(cache.G), Z: toShared(cache.Z), K };
  const threads = threadsFor(options, n * K * K * 2 + cui.indptr[n] * K * K);
  await withPool(options.pool, threads, async (pool) => {
    for (let s = 0; s < n; s += FOLD_IN_BLOCK) {
      const e = Math.min(n, s + FOLD_IN_BLOCK);
      // the block's rows as rows 0 … e−s of views on the same shared arrays
      const args: FoldInArgs = { ...shared, indptr: cui.indptr.subarray(s, e + 1), X: X.subarray(s * K, e * K) };
      await pool.parallelFor(FOLD_IN, e - s, args, { chunk: solveChunk(e - s, pool.threads) });
      options.onProgress?.(e);
    }
  });
  return X;
}

/** Rows folded in per parallel loop of foldInMany: progress moves every second or so on a large shop. */
const FOLD_IN_BLOCK = 50_000;

/**
 * out[oo … oo+K) ← x = (G + Σ (c−1)·y·yᵀ)⁻¹ · Σ c·y over the items items[s … e) with confidences conf[s … e)
 * (G = YᵀY + λI). With few items it uses the Woodbury identity on Z = G⁻¹·Y (empty Z: never), so the
 * cost is O(m²·K) rather than O(m·K² + K³). foldIn and exactUserStep both solve with it, so a training
 * user folded in gets exactly the stored vector.
 */
function solveUser(
  Y: Float32Array, K: number, G: Float64Array, Z: Float64Array, items: Int32Array, conf: ArrayLike<number>, s: number, e: number, out: Float32Array, oo: number,
): void {
  const m = e - s;
  if (m === 0) {
    out.fill(0, oo, oo + K);
    return;
  }
  // b = Σ c·y; the low-rank part Σ (c−1)·y·yᵀ has one term per item with c > 1
  let mw = 0;
  for (let k = s; k < e; k++) if (conf[k] > 1) mw++;
  const direct = K * K * mw / 2 + K ** 3 / 6;
  const woodbury = mw * mw * K / 2 + mw ** 3 / 6 + 3 * m * K;
  if (Z.length === 0 || direct <= woodbury) {
    const A = userGramian(G, Y, K, items, conf, s, e);
    const x = new Float64Array(K);
    for (let k = s; k < e; k++) axpyF(x, conf[k], Y, items[k] * K, K);
    choleskySolve(A, K, x);
    for (let f = 0; f < K; f++) out[oo + f] = x[f];
    return;
  }
  // (G + Uᵀ·W·U)⁻¹·b = G⁻¹b − Zᵤᵀ·(W⁻¹ + U·Zᵤᵀ)⁻¹·U·G⁻¹b, with U the rows y_j (c_j > 1), Zᵤ their G⁻¹·y_j
  const g = new Float64Array(K); // G⁻¹·b = Σ c·z
  for (let k = s; k < e; k++) {
    const zo = items[k] * K, c = conf[k];
    for (let f = 0; f < K; f++) g[f] += c * Z[zo + f];
  }
  const wItems = new Int32Array(mw), w = new Float64Array(mw);
  for (let k = s, q = 0; k < e; k++) if (conf[k] > 1) { wItems[q] = items[k]; w[q] = conf[k] - 1; q++; }
  const S = new Float64Array(mw * mw), t = new Float64Array(mw);
  for (let a = 0; a < mw; a++) {
    const ya = wItems[a] * K;
    t[a] = dotF(Y, ya, g, K);
    S[a * mw + a] = 1 / w[a] + dotZ(Y, ya, Z, ya, K);
    for (let b = 0; b < a; b++) S[a * mw + b] = dotZ(Y, ya, Z, wItems[b] * K, K);
  }
  if (!cholesky(S, mw)) throw new RangeError('ALS: fold-in system is not positive definite');
  choleskySolve(S, mw, t);
  for (let a = 0; a < mw; a++) {
    const zo = wItems[a] * K, ta = t[a];
    for (let f = 0; f < K; f++) g[f] -= ta * Z[zo + f];
  }
  for (let f = 0; f < K; f++) out[oo + f] = g[f];
}

function dotZ(Y: Float32Array, yo: number, Z: Float64Array, zo: number, K: number): number {
  let s0 = 0, s1 = 0, f = 0;
  for (; f + 1 < K; f += 2) { s0 += Y[yo + f] * Z[zo + f]; s1 += Y[yo + f + 1] * Z[zo + f + 1]; }
  if (f < K) s0 += Y[yo + f] * Z[zo + f];
  return s0 + s1;
}

/**
 * Keeps the n best (score, item) pairs of a stream in a min-heap of typed arrays; ties go to the lower
 * item index. Items pushed with score −Infinity or NaN are ignored.
 */
class TopN {
  readonly items: Int32Array;
  readonly scores: Float64Array;
  size = 0;
  /** scores below it cannot enter: the worst kept score once n are kept, −Infinity before */
  floor = -Infinity;
  constructor(readonly n: number) {
    this.items = new Int32Array(n);
    this.scores = new Float64Array(n);
  }
  reset(): void { this.size = 0; this.floor = -Infinity; }
  /** whether (s, i) ranks below (t, j) */
  private worse(s: number, i: number, t: number, j: number): boolean {
    return s < t || (s === t && i > j);
  }
  push(score: number, item: number): void {
    if (!(score > -Infinity) || this.n === 0) return;
    const { items, scores } = this;
    if (this.size < this.n) {
      let q = this.size++;
      while (q > 0) {
        const parent = (q - 1) >> 1;
        if (!this.worse(score, item, scores[parent], items[parent])) break;
        items[q] = items[parent]; scores[q] = scores[parent]; q = parent;
      }
      items[q] = item; scores[q] = score;
      if (this.size === this.n) this.floor = scores[0];
      return;
    }
    // full: the new pair replaces the worst kept one (the root) if it ranks above it
    if (this.worse(scores[0], items[0], score, item)) {
      this.siftDown(score, item);
      this.floor = scores[0];
    }
  }
  /** Writes the kept pairs best first into the outputs at offset; returns how many. */
  drain(outItems: Int32Array, outScores: Float32Array, offset: number): number {
    const m = this.size;
    for (let q = m - 1; q >= 0; q--) {
      outItems[offset + q] = this.items[0];
      outScores[offset + q] = this.scores[0];
      // pop the minimum
      const lastItem = this.items[this.size - 1], lastScore = this.scores[this.size - 1];
      this.size--;
      if (this.size > 0) this.siftDown(lastScore, lastItem);
    }
    this.floor = -Infinity;
    return m;
  }
  private siftDown(score: number, item: number): void {
    const { items, scores, size } = this;
    let q = 0;
    while (true) {
      let child = 2 * q + 1;
      if (child >= size) break;
      if (child + 1 < size && this.worse(scores[child + 1], items[child + 1], scores[child], items[child])) child++;
      if (!this.worse(scores[child], items[child], score, item)) break;
      items[q] = items[child]; scores[q] = scores[child]; q = child;
    }
    items[q] = item; scores[q] = score;
  }
}

function checkN(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
}

function excludeMask(model: AlsModel, exclude: ArrayLike<number> | undefined): Uint8Array {
  const mask = new Uint8Array(model.nItems);
  if (exclude) {
    for (let k = 0; k < exclude.length; k++) {
      checkItem(model, exclude[k]);
      mask[exclude[k]] = 1;
    }
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// Scoring every item for a user: x_u·y_i over all items is what a recommendation costs (items × K
// multiply-adds per user, for every customer when the pipeline scores them all). It is a small matrix
// product, done in float32 as implicit's sgemm does it. The kernel scores a tile of SCORE_MR users ×
// SCORE_ITEMS items at a time: the item factors are laid out in panels of 4 items, factor-major (factor f
// of the 4 items side by side in one f32x4), so each panel vector loaded meets SCORE_MR users' factor f
// (splat), every load feeds several multiply-adds and no horizontal sums are needed. With the scores it
// writes each tile's highest score per user, so that ranking passes over the tiles below the n best
// found so far without looking at their items: most of them, once a few tiles have been seen.
// The order of operations, which the JavaScript twin scoresJs repeats to the bit: each score is one
// float32 chain in factor order, s = 0, then s = s + x_f·y_f for f = 0 … K − 1, every product and every
// sum rounded to float32 (f32x4.mul then f32x4.add, no fused multiply-add). So a score does not depend on
// the tile, the block or the thread that computes it. The twin serves runtimes without WebAssembly.

/**
 * Tile shape: SCORE_MR × SCORE_NV accumulators (f32x4), SCORE_NV panel vectors and one splat. 4 × 2
 * measured fastest of 2..6 × 1..4 on the build machine; more accumulators only add register spills.
 */
const SCORE_MR = 4, SCORE_NV = 2;
/** Items per tile; the catalogue is padded to a multiple with zero factors, whose scores are never read. */
const SCORE_ITEMS = 4 * SCORE_NV;
/**
 * Users per kernel call, one tile's worth: their score rows wait in the thread's slot, small enough to
 * stay in cache, until they are ranked. Blocks of 16 users, with the catalogue scored in cache-sized
 * chunks for all of them, measured no faster: the kernel is bound by arithmetic, not by reading Y.
 */
const SCORE_BLOCK = SCORE_MR;

/**
 * scores(Yp, groups, xs, users, out, stride, maxes): out + u·stride (bytes) ← the scores of the float32
 * user row u (K floats at xs + 4·K·u), u < users, against the item panels at Yp (`groups` tiles of
 * SCORE_ITEMS items), in the order described above; maxes + 4·(u·groups + g) ← the highest of them in
 * tile g (NaN if one is NaN).
 */
function asmScores(K: number): Asm {
  const A = new Asm([I32, I32, I32, I32, I32, I32, I32], []);
  const [Yp, groups, xs, users, out, stride, maxes] = [0, 1, 2, 3, 4, 5, 6];
  const u = A.local(I32), g = A.local(I32), yp = A.local(I32), xp = A.local(I32), op = A.local(I32), mp = A.local(I32);
  const yf = A.local(I32), xf = A.local(I32), xEnd = A.local(I32);
  const rows = Array.from({ length: SCORE_MR }, () => A.local(I32)), maxRows = Array.from({ length: SCORE_MR }, () => A.local(I32));
  const acc = Array.from({ length: SCORE_MR * SCORE_NV }, () => A.local(V128));
  const ys = Array.from({ length: SCORE_NV }, () => A.local(V128)), xv = A.local(V128), m = A.local(V128);
  for (let r = 0; r < SCORE_MR; r++) {
    A.get(stride).i32(r).op(I32_MUL).set(rows[r]);
    A.get(groups).i32(4 * r).op(I32_MUL).set(maxRows[r]);
  }
  // the lanes of m, swapped in pairs of lanes (8-byte halves), then lane by lane
  const halves = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7], lanes = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];
  // users u … u + mr − 1 against every tile of items
  const tileRow = (mr: number): void => {
    A.get(Yp).set(yp);
    A.get(xs).get(u).i32(4 * K).op(I32_MUL).op(I32_ADD).set(xp);
    A.get(out).get(u).get(stride).op(I32_MUL).op(I32_ADD).set(op);
    A.get(maxes).get(u).get(groups).op(I32_MUL).i32(2).op(I32_SHL).op(I32_ADD).set(mp);
    A.each(g, groups, () => {
      for (let k = 0; k < mr * SCORE_NV; k++) A.f32(0).simd(F32X4_SPLAT).set(acc[k]);
      A.get(yp).set(yf).get(xp).tee(xf).i32(4 * K).op(I32_ADD).set(xEnd);
      // a loop over the factors, not an unrolled sequence: unrolled, V8 hoists the loads of every step
      // to the top and spills most of them
      A.loop((next) => {
        for (let v = 0; v < SCORE_NV; v++) A.get(yf).v128Load(16 * K * v, F32_ALIGN).set(ys[v]);
        for (let r = 0; r < mr; r++) {
          A.get(xf).v128Load32Splat(4 * K * r).set(xv);
          for (let v = 0; v < SCORE_NV; v++) {
            const c = acc[r * SCORE_NV + v];
            A.get(c).get(xv).get(ys[v]).simd(F32X4_MUL).simd(F32X4_ADD).set(c);
          }
        }
        A.inc(yf, 16).inc(xf, 4);
        A.get(xf).get(xEnd).op(I32_NE).brIf(next);
      });
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < SCORE_NV; v++) {
          A.get(op);
          if (r > 0) A.get(rows[r]).op(I32_ADD);
          A.get(acc[r * SCORE_NV + v]).v128Store(16 * v, F32_ALIGN);
        }
        A.get(mp);
        if (r > 0) A.get(maxRows[r]).op(I32_ADD);
        A.get(acc[r * SCORE_NV]);
        for (let v = 1; v < SCORE_NV; v++) A.get(acc[r * SCORE_NV + v]).simd(F32X4_MAX);
        A.tee(m).get(m).get(m).simd(I8X16_SHUFFLE, ...halves).simd(F32X4_MAX).tee(m).get(m).get(m).simd(I8X16_SHUFFLE, ...lanes).simd(F32X4_MAX);
        A.simd(F32X4_EXTRACT, 0).f32Store();
      }
      A.inc(yp, 16 * SCORE_NV * K).inc(op, 4 * SCORE_ITEMS).inc(mp, 4);
    });
  };
  // whole tiles of SCORE_MR users, then the rest one by one
  A.i32(0).set(u);
  A.block((exit) => A.loop((top) => {
    A.get(u).i32(SCORE_MR).op(I32_ADD).get(users).op(I32_GT_S).brIf(exit);
    tileRow(SCORE_MR);
    A.inc(u, SCORE_MR).br(top);
  }));
  A.block((exit) => A.loop((top) => {
    A.get(u).get(users).op(I32_GE_S).brIf(exit);
    tileRow(1);
    A.inc(u, 1).br(top);
  }));
  return A;
}

/**
 * asmScores's twin, on the plain row-major Y: out[u·stride + i] for the `users` rows of K at xs (the
 * padding items, with zero factors, score 0), and the tiles' highest scores in maxes[u·groups + g]
 * (Math.max: NaN if one is NaN).
 */
function scoresJs(Y: Float32Array, nItems: number, K: number, xs: Float32Array, users: number, out: Float32Array, stride: number, maxes: Float32Array): void {
  const fr = Math.fround, groups = stride / SCORE_ITEMS;
  for (let u = 0; u < users; u++) {
    const xo = u * K, oo = u * stride;
    for (let i = 0, yo = 0; i < nItems; i++, yo += K) {
      let s = 0;
      for (let f = 0; f < K; f++) s = fr(s + fr(xs[xo + f] * Y[yo + f]));
      out[oo + i] = s;
    }
    out.fill(0, oo + nItems, oo + stride);
    for (let g = 0; g < groups; g++) {
      let m = -Infinity;
      for (let i = g * SCORE_ITEMS; i < (g + 1) * SCORE_ITEMS; i++) m = Math.max(m, out[oo + i]);
      maxes[u * groups + g] = m;
    }
  }
}

/** Y's rows in the kernel's panels of 4 items, factor-major, into `panels` (nPad × K floats, nPad ≥ nItems); the padding items get zeros. */
function itemPanels(Y: Float32Array, nItems: number, K: number, panels: Float32Array): void {
  const nPad = panels.length / K;
  for (let i = 0; i < nPad; i++) {
    const base = (i >> 2) * 4 * K + (i & 3);
    for (let f = 0; f < K; f++) panels[base + 4 * f] = i < nItems ? Y[i * K + f] : 0;
  }
}

interface ScoreExports { scores(Yp: number, groups: number, xs: number, users: number, out: number, stride: number, maxes: number): void }
/** Compiled scoring modules by K, per thread. */
const scoreModules = new Map<number, object>();
const scoreInstances = new WeakMap<object, ScoreExports>();

/**
 * Where items are scored. Per thread, a slot of SCORE_BLOCK user vectors (float32, `xs`), of their
 * score rows (nPad floats each, `out`) and of their tiles' highest scores (nPad / SCORE_ITEMS floats
 * each, `maxes`). With WebAssembly, one memory holds the item panels (Y), then the slots; without, Y is
 * the model's row-major itemFactors and the slots are plain shared arrays.
 */
type ScoreArgs = {
  memory: SharedWasmMemory; wasm: boolean; Y: Float32Array; nItems: number; nPad: number; K: number;
  xs: Float32Array; out: Float32Array; maxes: Float32Array;
};

/**
 * Score arguments for `threads` threads; with WebAssembly (unless useWasm is false), Y is laid out in
 * `memory` (borrowed: give it back with returnMemory).
 */
function scoreArgs(model: AlsModel, threads: number, borrow: boolean, useWasm = true): ScoreArgs {
  const { itemFactors, nItems, factors: K } = model;
  const nPad = Math.ceil(nItems / SCORE_ITEMS) * SCORE_ITEMS;
  const xsLen = threads * SCORE_BLOCK * K, outLen = threads * SCORE_BLOCK * nPad, maxesLen = outLen / SCORE_ITEMS;
  const bytes = 4 * (nPad * K + xsLen + outLen + maxesLen);
  const wasm = useWasm && wasmAvailable && bytes <= 2 ** 31;
  if (!wasm) {
    return {
      memory: sharedMemory(WASM_PAGE), wasm, Y: toShared(itemFactors), nItems, nPad, K,
      xs: sharedArray(Float32Array, xsLen), out: sharedArray(Float32Array, outLen), maxes: sharedArray(Float32Array, maxesLen),
    };
  }
  const memory = borrow ? borrowMemory(bytes) : sharedMemory(bytes);
  const Y = new Float32Array(memory.buffer, 0, nPad * K);
  itemPanels(itemFactors, nItems, K, Y);
  const xs = new Float32Array(memory.buffer, Y.byteLength, xsLen);
  const out = new Float32Array(memory.buffer, xs.byteOffset + xs.byteLength, outLen);
  return { memory, wasm, Y, nItems, nPad, K, xs, out, maxes: new Float32Array(memory.buffer, out.byteOffset + out.byteLength, maxesLen) };
}

/** A thread's scores of a block of users: user q's at out[q·nPad …], its tiles' highest at maxes[q·nPad / SCORE_ITEMS …]. */
interface BlockScores { out: Float32Array; maxes: Float32Array }

/**
 * Scores every item for `count` ≤ SCORE_BLOCK users, user q's vector being the K values of X from xo[q]
 * on (rounded to float32), in thread's slot (valid until the slot's next use).
 */
function scoreBlock(a: ScoreArgs, thread: number, X: ArrayLike<number>, xo: ArrayLike<number>, count: number): BlockScores {
  const { K, nItems, nPad } = a, groups = nPad / SCORE_ITEMS;
  const xs = a.xs.subarray(thread * SCORE_BLOCK * K, (thread + 1) * SCORE_BLOCK * K);
  const out = a.out.subarray(thread * SCORE_BLOCK * nPad, (thread + 1) * SCORE_BLOCK * nPad);
  const maxes = a.maxes.subarray(thread * SCORE_BLOCK * groups, (thread + 1) * SCORE_BLOCK * groups);
  for (let q = 0; q < count; q++) for (let f = 0; f < K; f++) xs[q * K + f] = X[xo[q] + f];
  if (!a.wasm) {
    scoresJs(a.Y, nItems, K, xs, count, out, nPad, maxes);
    return { out, maxes };
  }
  let inst = scoreInstances.get(a);
  if (!inst) {
    let mod = scoreModules.get(K);
    if (!mod) {
      mod = compileModule(moduleBytes([asmScores(K)], [['scores', 0]]));
      scoreModules.set(K, mod);
    }
    inst = instantiate<ScoreExports>(mod, a.memory);
    scoreInstances.set(a, inst);
  }
  inst.scores(a.Y.byteOffset, groups, xs.byteOffset, count, out.byteOffset, 4 * nPad, maxes.byteOffset);
  return { out, maxes };
}

/** The per-model scoring memory of one-user calls (recommend), made on first use. */
const modelScorers = new WeakMap<Float32Array, ScoreArgs>();
function modelScorer(model: AlsModel): ScoreArgs {
  let a = modelScorers.get(model.itemFactors);
  if (!a) {
    a = scoreArgs(model, 1, false);
    modelScorers.set(model.itemFactors, a);
  }
  return a;
}

/**
 * @internal Every item's score for each of `users` (user q's at q·nItems) and the highest score of
 * each tile of SCORE_ITEMS items (user q's at q·⌈nItems / SCORE_ITEMS⌉), with the WebAssembly kernel
 * where there is one, or with its JavaScript twin when `wasm` is false: for tests that hold them to the bit.
 */
export function alsScores(model: AlsModel, users: ArrayLike<number>, wasm: boolean): { scores: Float32Array; tileMaxes: Float32Array } {
  checkModel(model);
  const { nItems, factors: K } = model, groups = Math.ceil(nItems / SCORE_ITEMS);
  const a = scoreArgs(model, 1, false, wasm);
  const scores = new Float32Array(users.length * nItems), tileMaxes = new Float32Array(users.length * groups), xo = new Float64Array(SCORE_BLOCK);
  for (let q0 = 0; q0 < users.length; q0 += SCORE_BLOCK) {
    const count = Math.min(SCORE_BLOCK, users.length - q0);
    for (let k = 0; k < count; k++) { checkUser(model, users[q0 + k]); xo[k] = users[q0 + k] * K; }
    const { out, maxes } = scoreBlock(a, 0, model.userFactors, xo, count);
    for (let k = 0; k < count; k++) {
      scores.set(out.subarray(k * a.nPad, k * a.nPad + nItems), (q0 + k) * nItems);
      tileMaxes.set(maxes.subarray(k * groups, (k + 1) * groups), (q0 + k) * groups);
    }
  }
  return { scores, tileMaxes };
}

/**
 * Keeps user q's top n of the block's scores, leaving out the mask and the bought row (indices
 * bought[bs..be), sorted). Most tiles hold no score as high as the n kept so far: they are passed over
 * on their highest score alone (a NaN one is looked into, and its NaN left out by push).
 */
function rankScores(
  { out, maxes }: BlockScores, q: number, nItems: number, mask: Uint8Array, bought: Int32Array | null, bs: number, be: number, top: TopN,
): void {
  top.reset();
  const groups = Math.ceil(nItems / SCORE_ITEMS), so = q * groups * SCORE_ITEMS, mo = q * groups;
  let b = bs, floor = -Infinity;
  for (let g = 0; g < groups; g++) {
    if (maxes[mo + g] < floor) continue;
    for (let i = g * SCORE_ITEMS, end = Math.min(nItems, i + SCORE_ITEMS); i < end; i++) {
      const s = out[so + i];
      if (s < floor) continue;
      if (bought) {
        while (b < be && bought[b] < i) b++;
        if (b < be && bought[b] === i) continue;
      }
      if (mask[i]) continue;
      top.push(s, i);
      floor = top.floor;
    }
  }
}

/**
 * The n items with the highest score x_u·y_i for a user (an index, or a factor vector such as
 * {@link foldIn} returns, rounded to float32), best first. With a user index, items the user bought in
 * training are left out unless filterAlreadyBought is false; `exclude` items are always left out.
 */
export function recommend(model: AlsModel, user: number | ArrayLike<number>, n: number, options: RecommendOptions = {}): Ranked {
  checkModel(model);
  checkN(n);
  const K = model.factors;
  let x: ArrayLike<number> = model.userFactors, xo = 0;
  let bought: Int32Array | null = null, bs = 0, be = 0;
  if (typeof user === 'number') {
    checkUser(model, user);
    xo = user * K;
    if (options.filterAlreadyBought ?? true) {
      bought = model.confidence.indices;
      bs = model.confidence.indptr[user];
      be = model.confidence.indptr[user + 1];
    }
  } else {
    if (user.length !== K) throw new RangeError(`a user vector needs ${K} factors, got ${user.length}`);
    for (let f = 0; f < K; f++) {
      if (!Number.isFinite(user[f])) throw new RangeError(`user vector factor ${f} is ${user[f]}; factors must be finite`);
    }
    x = user;
  }
  const mask = excludeMask(model, options.exclude);
  const top = new TopN(Math.min(n, model.nItems));
  rankScores(scoreBlock(modelScorer(model), 0, x, [xo], 1), 0, model.nItems, mask, bought, bs, be, top);
  const items = new Int32Array(top.size), scores = new Float32Array(top.size);
  top.drain(items, scores, 0);
  return { items, scores };
}

/** @internal arguments of {@link alsRecommendKernel} */
export type RecommendArgs = ScoreArgs & {
  users: Int32Array; X: Float32Array; n: number;
  mask: Uint8Array; filter: boolean; indptr: Int32Array; indices: Int32Array;
  outItems: Int32Array; outScores: Float32Array;
};

/** @internal Top-n for users[start:end] into rows of the outputs (padding: item −1, score −Infinity). */
export function alsRecommendKernel(a: RecommendArgs, start: number, end: number, thread: number): void {
  const { users, X, nItems, K, n, mask, filter, indptr, indices, outItems, outScores } = a;
  const top = new TopN(Math.min(n, nItems));
  const xo = new Float64Array(SCORE_BLOCK); // u·K passes 2^31 at ~33M users of 64 factors
  for (let q0 = start; q0 < end; q0 += SCORE_BLOCK) {
    const count = Math.min(SCORE_BLOCK, end - q0);
    for (let k = 0; k < count; k++) xo[k] = users[q0 + k] * K;
    const scores = scoreBlock(a, thread, X, xo, count);
    for (let k = 0; k < count; k++) {
      const q = q0 + k, u = users[q];
      rankScores(scores, k, nItems, mask, filter ? indices : null, indptr[u], indptr[u + 1], top);
      const got = top.drain(outItems, outScores, q * n);
      for (let r = got; r < n; r++) { outItems[q * n + r] = -1; outScores[q * n + r] = -Infinity; }
    }
  }
}

/**
 * {@link recommend} for many users at once, over the worker pool when it pays. Row q of the result
 * (entries q·n .. q·n + n − 1) holds users[q]'s top n, best first, padded with item −1 and score
 * −Infinity when fewer items qualify.
 */
export async function recommendBatch(
  model: AlsModel, users: ArrayLike<number>, n: number, options: RecommendOptions & ParallelOptions = {},
): Promise<{ n: number; items: Int32Array; scores: Float32Array }> {
  checkModel(model);
  checkN(n);
  const us = sharedArray(Int32Array, users.length);
  for (let q = 0; q < users.length; q++) { checkUser(model, users[q]); us[q] = users[q]; }
  const mask = toShared(excludeMask(model, options.exclude));
  const outItems = sharedArray(Int32Array, users.length * n), outScores = sharedArray(Float32Array, users.length * n);
  const cui = model.confidence;
  const threads = threadsFor(options, users.length * model.nItems * model.factors);
  await withPool(options.pool, threads, async (pool) => {
    const scoring = scoreArgs(model, pool.threads, true);
    try {
      const args: RecommendArgs = {
        ...scoring, users: us, X: toShared(model.userFactors), n,
        mask, filter: options.filterAlreadyBought ?? true, indptr: toShared(cui.indptr), indices: toShared(cui.indices), outItems, outScores,
      };
      // chunks of whole tiles of users where there are enough, so few users are scored one by one
      const chunk = Math.min(256, Math.ceil(users.length / (8 * pool.threads) / SCORE_MR) * SCORE_MR);
      await pool.parallelFor(RECOMMEND, users.length, args, { chunk: Math.max(1, chunk) });
    } finally {
      if (scoring.wasm) returnMemory(scoring.memory);
    }
  });
  return { n, items: outItems, scores: outScores };
}

/**
 * The n items most similar to `item` by cosine similarity of item factors, best first; the item itself
 * is left out, and so are items with all-zero factors (no interactions), whose cosine is undefined.
 */
export function similarItems(model: AlsModel, item: number, n: number): Ranked {
  checkModel(model);
  checkItem(model, item);
  checkN(n);
  const { itemFactors: Y, nItems, factors: K } = model;
  const { norms } = itemCache(model);
  const top = new TopN(Math.min(n, nItems));
  if (norms[item] > 0) {
    const x = new Float64Array(K);
    for (let f = 0; f < K; f++) x[f] = Y[item * K + f] / norms[item];
    for (let i = 0; i < nItems; i++) {
      if (i === item || norms[i] === 0) continue;
      // clamped: rounding takes parallel factors a hair past 1, which a cosine never is
      top.push(Math.min(1, Math.max(-1, dotF(Y, i * K, x, K) / norms[i])), i);
    }
  }
  const items = new Int32Array(top.size), scores = new Float32Array(top.size);
  top.drain(items, scores, 0);
  return { items, scores };
}

/** Why an item scores what it does for a user: see {@link explain}. */
export interface Explanation {
  /** y_i·x_u with x_u the exact least-squares user vector (= {@link foldIn}); the sum of the contributions */
  readonly score: number;
  /** the user's past items, by decreasing contribution */
  readonly items: Int32Array;
  /** contribution of each past item: c_uj · y_iᵀ·W_u·y_j with W_u = (YᵀY + λI + Σ (c−1)·y·yᵀ)⁻¹ */
  readonly contributions: Float64Array;
}

/**
 * Explains the score of `item` for a user as a sum over the user's past items (Hu, Koren & Volinsky,
 * section 5; implicit's `explain`): with the Cholesky factor of the user's weighted Gramian W_u⁻¹,
 * past item j contributes c_uj · y_iᵀ·W_u·y_j. The contributions sum to the exact score y_i·x_u.
 */
export function explain(model: AlsModel, user: number | UserInteractions, item: number): Explanation {
  checkModel(model);
  checkItem(model, item);
  const K = model.factors, Y = model.itemFactors;
  const { items, conf } = userConfidences(model, user);
  const m = items.length;
  if (m === 0) return { score: 0, items, contributions: new Float64Array(0) };
  const L = userGramian(itemCache(model).G, model.itemFactors, model.factors, items, conf, 0, items.length);
  const wy = new Float64Array(K);
  for (let f = 0; f < K; f++) wy[f] = Y[item * K + f];
  choleskySolve(L, K, wy);
  const contrib = new Float64Array(m);
  let score = 0;
  for (let k = 0; k < m; k++) { contrib[k] = conf[k] * dotF(Y, items[k] * K, wy, K); score += contrib[k]; }
  const order = Array.from({ length: m }, (_, k) => k).sort((a, b) => contrib[b] - contrib[a] || items[a] - items[b]);
  return { score, items: Int32Array.from(order, (k) => items[k]), contributions: Float64Array.from(order, (k) => contrib[k]) };
}

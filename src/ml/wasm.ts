// A little WebAssembly assembler for the ML kernels that need the CPU's vector units (ALS's float32
// CG solver in als.ts, k-means' float64 distance loops in kmeans.ts). There is no WebAssembly
// toolchain on the build machines, so modules are assembled here from their opcodes: Asm writes one
// function body with structured control flow and named labels, moduleBytes puts the functions into a
// module that imports one shared memory (so every worker thread runs the same code over the same
// data), and WebAssembly.Module validates the result when it is compiled.
// Pure: numbers in, module bytes out; the runtime helpers at the end wrap the global WebAssembly.
import type { SharedWasmMemory } from './pool.js';

// ---------------------------------------------------------------------------------------------
// Encoding

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128 of a non-negative integer below 2³². */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  while (true) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

/** A name: its length, then its characters (ASCII). */
export function name(s: string): number[] {
  return [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
}

/** A section: its id, then its body's size and the body. */
export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

// Opcodes, for Asm.op; the SIMD ones go after the 0xfd prefix, for Asm.simd. Loads, stores and the
// control instructions have methods of their own.
export const SELECT = 0x1b;
export const I32_EQZ = 0x45, I32_EQ = 0x46, I32_NE = 0x47, I32_GT_S = 0x4a, I32_LE_S = 0x4c, I32_GE_S = 0x4e, I32_GE_U = 0x4f;
export const F32_LT = 0x5d, F32_GT = 0x5e, F64_EQ = 0x61, F64_LT = 0x63, F64_GT = 0x64;
export const I32_ADD = 0x6a, I32_SUB = 0x6b, I32_MUL = 0x6c, I32_AND = 0x71, I32_SHL = 0x74;
export const F32_NEG = 0x8c, F32_ADD = 0x92, F32_SUB = 0x93, F32_MUL = 0x94, F32_DIV = 0x95;
export const F64_SQRT = 0x9f, F64_ADD = 0xa0, F64_SUB = 0xa1, F64_MUL = 0xa2, F64_MIN = 0xa4, F64_MAX = 0xa5;
const V128_LOAD = 0x00, V128_STORE = 0x0b;
export const F32X4_SPLAT = 0x13, F64X2_SPLAT = 0x14, F32X4_EXTRACT = 0x1f, F64X2_EXTRACT = 0x21;
const V128_LOAD32_SPLAT = 0x09;
export const I8X16_SHUFFLE = 0x0d, F32X4_MAX = 0xe9;
export const F32X4_ADD = 0xe4, F32X4_MUL = 0xe6, F64X2_SQRT = 0xef, F64X2_ADD = 0xf0, F64X2_SUB = 0xf1, F64X2_MUL = 0xf2;

/** One function body: structured control flow with named labels, locals by index. */
export class Asm {
  readonly code: number[] = [];
  readonly locals: ValType[] = [];
  private readonly labels: symbol[] = [];
  constructor(readonly params: ValType[], readonly results: ValType[]) {}
  /** a new local of type t; its index */
  local(t: ValType): number { this.locals.push(t); return this.params.length + this.locals.length - 1; }
  op(...bytes: number[]): this { this.code.push(...bytes); return this; }
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }
  i32(n: number): this { return this.op(0x41, ...sleb(n)); }
  f32(x: number): this { return this.op(0x43, ...new Uint8Array(Float32Array.of(x).buffer)); }
  f64(x: number): this { return this.op(0x44, ...new Uint8Array(Float64Array.of(x).buffer)); }
  simd(code: number, ...imm: number[]): this { return this.op(0xfd, ...uleb(code), ...imm); }
  call(fn: number): this { return this.op(0x10, ...uleb(fn)); }
  /**
   * Loads and stores at the address on the stack plus a constant offset. Scalars hint their natural
   * alignment; v128 ones hint 2^align bytes (the lane type's: 3 for f64x2, 2 for f32x4). Hints never
   * change results.
   */
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  i32Store(offset = 0): this { return this.op(0x36, 2, ...uleb(offset)); }
  f32Load(offset = 0): this { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.op(0x38, 2, ...uleb(offset)); }
  f64Load(offset = 0): this { return this.op(0x2b, 3, ...uleb(offset)); }
  f64Store(offset = 0): this { return this.op(0x39, 3, ...uleb(offset)); }
  v128Load(offset = 0, align = 3): this { return this.simd(V128_LOAD, align, ...uleb(offset)); }
  v128Store(offset = 0, align = 3): this { return this.simd(V128_STORE, align, ...uleb(offset)); }
  /** one 4-byte value into all four lanes of a v128 */
  v128Load32Splat(offset = 0, align = 2): this { return this.simd(V128_LOAD32_SPLAT, align, ...uleb(offset)); }
  /** memory.copy(dest, src, bytes) and memory.fill(dest, byte, bytes), operands on the stack */
  memoryCopy(): this { return this.op(0xfc, 10, 0, 0); }
  memoryFill(): this { return this.op(0xfc, 11, 0); }
  /** pushes base + (index << shift), both i32 locals */
  addr(base: number, index: number, shift: number): this { return this.get(base).get(index).i32(shift).op(I32_SHL).op(I32_ADD); }
  /** local += by (i32) */
  inc(local: number, by: number): this { return this.get(local).i32(by).op(I32_ADD).set(local); }
  private depth(l: symbol): number[] { return uleb(this.labels.length - 1 - this.labels.lastIndexOf(l)); }
  br(l: symbol): this { return this.op(0x0c, ...this.depth(l)); }
  brIf(l: symbol): this { return this.op(0x0d, ...this.depth(l)); }
  private nest(opcode: number, body: (label: symbol) => void): this {
    const l = Symbol();
    this.op(opcode, 0x40);
    this.labels.push(l);
    body(l);
    this.labels.pop();
    return this.op(0x0b);
  }
  block(body: (exit: symbol) => void): this { return this.nest(0x02, body); }
  loop(body: (top: symbol) => void): this { return this.nest(0x03, body); }
  /** if the i32 on the stack is non-zero */
  when(body: () => void): this { return this.nest(0x04, () => body()); }
  /** for (i = from; i < to (signed); i += step) body(exit, next), with from/to pushing i32s */
  for(i: number, from: () => void, to: () => void, step: number, body: (exit: symbol, next: symbol) => void): this {
    from(); this.set(i);
    return this.block((exit) => this.loop((top) => {
      this.get(i); to(); this.op(I32_GE_S).brIf(exit);
      this.block((next) => body(exit, next));
      this.inc(i, step).br(top);
    }));
  }
  /** for (i = 0; i < n (unsigned, n a local); i++) body(next): `next` skips to the next i */
  each(i: number, n: number, body: (next: symbol) => void): this {
    this.i32(0).set(i);
    return this.block((exit) => this.loop((top) => {
      this.get(i).get(n).op(I32_GE_U).brIf(exit);
      this.block((next) => body(next));
      this.inc(i, 1).br(top);
    }));
  }
  /** the function's entry in the code section: size, locals (one entry each), code, end */
  bytes(): number[] {
    const locals = this.locals.flatMap((t) => [1, t]);
    const body = [...uleb(this.locals.length), ...locals, ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

// ---------------------------------------------------------------------------------------------
// A float64 vector held in registers, and dot products with it in one fixed order, shared by the
// kernels that keep a row or a weight vector in locals (k-means, logistic regression).

/** n float64s in locals: ⌊n/2⌋ f64x2 pairs and, for odd n, the last value in an f64. */
export interface VectorRegs { readonly pairs: number[]; readonly tail: number | null }

export function vectorRegs(A: Asm, n: number): VectorRegs {
  return { pairs: Array.from({ length: n >> 1 }, () => A.local(V128)), tail: n & 1 ? A.local(F64) : null };
}

/** Loads the float64s at the address in local `ptr` (+ offset) into r. */
export function loadVector(A: Asm, r: VectorRegs, ptr: number, offset = 0): void {
  r.pairs.forEach((p, q) => A.get(ptr).v128Load(offset + 16 * q).set(p));
  if (r.tail !== null) A.get(ptr).f64Load(offset + 16 * r.pairs.length).set(r.tail);
}

/**
 * Pushes the dot product of r with a row, in pairwiseDot's order: lane-wise sums of the column pairs
 * (in local `acc`, a v128), then lane 0 + lane 1, then the odd last column. pushPair(q) pushes the
 * row's columns 2q and 2q + 1 as an f64x2; pushTail() pushes its last column as an f64.
 */
export function emitPairwiseDot(A: Asm, r: VectorRegs, acc: number, pushPair: (q: number) => void, pushTail: () => void): void {
  const P = r.pairs.length;
  r.pairs.forEach((p, q) => {
    pushPair(q);
    A.get(p).simd(F64X2_MUL);
    if (q > 0) A.get(acc).simd(F64X2_ADD);
    A.set(acc);
  });
  if (P > 0) A.get(acc).simd(F64X2_EXTRACT, 0).get(acc).simd(F64X2_EXTRACT, 1).op(F64_ADD);
  if (r.tail !== null) {
    pushTail();
    A.get(r.tail).op(F64_MUL);
    if (P > 0) A.op(F64_ADD);
  }
  if (P === 0 && r.tail === null) A.f64(0);
}

/** Σ x[xo + f]·w[f] over f < n, adding in emitPairwiseDot's order (its JavaScript twin, to the bit). */
export function pairwiseDot(x: ArrayLike<number>, xo: number, w: ArrayLike<number>, n: number): number {
  const P = n >> 1;
  let s = 0;
  if (P > 0) {
    let l0 = x[xo] * w[0], l1 = x[xo + 1] * w[1];
    for (let q = 2; q < 2 * P; q += 2) {
      l0 = x[xo + q] * w[q] + l0;
      l1 = x[xo + q + 1] * w[q + 1] + l1;
    }
    s = l0 + l1;
  }
  if (n & 1) s = P > 0 ? s + x[xo + n - 1] * w[n - 1] : x[xo + n - 1] * w[n - 1];
  return s;
}

/**
 * A module of fns (function i is fns[i], one type each) importing its memory as env.memory (shared,
 * 1 to 65536 pages) and exporting the functions named in `exports`, as [name, function index] pairs.
 */
export function moduleBytes(fns: readonly Asm[], exports: readonly (readonly [string, number])[]): Uint8Array {
  const types = fns.flatMap((f) => [0x60, ...uleb(f.params.length), ...f.params, ...uleb(f.results.length), ...f.results]);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(fns.length), ...types]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]),
    ...section(3, [...uleb(fns.length), ...fns.map((_, i) => i)]),
    ...section(7, [...uleb(exports.length), ...exports.flatMap(([s, i]) => [...name(s), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(fns.length), ...fns.flatMap((f) => f.bytes())]),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Running modules: the global WebAssembly (typed here, as the project's lib has no DOM types).

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => SharedWasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Whether this runtime has WebAssembly. */
export const wasmAvailable = WA !== undefined;
/** Bytes in a WebAssembly memory page. */
export const WASM_PAGE = 65536;

function api(): WasmApi {
  if (!WA) throw new Error('WebAssembly is not available');
  return WA;
}

/** A shared memory of at least `bytes` (and at least one page), that can neither grow nor shrink. */
export function sharedMemory(bytes: number): SharedWasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  return new (api()).Memory({ initial: pages, maximum: pages, shared: true });
}

// Touching fresh memory is slow: the first write to each page faults, about 3 ms per MiB on the build
// machine, so copying 16 MB of features into a new memory costs more than ten passes over them. A fit
// therefore borrows its memory, and gives it back when done: the one spare kept per thread (up to
// SPARE_MAX_BYTES) serves the next fit that fits in it.
const SPARE_MAX_BYTES = 256 * 2 ** 20;
let spare: SharedWasmMemory | null = null;

/** A shared memory of at least `bytes`: the thread's spare when it is large enough (its contents are stale), else a new one. */
export function borrowMemory(bytes: number): SharedWasmMemory {
  if (spare !== null && spare.buffer.byteLength >= bytes) {
    const m = spare;
    spare = null;
    return m;
  }
  return sharedMemory(bytes);
}

/** Gives a borrowed memory back: kept as the spare when it is larger than the current one and not too large. */
export function returnMemory(m: SharedWasmMemory): void {
  const size = m.buffer.byteLength;
  if (size <= SPARE_MAX_BYTES && (spare === null || spare.buffer.byteLength < size)) spare = m;
}

/** Compiles (and so validates) module bytes. */
export function compileModule(bytes: Uint8Array): object {
  return new (api()).Module(bytes);
}

/** A compiled module instantiated over `memory` (its env.memory); its exports, as T. */
export function instantiate<T>(module: object, memory: SharedWasmMemory): T {
  return new (api()).Instance(module, { env: { memory } }).exports as unknown as T;
}

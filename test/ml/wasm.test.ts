import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Asm, compileModule, instantiate, moduleBytes, name, section, sharedMemory, sleb, uleb, wasmAvailable, WASM_PAGE,
  F32, F32_ADD, F32X4_ADD, F32X4_EXTRACT, F32X4_SPLAT, F64, F64_ADD, F64_LT, F64X2_ADD, I32, I32_ADD, I32_MUL, V128,
} from '../../src/ml/wasm.js';

const validate = (bytes: Uint8Array): boolean =>
  (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(bytes);

const hex = (bytes: ArrayLike<number>): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

test('unsigned LEB128 matches the spec examples and the 32-bit limits', () => {
  assert.deepEqual(uleb(0), [0x00]);
  assert.deepEqual(uleb(1), [0x01]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(300), [0xac, 0x02]);
  assert.deepEqual(uleb(16384), [0x80, 0x80, 0x01]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(uleb(65536), [0x80, 0x80, 0x04]);
  assert.deepEqual(uleb(2 ** 32 - 1), [0xff, 0xff, 0xff, 0xff, 0x0f]);
});

test('signed LEB128 gets the sign bit of the last byte right', () => {
  assert.deepEqual(sleb(0), [0x00]);
  assert.deepEqual(sleb(1), [0x01]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]); // bit 6 set: one more byte keeps it positive
  assert.deepEqual(sleb(-64), [0x40]);
  assert.deepEqual(sleb(-65), [0xbf, 0x7f]);
  assert.deepEqual(sleb(-8), [0x78]); // ~7, the mask als.ts uses
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(sleb(2 ** 31 - 1), [0xff, 0xff, 0xff, 0xff, 0x07]);
  assert.deepEqual(sleb(-(2 ** 31)), [0x80, 0x80, 0x80, 0x80, 0x78]);
});

test('names and sections carry their length first', () => {
  assert.deepEqual(name('env'), [3, 0x65, 0x6e, 0x76]);
  assert.deepEqual(name(''), [0]);
  assert.deepEqual(section(7, [1, 2, 3]), [7, 3, 1, 2, 3]);
  const long = section(10, new Array<number>(200).fill(0));
  assert.deepEqual(long.slice(0, 3), [10, 0xc8, 0x01]);
  assert.equal(long.length, 203);
});

test('branches name their block; depths count outwards from the innermost', () => {
  const A = new Asm([], []);
  A.block((outer) => A.loop((top) => { A.br(outer).brIf(top); }));
  assert.equal(hex(A.code), '02 40 03 40 0c 01 0d 00 0b 0b');
  assert.equal(hex(new Asm([I32], [F64]).bytes()), '02 00 0b'); // no locals, no code, end
});

function adder(): Asm {
  const A = new Asm([I32, I32], [I32]);
  A.get(0).get(1).op(I32_ADD);
  return A;
}

test('a module that adds two numbers has the expected bytes, validates and runs', () => {
  const bytes = moduleBytes([adder()], [['add', 0]]);
  const expected = [
    '00 61 73 6d 01 00 00 00', // magic, version 1
    '01 07 01 60 02 7f 7f 01 7f', // types: (i32, i32) → i32
    '02 12 01 03 65 6e 76 06 6d 65 6d 6f 72 79 02 03 01 80 80 04', // env.memory: shared, 1 to 65536 pages
    '03 02 01 00', // function 0 has type 0
    '07 07 01 03 61 64 64 00 00', // export "add" = function 0
    '0a 09 01 07 00 20 00 20 01 6a 0b', // local.get 0, local.get 1, i32.add, end
  ].join(' ');
  assert.equal(hex(bytes), expected);
  assert.ok(wasmAvailable);
  assert.ok(validate(bytes));
  const { add } = instantiate<{ add(a: number, b: number): number }>(compileModule(bytes), sharedMemory(0));
  assert.equal(add(2, 3), 5);
  assert.equal(add(-7, 3), -4);
  assert.equal(add(2 ** 31 - 1, 1), -(2 ** 31)); // i32 wraps
});

test('loops, locals, loads and stores work over the shared memory', () => {
  // sum(p, n) = Σ p[i] over n float64 at byte address p, with `each`, `addr` and a label to skip
  // negative values; scale(p, n, s): p[i] ← p[i]·s over i32 with the signed `for` loop, step 1
  const sum = new Asm([I32, I32], [F64]);
  {
    const i = sum.local(I32), acc = sum.local(F64), v = sum.local(F64);
    sum.f64(0).set(acc);
    sum.each(i, 1, (next) => {
      sum.addr(0, i, 3).f64Load().tee(v).f64(0).op(F64_LT).brIf(next);
      sum.get(acc).get(v).op(F64_ADD).set(acc);
    });
    sum.get(acc);
  }
  const scale = new Asm([I32, I32, I32], []);
  {
    const i = scale.local(I32);
    scale.for(i, () => scale.i32(0), () => scale.get(1), 1, () => {
      scale.addr(0, i, 2).addr(0, i, 2).i32Load().get(2).op(I32_MUL).i32Store();
    });
  }
  // lanes(p) = Σ of (p[0..3] + 0.5) as float32x4 at p, with v128 loads and stores at an offset
  const lanes = new Asm([I32], [F32]);
  {
    const v = lanes.local(V128);
    lanes.get(0).v128Load(0, 2).f32(0.5).simd(F32X4_SPLAT).simd(F32X4_ADD).set(v);
    lanes.get(0).get(v).v128Store(16, 2);
    lanes.get(v).simd(F32X4_EXTRACT, 0).get(v).simd(F32X4_EXTRACT, 3).op(F32_ADD);
  }
  // pairs(p): p[0..1] += p[2..3] as float64x2; memory.copy of 16 bytes to p + 32
  const pairs = new Asm([I32], []);
  pairs.get(0).get(0).v128Load().get(0).v128Load(16).simd(F64X2_ADD).v128Store();
  pairs.get(0).i32(32).op(I32_ADD).get(0).i32(16).memoryCopy();

  const bytes = moduleBytes([sum, scale, lanes, pairs], [['sum', 0], ['scale', 1], ['lanes', 2], ['pairs', 3]]);
  assert.ok(validate(bytes));
  const memory = sharedMemory(3 * WASM_PAGE - 1);
  assert.equal(memory.buffer.byteLength, 3 * WASM_PAGE);
  assert.ok(memory.buffer instanceof SharedArrayBuffer);
  const fns = instantiate<{
    sum(p: number, n: number): number; scale(p: number, n: number, s: number): void; lanes(p: number): number; pairs(p: number): void;
  }>(compileModule(bytes), memory);

  const f64 = new Float64Array(memory.buffer, 64, 5);
  f64.set([1.5, -2, 2.25, -0.5, 4]);
  assert.equal(fns.sum(64, 5), 1.5 + 2.25 + 4);
  assert.equal(fns.sum(64, 0), 0);

  const i32 = new Int32Array(memory.buffer, 1024, 4);
  i32.set([1, -2, 3, 4]);
  fns.scale(1024, 3, -3);
  assert.deepEqual([...i32], [-3, 6, -9, 4]);

  const f32 = new Float32Array(memory.buffer, 2048, 8);
  f32.set([1, 2, 3, 4]);
  assert.equal(fns.lanes(2048), 1.5 + 4.5);
  assert.deepEqual([...f32.subarray(4)], [1.5, 2.5, 3.5, 4.5]);

  const p = new Float64Array(memory.buffer, 4096, 6);
  p.set([1, 2, 10, 20, 0, 0]);
  fns.pairs(4096);
  assert.deepEqual([...p], [11, 22, 10, 20, 11, 22]);
});

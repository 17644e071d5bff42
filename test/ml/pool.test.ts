import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPool, isShared, sharedArray, toShared, withPool, type Kernel, type KernelFn } from '../../src/ml/pool.js';

// Kernels for the workers live in data: URL modules, so this test file is never imported by a worker.
function kernel<A extends Record<string, Int32Array | Float64Array | number>>(name: string, fn: KernelFn<A>): Kernel<A> {
  return { module: `data:text/javascript,${encodeURIComponent(`export const ${name} = ${fn.toString()};`)}`, name, fn };
}

type SquareArgs = { out: Float64Array; hits: Int32Array; byThread: Int32Array };
const square = kernel<SquareArgs>('square', (a, start, end, thread) => {
  for (let i = start; i < end; i++) {
    a.out[i] = i * i;
    Atomics.add(a.hits, i, 1);
  }
  Atomics.add(a.byThread, thread, end - start);
});

type WaitArgs = { flag: Int32Array; byThread: Int32Array };
// Thread 0 (the caller) blocks until another thread has done a chunk, proving the workers take part.
const waitForWorker = kernel<WaitArgs>('waitForWorker', (a, start, end, thread) => {
  Atomics.add(a.byThread, thread, end - start);
  if (thread === 0) Atomics.wait(a.flag, 0, 0, 20_000);
  else { Atomics.store(a.flag, 0, 1); Atomics.notify(a.flag, 0); }
});

type FailArgs = { at: number };
const failAt = kernel<FailArgs>('failAt', (a, start, end) => {
  if (a.at >= start && a.at < end) throw new RangeError(`bad item ${a.at}`);
});

test('every item of the loop is processed exactly once, across threads', async () => {
  const pool = createPool({ threads: 2 });
  try {
    for (const n of [0, 1, 7, 1000, 12_345]) {
      const out = sharedArray(Float64Array, n), hits = sharedArray(Int32Array, n), byThread = sharedArray(Int32Array, 2);
      await pool.parallelFor(square, n, { out, hits, byThread }, { chunk: 13 });
      for (let i = 0; i < n; i++) {
        assert.equal(hits[i], 1, `item ${i} processed ${hits[i]} times`);
        assert.equal(out[i], i * i);
      }
      assert.equal(byThread[0] + byThread[1], n);
    }
  } finally {
    await pool.close();
  }
});

test('the worker threads really run chunks (thread ids 1..threads−1)', async () => {
  const pool = createPool({ threads: 2 });
  try {
    const flag = sharedArray(Int32Array, 1), byThread = sharedArray(Int32Array, 2);
    await pool.parallelFor(waitForWorker, 64, { flag, byThread }, { chunk: 1 });
    assert.equal(flag[0], 1, 'no worker took a chunk');
    assert.ok(byThread[1] > 0);
    assert.equal(byThread[0] + byThread[1], 64);
  } finally {
    await pool.close();
  }
});

test('a kernel error rejects the loop with its message, wherever it ran; the pool stays usable', async () => {
  const pool = createPool({ threads: 2 });
  try {
    for (let at = 0; at < 200; at += 37) {
      await assert.rejects(pool.parallelFor(failAt, 200, { at }, { chunk: 1 }), new RegExp(`bad item ${at}`));
    }
    const out = sharedArray(Float64Array, 50), hits = sharedArray(Int32Array, 50), byThread = sharedArray(Int32Array, 2);
    await pool.parallelFor(square, 50, { out, hits, byThread }, { chunk: 5 });
    assert.equal(out[49], 49 * 49);
  } finally {
    await pool.close();
  }
});

test('one thread, small loops and serialBelow run on the caller without workers', async () => {
  const one = createPool({ threads: 1 });
  const out = sharedArray(Float64Array, 100), hits = sharedArray(Int32Array, 100), byThread = sharedArray(Int32Array, 2);
  await one.parallelFor(square, 100, { out, hits, byThread }, { chunk: 3 });
  assert.deepEqual([...byThread], [100, 0]);
  await one.close();
  const two = createPool({ threads: 2 });
  try {
    byThread.fill(0);
    await two.parallelFor(square, 100, { out, hits, byThread }, { chunk: 3, serialBelow: 100 });
    assert.deepEqual([...byThread], [100, 0]);
  } finally {
    await two.close();
  }
});

test('arguments are checked: typed arrays must be shared; bad sizes are rejected; closed pools refuse work', async () => {
  const pool = createPool({ threads: 2 });
  const plain = { out: new Float64Array(4), hits: sharedArray(Int32Array, 4), byThread: sharedArray(Int32Array, 2) };
  await assert.rejects(pool.parallelFor(square, 4, plain), /'out' is a typed array on a plain ArrayBuffer/);
  await assert.rejects(pool.parallelFor(square, -1, { ...plain, out: toShared(plain.out) }), /non-negative integer/);
  await assert.rejects(pool.parallelFor(square, 4, { ...plain, out: toShared(plain.out) }, { chunk: 0 }), /chunk must be a positive integer/);
  await pool.close();
  await assert.rejects(pool.parallelFor(square, 4, { ...plain, out: toShared(plain.out) }), /closed/);
  assert.throws(() => createPool({ threads: 0 }), /threads must be an integer in 1..256/);
  assert.equal(isShared(toShared(new Int32Array(3))), true);
  const s = sharedArray(Int32Array, 2);
  assert.equal(toShared(s), s);
});

test('withPool closes the pool it made, even when the body throws', async () => {
  let seen: { threads: number } | null = null;
  await assert.rejects(withPool(undefined, 2, async (pool) => { seen = pool; throw new Error('boom'); }), /boom/);
  assert.ok(seen);
  await assert.rejects((seen as unknown as ReturnType<typeof createPool>).parallelFor(square, 1, { out: sharedArray(Float64Array, 1), hits: sharedArray(Int32Array, 1), byThread: sharedArray(Int32Array, 2) }), /closed/);
});

test('a pool that is never closed does not keep the process alive', () => {
  const poolUrl = new URL('../../src/ml/pool.ts', import.meta.url).href;
  const script = `
    const { createPool, sharedArray } = await import(${JSON.stringify(poolUrl)});
    const k = { module: 'data:text/javascript,export const f = (a, s, e) => { for (let i = s; i < e; i++) a.out[i] = 1; };', name: 'f',
      fn: (a, s, e) => { for (let i = s; i < e; i++) a.out[i] = 1; } };
    const pool = createPool({ threads: 2 });
    const out = sharedArray(Float64Array, 1000);
    await pool.parallelFor(k, 1000, { out }, { chunk: 10 });
    console.log('sum', out.reduce((s, v) => s + v, 0));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 30_000, encoding: 'utf8',
  });
  assert.equal(r.signal, null, `the process hung and was killed; stderr: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sum 1000/);
});

test('compiled to dist/, the pool starts its .js worker entry, also from node -e (plain node, no tsx)', (t) => {
  const compiled = new URL('../../dist/ml/pool.js', import.meta.url);
  if (!existsSync(compiled) || !existsSync(new URL('../../dist/ml/pool.worker.js', import.meta.url))) {
    t.skip('dist/ is not built (npm test builds it before the unit tests)');
    return;
  }
  const script = `
    const { createPool, sharedArray } = await import(${JSON.stringify(compiled.href)});
    const body = (a, s, e, thread) => { Atomics.add(a.byThread, thread, e - s); if (thread === 0) Atomics.wait(a.flag, 0, 0, 1000); else { Atomics.store(a.flag, 0, 1); Atomics.notify(a.flag, 0); } };
    const k = { module: 'data:text/javascript,' + encodeURIComponent('export const f = ' + body.toString()), name: 'f', fn: body };
    const pool = createPool({ threads: 2 });
    const flag = sharedArray(Int32Array, 1), byThread = sharedArray(Int32Array, 2);
    await pool.parallelFor(k, 32, { flag, byThread }, { chunk: 1 });
    await pool.close();
    console.log(JSON.stringify([...byThread]));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [caller, worker] = JSON.parse(r.stdout) as number[];
  assert.equal(caller + worker, 32);
  assert.ok(worker > 0, 'the compiled worker took no chunk');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/ml/random.js';

test('the same seed gives the same stream; another seed another', () => {
  const a = createRng(42), b = createRng(42), c = createRng(43);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
});

test('uniform in [0,1) with the right mean; normals with mean 0 and variance 1', () => {
  const r = createRng(7);
  let s = 0, min = 1, max = 0;
  for (let i = 0; i < 100_000; i++) { const x = r.next(); s += x; min = Math.min(min, x); max = Math.max(max, x); }
  assert.ok(min >= 0 && max < 1);
  assert.ok(Math.abs(s / 100_000 - 0.5) < 0.005);
  let m = 0, v = 0;
  for (let i = 0; i < 100_000; i++) { const z = r.normal(); m += z; v += z * z; }
  assert.ok(Math.abs(m / 100_000) < 0.02);
  assert.ok(Math.abs(v / 100_000 - 1) < 0.02);
});

test('int(n) covers 0..n-1 evenly; forks are independent and reproducible', () => {
  const r = createRng(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 50_000; i++) counts[r.int(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - 5000) < 300, `count ${c}`);
  assert.equal(createRng(5).fork(1).next(), createRng(5).fork(1).next());
  assert.notEqual(createRng(5).fork(1).next(), createRng(5).fork(2).next());
  assert.throws(() => createRng(NaN), /seed/);
});

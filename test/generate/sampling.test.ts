import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/ml/random.js';
import { aliasTable, groupedAlias, sampleAlias, sampleGroup, WeightTree } from '../../src/generate/sampling.js';
import { putInt, packTexts, putText } from '../../src/generate/bytes.js';

test('alias table draws in proportion to the weights, never a zero weight', () => {
  const weights = [5, 0, 1, 3, 0.5, 0.5];
  const t = aliasTable(weights);
  const rng = createRng(3);
  const counts = new Array(weights.length).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) counts[sampleAlias(t, rng.next())]++;
  const sum = weights.reduce((a, b) => a + b, 0);
  weights.forEach((w, i) => assert.ok(Math.abs(counts[i] / n - w / sum) < 0.005, `item ${i}: ${counts[i] / n} vs ${w / sum}`));
  assert.equal(counts[1], 0);
  assert.throws(() => aliasTable([0, 0]), /sum to 0/);
  assert.throws(() => aliasTable([1, -1]), /weights must be finite and >= 0/);
});

test('grouped alias draws only members of the group, by weight', () => {
  const start = Int32Array.from([0, 2, 5]);
  const members = Int32Array.from([4, 1, 0, 2, 3]);
  const weights = [1, 3, 0, 1, 1]; // by member index
  const g = groupedAlias(start, members, weights);
  const rng = createRng(9);
  const counts = new Map<number, number>();
  for (let i = 0; i < 40_000; i++) { const m = sampleGroup(g, 0, rng.next()); counts.set(m, (counts.get(m) ?? 0) + 1); }
  assert.deepEqual([...counts.keys()].sort(), [1, 4]);
  assert.ok(Math.abs(counts.get(1)! / 40_000 - 0.75) < 0.01);
  for (let i = 0; i < 10_000; i++) assert.notEqual(sampleGroup(g, 1, rng.next()), 2, 'member 2 has weight 0');
});

test('weight tree: draws follow integer weights as they change; removed items are never drawn', () => {
  const tree = new WeightTree(10);
  for (let i = 0; i < 10; i++) tree.set(i, i + 1);
  assert.equal(tree.total, 55);
  for (let i = 0; i < 10; i += 2) tree.set(i, 0);
  assert.equal(tree.total, 2 + 4 + 6 + 8 + 10);
  const rng = createRng(4);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 60_000; i++) counts[tree.sample(rng.next())]++;
  for (let i = 0; i < 10; i += 2) assert.equal(counts[i], 0);
  for (let i = 1; i < 10; i += 2) assert.ok(Math.abs(counts[i] / 60_000 - (i + 1) / 30) < 0.01, `item ${i}`);
  // exact boundaries: target t falls in the item whose cumulative range holds it
  assert.equal(tree.find(0), 1);
  assert.equal(tree.find(1), 1);
  assert.equal(tree.find(2), 3);
  assert.equal(tree.find(29), 9);
  const empty = new WeightTree(3);
  assert.equal(empty.sample(0.5), -1);
});

test('byte writers: integers (negative too) and packed texts', () => {
  const out = new Uint8Array(64);
  let pos = putInt(out, 0, 536365);
  out[pos++] = 44;
  pos = putInt(out, pos, -48);
  out[pos++] = 44;
  pos = putInt(out, pos, 0);
  const texts = packTexts(['', 'POST,POSTAGE,', '85123A,"A, B",']);
  pos = putText(out, pos, texts, 2);
  pos = putText(out, pos, texts, 0);
  assert.equal(Buffer.from(out.subarray(0, pos)).toString(), '536365,-48,085123A,"A, B",');
  assert.equal(texts.maxLength, 14);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleRows, silhouetteSamples, silhouetteScore } from '../../src/ml/silhouette.js';
import { fromRows, matrix, type Matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = new URL('../../bench/sklearn_kmeans.py', import.meta.url).pathname;

function blobs(seed: number, n: number, d: number, k: number, spread: number): { X: Matrix; labels: Int32Array } {
  const rng = createRng(seed);
  const centers = Array.from({ length: k * d }, () => 3 * rng.normal());
  const X = matrix(n, d), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    labels[i] = c;
    for (let f = 0; f < d; f++) X.data[i * d + f] = centers[c * d + f] + spread * rng.normal();
  }
  return { X, labels };
}

function sklearnSilhouette(X: Matrix, labels: Int32Array): { score: number; samples: number[] } {
  const probe = spawnSync(PYTHON, ['-c', 'import sklearn'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    assert.fail(`scikit-learn is missing from ${PYTHON} (the reference these tests compare against): run \`apt-get install python3-sklearn\` (or \`bash scripts/install-test-deps.sh\` as root). ${probe.error?.message ?? probe.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'floyo-silhouette-'));
  try {
    writeFileSync(join(dir, 'x.f64'), Buffer.from(X.data.buffer, X.data.byteOffset, X.data.byteLength));
    writeFileSync(join(dir, 'labels.i32'), Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength));
    const r = spawnSync(PYTHON, [SCRIPT, 'silhouette', '--data', join(dir, 'x.f64'), '--rows', String(X.rows), '--cols', String(X.cols), '--labels', join(dir, 'labels.i32')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `sklearn reference failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('agrees with sklearn.metrics.silhouette_samples and silhouette_score to 1e-9', () => {
  const { X, labels } = blobs(1, 400, 4, 5, 2.5);
  labels[17] = 9; // a cluster of one (scores 0) and label ids that are not 0..L−1
  labels[40] = 7;
  labels[41] = 7;
  const sk = sklearnSilhouette(X, labels);
  const mine = silhouetteSamples(X, labels);
  assert.equal(mine[17], 0);
  for (let i = 0; i < X.rows; i++) assert.ok(Math.abs(mine[i] - sk.samples[i]) < 1e-9, `row ${i}: ${mine[i]} vs ${sk.samples[i]}`);
  assert.ok(Math.abs(silhouetteScore(X, labels) - sk.score) < 1e-9);
});

test('closed form on a line: a = mean distance inside, b = nearest other cluster', () => {
  const X = fromRows([[0], [1], [10], [11], [30]]);
  const s = silhouetteSamples(X, [0, 0, 1, 1, 2]);
  const expect = [
    (10.5 - 1) / 10.5, // a = 1, b = mean(10, 11)
    (9.5 - 1) / 9.5,
    (9.5 - 1) / 9.5, // b = mean(10, 9) from cluster 0; cluster 2 is 20 away
    (10.5 - 1) / 10.5,
    0, // alone in its cluster
  ];
  expect.forEach((v, i) => assert.ok(Math.abs(s[i] - v) < 1e-15, `row ${i}: ${s[i]} vs ${v}`));
  assert.ok(Math.abs(silhouetteScore(X, [0, 0, 1, 1, 2]) - expect.reduce((a, b) => a + b) / 5) < 1e-15);
  // a point sitting among the other cluster scores negative
  assert.ok(silhouetteSamples(fromRows([[0], [1], [10], [11], [10.5]]), [0, 0, 1, 1, 0])[4] < 0);
});

test('sampled silhouette: the exact silhouette of a seeded sample of rows, close to the full one', () => {
  const { X, labels } = blobs(2, 3000, 3, 4, 1.5);
  const exact = silhouetteScore(X, labels);
  const sampled = silhouetteScore(X, labels, { sampleSize: 600, seed: 4 });
  assert.equal(silhouetteScore(X, labels, { sampleSize: 600, seed: 4 }), sampled, 'same seed, same score');
  assert.notEqual(silhouetteScore(X, labels, { sampleSize: 600, seed: 5 }), sampled);
  assert.ok(Math.abs(sampled - exact) < 0.05, `sampled ${sampled} vs exact ${exact}`);
  const rows = sampleRows(3000, 600, 4);
  assert.equal(new Set(rows).size, 600);
  assert.ok(rows.every((r, i) => r >= 0 && r < 3000 && (i === 0 || r > rows[i - 1])));
  const sub = matrix(600, 3), subLabels = new Int32Array(600);
  rows.forEach((r, i) => { sub.data.set(X.data.subarray(3 * r, 3 * r + 3), 3 * i); subLabels[i] = labels[r]; });
  assert.equal(silhouetteScore(sub, subLabels), sampled);
  assert.equal(silhouetteScore(X, labels, { sampleSize: 5000 }), exact, 'a sample as large as the data is the data');
});

test('invalid input is refused with a message saying what is allowed', () => {
  const X = fromRows([[0, 0], [1, 1], [2, 2], [3, 3]]);
  assert.throws(() => silhouetteSamples(X, [0, 0, 0, 0]), /needs from 2 to rows − 1 = 3 distinct labels, got 1 for 4 rows/);
  assert.throws(() => silhouetteSamples(X, [0, 1, 2, 3]), /got 4 for 4 rows/);
  assert.throws(() => silhouetteSamples(X, [0, 1, 1]), /labels has 3 values but X has 4 rows/);
  assert.throws(() => silhouetteSamples(X, [0, 1, 1.5, 0]), /labels must be integers, got 1.5 at row 2/);
  assert.throws(() => silhouetteSamples(fromRows([[0, 0], [1, NaN], [2, 2]]), [0, 1, 1]), /non-finite value \(NaN\) at row 1, column 1/);
  assert.throws(() => silhouetteScore(X, [0, 0, 1, 1], { sampleSize: 1 }), /sampleSize must be an integer ≥ 2, got 1/);
  assert.throws(() => sampleRows(10, 11, 0), /sampleSize must be an integer from 0 to rows \(10\), got 11/);
});

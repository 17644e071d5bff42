import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fromRows, matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { fitScaler, inverse, transform } from '../../src/ml/scaler.js';

const PYTHON = '/usr/bin/python3';
const REFERENCE = `
import json, sys
import numpy as np
from sklearn.preprocessing import StandardScaler
spec = json.load(sys.stdin)
X = np.array(spec["data"], dtype=np.float64).reshape(spec["rows"], spec["cols"])
s = StandardScaler().fit(X)
print(json.dumps({"mean": s.mean_.tolist(), "scale": s.scale_.tolist(), "var": s.var_.tolist(), "transformed": s.transform(X).ravel().tolist()}))
`;

function sklearnScaler(X: { rows: number; cols: number; data: Float64Array }): { mean: number[]; scale: number[]; var: number[]; transformed: number[] } {
  const r = spawnSync(PYTHON, ['-c', REFERENCE], { input: JSON.stringify({ rows: X.rows, cols: X.cols, data: [...X.data] }), encoding: 'utf8' });
  if (r.error || /No module named '(sklearn|numpy|scipy)'/.test(r.stderr ?? '')) {
    assert.fail(`scikit-learn, the reference these tests compare against, is not usable with ${PYTHON}: ${(r.error?.message ?? r.stderr).trim()}. Install it: apt-get install python3-sklearn (or run bash scripts/install-test-deps.sh as root)`);
  }
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const close = (a: number, b: number, rel = 1e-12) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

test('mean, scale, variance and the transform agree with scikit-learn StandardScaler, constant columns included', () => {
  const rng = createRng(5);
  const n = 500, d = 5;
  const X = matrix(n, d);
  for (let i = 0; i < n; i++) {
    X.data[i * d] = 1e6 + rng.normal() * 3; // large offset: the two-pass variance matters
    X.data[i * d + 1] = rng.normal() * 1e-3;
    X.data[i * d + 2] = 42; // constant
    X.data[i * d + 3] = 0.1 + (i % 2) * 1e-15; // varies only at rounding level of its mean: constant to scikit-learn too
    X.data[i * d + 4] = Math.floor(rng.next() * 10);
  }
  const s = fitScaler(X), ref = sklearnScaler(X);
  for (let j = 0; j < d; j++) {
    assert.ok(close(s.mean[j], ref.mean[j]), `mean[${j}] ${s.mean[j]} vs ${ref.mean[j]}`);
    assert.ok(close(s.scale[j], ref.scale[j], 1e-9), `scale[${j}] ${s.scale[j]} vs ${ref.scale[j]}`);
    assert.ok(Math.abs(s.variance[j] - ref.var[j]) <= 1e-9 * Math.max(ref.var[j], 1e-300), `var[${j}] ${s.variance[j]} vs ${ref.var[j]}`);
  }
  assert.equal(s.scale[2], 1);
  assert.equal(s.scale[3], 1);
  const T = transform(s, X);
  for (let i = 0; i < T.data.length; i++) assert.ok(Math.abs(T.data[i] - ref.transformed[i]) <= 1e-9, `transformed[${i}]`);
  for (let i = 0; i < n; i++) assert.equal(T.data[i * d + 2], 0);
});

test('transformed columns have mean 0 and variance 1; inverse undoes transform', () => {
  const rng = createRng(6);
  const X = matrix(300, 3, Float64Array.from({ length: 900 }, (_, i) => rng.normal() * (i % 3 + 1) * 10 + (i % 3) * 100));
  const s = fitScaler(X);
  const T = transform(s, X);
  const t = fitScaler(T);
  for (let j = 0; j < 3; j++) {
    assert.ok(Math.abs(t.mean[j]) < 1e-12);
    assert.ok(Math.abs(t.variance[j] - 1) < 1e-12);
  }
  const back = inverse(s, T);
  for (let i = 0; i < X.data.length; i++) assert.ok(Math.abs(back.data[i] - X.data[i]) <= 1e-12 * Math.max(1, Math.abs(X.data[i])));
  assert.notEqual(T.data, X.data); // a new matrix: the input is never modified
});

test('withMean / withStd switch the centring and the scaling off', () => {
  const X = fromRows([[1, 10], [3, 30]]);
  const noMean = fitScaler(X, { withMean: false });
  assert.deepEqual([...noMean.mean], [0, 0]);
  assert.deepEqual([...transform(noMean, X).data], [1, 1, 3, 3]);
  const noStd = fitScaler(X, { withStd: false });
  assert.deepEqual([...noStd.scale], [1, 1]);
  assert.deepEqual([...transform(noStd, X).data], [-1, -10, 1, 10]);
});

test('a single row is fine (every column constant); bad input fails clearly', () => {
  const one = fitScaler(fromRows([[5, -2]]));
  assert.deepEqual([...one.scale], [1, 1]);
  assert.deepEqual([...transform(one, fromRows([[6, -2]])).data], [1, 0]);
  assert.throws(() => fitScaler(matrix(0, 3)), /no rows/);
  assert.throws(() => fitScaler(fromRows([[1, NaN]])), /non-finite value \(NaN\) at row 0, column 1/);
  assert.throws(() => transform(one, fromRows([[1, 2, 3]])), /3 columns but the scaler was fitted on 2/);
  assert.throws(() => transform(one, fromRows([[1, Infinity]])), /non-finite value \(Infinity\)/);
  assert.throws(() => inverse(one, fromRows([[1]])), /1 columns but the scaler was fitted on 2/);
  assert.throws(() => fitScaler(fromRows([[1]]), { withMean: 'yes' as unknown as boolean }), /withMean and withStd must be true or false/);
});

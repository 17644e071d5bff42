import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSparse, csrFromDense, csrFromTriplets, csrRows, toCsc, toCsr, transposeCsc, type Csc, type Csr } from '../../src/ml/sparse.js';
import { createRng } from '../../src/ml/random.js';

function dense(a: Csr): number[][] {
  const out = Array.from({ length: a.nRows }, () => new Array<number>(a.nCols).fill(0));
  for (let r = 0; r < a.nRows; r++) for (let k = a.indptr[r]; k < a.indptr[r + 1]; k++) out[r][a.indices[k]] = a.data[k];
  return out;
}

test('triplets in any order become sorted CSR rows; duplicates are summed; empty rows stay empty', () => {
  const a = csrFromTriplets(4, 5, [2, 0, 2, 0, 2, 0], [4, 3, 1, 0, 4, 3], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...a.indptr], [0, 2, 2, 4, 4]);
  assert.deepEqual([...a.indices], [0, 3, 1, 4]);
  assert.deepEqual([...a.data], [4, 8, 3, 6]);
  assert.deepEqual(dense(a), [[4, 0, 0, 8, 0], [0, 0, 0, 0, 0], [0, 3, 0, 0, 6], [0, 0, 0, 0, 0]]);
  assert.throws(() => csrFromTriplets(4, 5, [0, 0], [1, 1], [1, 1], { duplicates: 'error' }), /row 0, column 1 is given more than once/);
});

test('a random matrix survives CSR → CSC → CSR, and the CSC is the CSR of the transpose', () => {
  const rng = createRng(3);
  const nRows = 37, nCols = 23, rows: number[] = [], cols: number[] = [], vals: number[] = [];
  const ref = Array.from({ length: nRows }, () => new Array<number>(nCols).fill(0));
  for (let k = 0; k < 300; k++) {
    const r = rng.int(nRows), c = rng.int(nCols), v = 1 + rng.int(5);
    rows.push(r); cols.push(c); vals.push(v); ref[r][c] += v;
  }
  const a = checkSparse(csrFromTriplets(nRows, nCols, rows, cols, vals));
  assert.deepEqual(dense(a), ref);
  const c: Csc = checkSparse(toCsc(a));
  assert.equal(c.format, 'csc');
  assert.equal(c.indptr.length, nCols + 1);
  const t = checkSparse(transposeCsc(c));
  assert.equal(t.nRows, nCols);
  assert.equal(t.nCols, nRows);
  const td = dense(t);
  for (let r = 0; r < nRows; r++) for (let j = 0; j < nCols; j++) assert.equal(td[j][r], ref[r][j]);
  const back = toCsr(c);
  assert.deepEqual([...back.indptr], [...a.indptr]);
  assert.deepEqual([...back.indices], [...a.indices]);
  assert.deepEqual([...back.data], [...a.data]);
});

test('csrFromDense keeps the non-zeros', () => {
  const a = csrFromDense([[0, 1.5], [0, 0], [2, 0]]);
  assert.deepEqual([...a.indptr], [0, 1, 1, 2]);
  assert.deepEqual([...a.indices], [1, 0]);
  assert.deepEqual(dense(a), [[0, 1.5], [0, 0], [2, 0]]);
  assert.throws(() => csrFromDense([[1, 2], [3]]), /row 1 has 1 values, expected 2/);
});

test('bad triplets are rejected with the triplet named', () => {
  assert.throws(() => csrFromTriplets(2, 2, [0, 2], [0, 0], [1, 1]), /triplet 1: row 2 is outside 0..1/);
  assert.throws(() => csrFromTriplets(2, 2, [0, 1], [0, -1], [1, 1]), /triplet 1: column -1 is outside 0..1/);
  assert.throws(() => csrFromTriplets(2, 2, [0, 1], [0, 1], [1, NaN]), /triplet 1: value at row 1, column 1 is NaN/);
  assert.throws(() => csrFromTriplets(2, 2, [0, 1], [0, 1], [Infinity, 1]), /triplet 0: value at row 0, column 0 is Infinity/);
  assert.throws(() => csrFromTriplets(2, 2, [0, 1], [0], [1, 1]), /equal lengths/);
  assert.throws(() => csrFromTriplets(-1, 2, [], [], []), /shape/);
});

test('checkSparse finds broken structure and non-finite values', () => {
  const ok = csrFromDense([[1, 0, 2], [0, 3, 0]]);
  const broken = (patch: Partial<Csr>): Csr => ({ ...ok, ...patch });
  assert.throws(() => checkSparse(broken({ indices: Int32Array.from([2, 0, 1]) }), 'm'), /m: row 0 has columns out of order/);
  assert.throws(() => checkSparse(broken({ indices: Int32Array.from([0, 3, 1]) })), /row 0 has column 3, outside 0..2/);
  assert.throws(() => checkSparse(broken({ indptr: Int32Array.from([0, 2, 1]) })), /indptr says 1 non-zeros/);
  assert.throws(() => checkSparse(broken({ data: Float32Array.from([1, NaN, 3]) })), /value at row 0, column 2 is NaN/);
  assert.throws(() => checkSparse(broken({ data: Float32Array.from([1, 2, -Infinity]) })), /row 1, column 1 is -Infinity/);
  assert.throws(() => checkSparse(broken({ indptr: Int32Array.from([0, 2]) })), /indptr has 2 entries, expected 3/);
});

test('an all-empty matrix and a 0×0 matrix are valid', () => {
  const e = checkSparse(csrFromTriplets(3, 4, [], [], []));
  assert.deepEqual([...e.indptr], [0, 0, 0, 0]);
  assert.equal(checkSparse(toCsc(e)).indptr.length, 5);
  assert.equal(checkSparse(csrFromTriplets(0, 0, [], [], [])).indices.length, 0);
});

test('csrRows takes the given rows in the given order, with every column; a row out of range is refused', () => {
  const a = csrFromDense([[1, 0, 2], [0, 0, 0], [0, 3, 0], [4, 0, 5]]);
  const r = checkSparse(csrRows(a, [3, 0, 1, 3]));
  assert.deepEqual([r.nRows, r.nCols], [4, 3]);
  assert.deepEqual([...r.indptr], [0, 2, 4, 4, 6]);
  assert.deepEqual([...r.indices], [0, 2, 0, 2, 0, 2]);
  assert.deepEqual([...r.data], [4, 5, 1, 2, 4, 5]);
  assert.equal(csrRows(a, []).nRows, 0);
  assert.throws(() => csrRows(a, [4]), /row 4 is outside the matrix's 4 rows/);
});

// Sparse matrices for interactions: CSR for the user side, CSC (= the CSR of the transpose) for the
// item side. Typed arrays only, so memory is 8 bytes per non-zero plus 4 per row, and the arrays can
// be moved into a SharedArrayBuffer for the worker pool without changing their shape.

/** Compressed sparse rows: row r holds columns indices[indptr[r]..indptr[r+1]) (ascending) and their values. */
export interface Csr {
  readonly format: 'csr';
  readonly nRows: number;
  readonly nCols: number;
  /** length nRows + 1, non-decreasing, indptr[0] = 0, indptr[nRows] = nnz */
  readonly indptr: Int32Array;
  /** column of each stored value, strictly ascending within a row */
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/** Compressed sparse columns: column c holds rows indices[indptr[c]..indptr[c+1]) (ascending) and their values. */
export interface Csc {
  readonly format: 'csc';
  readonly nRows: number;
  readonly nCols: number;
  /** length nCols + 1 */
  readonly indptr: Int32Array;
  /** row of each stored value, strictly ascending within a column */
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/** The rows `rows` of a (in that order) as a new CSR matrix with a's columns. */
export function csrRows(a: Csr, rows: ArrayLike<number>): Csr {
  const indptr = new Int32Array(rows.length + 1);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!Number.isInteger(r) || r < 0 || r >= a.nRows) throw new RangeError(`row ${r} is outside the matrix's ${a.nRows} rows`);
    indptr[k + 1] = indptr[k] + a.indptr[r + 1] - a.indptr[r];
  }
  const indices = new Int32Array(indptr[rows.length]), data = new Float32Array(indptr[rows.length]);
  for (let k = 0; k < rows.length; k++) {
    const s = a.indptr[rows[k]], e = a.indptr[rows[k] + 1];
    indices.set(a.indices.subarray(s, e), indptr[k]);
    data.set(a.data.subarray(s, e), indptr[k]);
  }
  return { format: 'csr', nRows: rows.length, nCols: a.nCols, indptr, indices, data };
}

/** What to do with a (row, column) pair given more than once. */
export type Duplicates = 'sum' | 'error';

function checkShape(nRows: number, nCols: number): void {
  if (!Number.isInteger(nRows) || nRows < 0 || !Number.isInteger(nCols) || nCols < 0) {
    throw new RangeError(`sparse matrix shape must be non-negative integers, got ${nRows}×${nCols}`);
  }
  if (nRows >= 2 ** 31 || nCols >= 2 ** 31) throw new RangeError(`sparse matrix shape ${nRows}×${nCols} exceeds 2^31 - 1 rows or columns`);
}

/**
 * Builds a CSR matrix from coordinate triplets (row[k], col[k], value[k]), in any order.
 * Duplicated (row, column) pairs are summed (`duplicates: 'sum'`, the default) or rejected.
 * Throws a RangeError naming the triplet for an index out of range or a NaN/Infinity value.
 */
export function csrFromTriplets(
  nRows: number,
  nCols: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  values: ArrayLike<number>,
  options: { duplicates?: Duplicates } = {},
): Csr {
  checkShape(nRows, nCols);
  const duplicates = options.duplicates ?? 'sum';
  if (duplicates !== 'sum' && duplicates !== 'error') throw new RangeError(`duplicates must be 'sum' or 'error', got ${String(duplicates)}`);
  const n = rows.length;
  if (cols.length !== n || values.length !== n) {
    throw new RangeError(`triplets need equal lengths, got ${n} rows, ${cols.length} columns and ${values.length} values`);
  }
  if (n >= 2 ** 31) throw new RangeError(`${n} triplets exceed the 2^31 - 1 non-zeros a CSR matrix holds`);
  const counts = new Int32Array(nRows + 1);
  for (let k = 0; k < n; k++) {
    const r = rows[k], c = cols[k], v = values[k];
    if (!Number.isInteger(r) || r < 0 || r >= nRows) throw new RangeError(`triplet ${k}: row ${r} is outside 0..${nRows - 1}`);
    if (!Number.isInteger(c) || c < 0 || c >= nCols) throw new RangeError(`triplet ${k}: column ${c} is outside 0..${nCols - 1}`);
    if (!Number.isFinite(v)) throw new RangeError(`triplet ${k}: value at row ${r}, column ${c} is ${v}; values must be finite numbers`);
    counts[r + 1]++;
  }
  for (let r = 0; r < nRows; r++) counts[r + 1] += counts[r];
  // two stable counting sorts, by column then by row, leave each row's entries in ascending column
  // order with duplicates adjacent and in input order: O(nnz + nRows + nCols), no comparisons
  const colStart = new Int32Array(nCols + 1);
  for (let k = 0; k < n; k++) colStart[cols[k] + 1]++;
  for (let c = 0; c < nCols; c++) colStart[c + 1] += colStart[c];
  const byCol = new Int32Array(n);
  for (let k = 0; k < n; k++) byCol[colStart[cols[k]]++] = k;
  const next = counts.slice(0, nRows);
  const order = new Int32Array(n);
  for (let q = 0; q < n; q++) { const k = byCol[q]; order[next[rows[k]]++] = k; }
  const indices = new Int32Array(n);
  const data = new Float32Array(n);
  const indptr = new Int32Array(nRows + 1);
  let out = 0;
  for (let r = 0; r < nRows; r++) {
    let last = -1;
    for (let q = counts[r], e = counts[r + 1]; q < e; q++) {
      const k = order[q], c = cols[k];
      if (c === last) {
        if (duplicates === 'error') throw new RangeError(`triplet ${k}: row ${r}, column ${c} is given more than once`);
        data[out - 1] += values[k];
      } else {
        indices[out] = c;
        data[out] = values[k];
        out++;
        last = c;
      }
    }
    indptr[r + 1] = out;
  }
  return { format: 'csr', nRows, nCols, indptr, indices: indices.slice(0, out), data: data.slice(0, out) };
}

/** Builds a CSR matrix from dense rows, storing the non-zero entries (tests and small inputs). */
export function csrFromDense(rows: ArrayLike<number>[], nCols = rows.length ? rows[0].length : 0): Csr {
  const r: number[] = [], c: number[] = [], v: number[] = [];
  rows.forEach((row, i) => {
    if (row.length !== nCols) throw new RangeError(`row ${i} has ${row.length} values, expected ${nCols}`);
    for (let j = 0; j < nCols; j++) {
      if (row[j] !== 0) { r.push(i); c.push(j); v.push(row[j]); }
    }
  });
  return csrFromTriplets(rows.length, nCols, r, c, v, { duplicates: 'error' });
}

/** Transposes the storage: the same matrix in CSC (O(nnz + nCols), rows stay ascending in each column). */
export function toCsc(a: Csr): Csc {
  const t = transposeArrays(a.nRows, a.nCols, a.indptr, a.indices, a.data);
  return { format: 'csc', nRows: a.nRows, nCols: a.nCols, ...t };
}

/** Transposes the storage: the same matrix in CSR. */
export function toCsr(a: Csc): Csr {
  const t = transposeArrays(a.nCols, a.nRows, a.indptr, a.indices, a.data);
  return { format: 'csr', nRows: a.nRows, nCols: a.nCols, ...t };
}

/** Zero-copy view: the CSC of A is the CSR of Aᵀ (its rows are A's columns). */
export function transposeCsc(a: Csc): Csr {
  return { format: 'csr', nRows: a.nCols, nCols: a.nRows, indptr: a.indptr, indices: a.indices, data: a.data };
}

function transposeArrays(nMajor: number, nMinor: number, indptr: Int32Array, indices: Int32Array, data: Float32Array) {
  const nnz = indptr[nMajor];
  const outPtr = new Int32Array(nMinor + 1);
  for (let k = 0; k < nnz; k++) outPtr[indices[k] + 1]++;
  for (let c = 0; c < nMinor; c++) outPtr[c + 1] += outPtr[c];
  const next = outPtr.slice(0, nMinor);
  const outIdx = new Int32Array(nnz);
  const outData = new Float32Array(nnz);
  for (let r = 0; r < nMajor; r++) {
    for (let k = indptr[r], e = indptr[r + 1]; k < e; k++) {
      const q = next[indices[k]]++;
      outIdx[q] = r;
      outData[q] = data[k];
    }
  }
  return { indptr: outPtr, indices: outIdx, data: outData };
}

/**
 * Checks a CSR or CSC matrix someone else built: shape, pointer monotonicity, indices in range and
 * strictly ascending within each row (column), finite values. Throws a RangeError that names the
 * offending row/column and entry; returns the matrix so it can be used inline.
 */
export function checkSparse<T extends Csr | Csc>(a: T, what = 'matrix'): T {
  if (a.format !== 'csr' && a.format !== 'csc') throw new RangeError(`${what}: format must be 'csr' or 'csc', got ${String((a as { format: unknown }).format)}`);
  checkShape(a.nRows, a.nCols);
  const major = a.format === 'csr' ? a.nRows : a.nCols, minor = a.format === 'csr' ? a.nCols : a.nRows;
  const majorName = a.format === 'csr' ? 'row' : 'column', minorName = a.format === 'csr' ? 'column' : 'row';
  if (!(a.indptr instanceof Int32Array) || !(a.indices instanceof Int32Array) || !(a.data instanceof Float32Array)) {
    throw new RangeError(`${what}: indptr and indices must be Int32Array and data Float32Array`);
  }
  if (a.indptr.length !== major + 1) throw new RangeError(`${what}: indptr has ${a.indptr.length} entries, expected ${major + 1}`);
  if (a.indptr[0] !== 0) throw new RangeError(`${what}: indptr[0] is ${a.indptr[0]}, expected 0`);
  const nnz = a.indptr[major];
  if (a.indices.length !== nnz || a.data.length !== nnz) {
    throw new RangeError(`${what}: indptr says ${nnz} non-zeros but indices has ${a.indices.length} and data ${a.data.length}`);
  }
  for (let r = 0; r < major; r++) {
    const s = a.indptr[r], e = a.indptr[r + 1];
    if (e < s) throw new RangeError(`${what}: indptr decreases at ${majorName} ${r}`);
    let last = -1;
    for (let k = s; k < e; k++) {
      const c = a.indices[k];
      if (c < 0 || c >= minor) throw new RangeError(`${what}: ${majorName} ${r} has ${minorName} ${c}, outside 0..${minor - 1}`);
      if (c <= last) throw new RangeError(`${what}: ${majorName} ${r} has ${minorName}s out of order or repeated at ${c}`);
      last = c;
      if (!Number.isFinite(a.data[k])) throw new RangeError(`${what}: value at ${majorName} ${r}, ${minorName} ${c} is ${a.data[k]}; values must be finite numbers`);
    }
  }
  return a;
}

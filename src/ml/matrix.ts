// Dense row-major matrices on typed arrays: the one representation of feature matrices in src/ml.

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** row-major: element (i, j) is data[i * cols + j] */
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: Float64Array | number[]): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix shape must be non-negative integers, got ${rows}×${cols}`);
  }
  const arr = data === undefined ? new Float64Array(rows * cols) : data instanceof Float64Array ? data : Float64Array.from(data);
  if (arr.length !== rows * cols) throw new RangeError(`matrix ${rows}×${cols} needs ${rows * cols} values, got ${arr.length}`);
  return { rows, cols, data: arr };
}

/** From an array of rows (tests and small inputs; hot paths build the typed array directly). */
export function fromRows(rows: ArrayLike<number>[]): Matrix {
  const cols = rows.length ? rows[0].length : 0;
  const m = matrix(rows.length, cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new RangeError(`row ${i} has ${r.length} values, expected ${cols}`);
    for (let j = 0; j < cols; j++) m.data[i * cols + j] = r[j];
  });
  return m;
}

/** Throws a RangeError naming the first NaN/Infinity (row, column) — models never silently learn NaN. */
export function assertFinite(data: ArrayLike<number>, cols: number, what = 'input'): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(`${what} has a non-finite value (${data[i]}) at row ${Math.floor(i / cols)}, column ${i % cols}`);
    }
  }
}

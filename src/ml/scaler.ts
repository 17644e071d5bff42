// Standardisation of feature columns to mean 0 and variance 1, as scikit-learn's StandardScaler:
// the churn model's features live on very different scales (days, counts, money).
import { assertFinite, type Matrix } from './matrix.js';

/** A fitted scaler: plain data. transform computes (x − mean) / scale per column. */
export interface Scaler {
  /** per-column mean (zeros when withMean is false) */
  readonly mean: Float64Array;
  /** per-column population standard deviation; 1 for constant columns and when withStd is false */
  readonly scale: Float64Array;
  /** per-column population variance as computed (0 for a constant column) */
  readonly variance: Float64Array;
  readonly nSamples: number;
  readonly withMean: boolean;
  readonly withStd: boolean;
}

export interface ScalerParams {
  /** subtract the column mean; default true */
  withMean?: boolean;
  /** divide by the column standard deviation; default true */
  withStd?: boolean;
}

function checkMatrix(X: Matrix, what: string): void {
  if (!X || !(X.data instanceof Float64Array) || !Number.isInteger(X.rows) || !Number.isInteger(X.cols) || X.data.length !== X.rows * X.cols) {
    throw new TypeError(`${what} must be a Matrix (rows, cols, a Float64Array of rows·cols values)`);
  }
}

/**
 * Learns each column's mean and population standard deviation (divisor n, as scikit-learn). The
 * variance is computed in two passes with the Chan–Golub–LeVeque correction term. A column whose
 * variance is within the rounding error of that algorithm (var ≤ n·ε·var + (n·mean·ε)², scikit-learn's
 * test) counts as constant and gets scale 1, so transform maps it to 0 instead of dividing by ~0.
 */
export function fitScaler(X: Matrix, params: ScalerParams = {}): Scaler {
  checkMatrix(X, 'scaler: X');
  const withMean = params.withMean ?? true, withStd = params.withStd ?? true;
  if (typeof withMean !== 'boolean' || typeof withStd !== 'boolean') throw new TypeError('scaler: withMean and withStd must be true or false');
  const { rows: n, cols: d, data } = X;
  if (n === 0) throw new RangeError('scaler: X has no rows; fitting needs at least one');
  assertFinite(data, d, 'scaler: X');
  const sum = new Float64Array(d);
  for (let i = 0, off = 0; i < n; i++, off += d) for (let j = 0; j < d; j++) sum[j] += data[off + j];
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = sum[j] / n;
  const sq = new Float64Array(d), corr = new Float64Array(d);
  for (let i = 0, off = 0; i < n; i++, off += d) {
    for (let j = 0; j < d; j++) {
      const t = data[off + j] - mean[j];
      corr[j] += t;
      sq[j] += t * t;
    }
  }
  const variance = new Float64Array(d), scale = new Float64Array(d).fill(1);
  const eps = 2.220446049250313e-16;
  for (let j = 0; j < d; j++) {
    const v = Math.max(0, (sq[j] - (corr[j] * corr[j]) / n) / n);
    variance[j] = v;
    const bound = n * eps * v + (n * mean[j] * eps) ** 2;
    if (withStd && v > bound) scale[j] = Math.sqrt(v);
  }
  return { mean: withMean ? mean : new Float64Array(d), scale, variance, nSamples: n, withMean, withStd };
}

function checkShape(scaler: Scaler, X: Matrix): void {
  checkMatrix(X, 'scaler: X');
  if (X.cols !== scaler.mean.length) throw new RangeError(`scaler: X has ${X.cols} columns but the scaler was fitted on ${scaler.mean.length}`);
}

/** (x − mean) / scale, column by column, into a new matrix. Rejects NaN/Infinity. */
export function transform(scaler: Scaler, X: Matrix): Matrix {
  checkShape(scaler, X);
  assertFinite(X.data, X.cols, 'scaler: X');
  const { rows: n, cols: d, data } = X;
  const out = new Float64Array(n * d);
  const { mean, scale } = scaler;
  for (let i = 0, off = 0; i < n; i++, off += d) for (let j = 0; j < d; j++) out[off + j] = (data[off + j] - mean[j]) / scale[j];
  return { rows: n, cols: d, data: out };
}

/** The inverse of transform: x·scale + mean, into a new matrix. */
export function inverse(scaler: Scaler, X: Matrix): Matrix {
  checkShape(scaler, X);
  assertFinite(X.data, X.cols, 'scaler: X');
  const { rows: n, cols: d, data } = X;
  const out = new Float64Array(n * d);
  const { mean, scale } = scaler;
  for (let i = 0, off = 0; i < n; i++, off += d) for (let j = 0; j < d; j++) out[off + j] = data[off + j] * scale[j] + mean[j];
  return { rows: n, cols: d, data: out };
}

// The silhouette coefficient (Rousseeuw 1987) with Euclidean distance, as scikit-learn defines it:
//   a(i) = mean distance from i to the other members of its cluster,
//   b(i) = smallest mean distance from i to the members of another cluster,
//   s(i) = (b − a) / max(a, b), and s(i) = 0 when i is alone in its cluster.
// The score is the mean of s(i). Exact is O(n²·cols); for large n, score a seeded sample of rows.
import { assertFinite, type Matrix } from './matrix.js';
import { createRng } from './random.js';

function checkInputs(X: Matrix, labels: ArrayLike<number>): void {
  if (X.data.length !== X.rows * X.cols) throw new RangeError(`X is ${X.rows}×${X.cols} but holds ${X.data.length} values`);
  if (labels.length !== X.rows) throw new RangeError(`labels has ${labels.length} values but X has ${X.rows} rows; give one label per row`);
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i])) throw new RangeError(`labels must be integers, got ${labels[i]} at row ${i}`);
  }
  assertFinite(X.data, Math.max(1, X.cols), 'X');
}

/** Dense cluster ids 0..L−1 in order of first appearance, and the count of each. */
function denseLabels(labels: ArrayLike<number>): { ids: Int32Array; counts: Int32Array } {
  const map = new Map<number, number>();
  const ids = new Int32Array(labels.length);
  const counts: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    let id = map.get(labels[i]);
    if (id === undefined) { id = map.size; map.set(labels[i], id); counts.push(0); }
    ids[i] = id;
    counts[id]++;
  }
  return { ids, counts: Int32Array.from(counts) };
}

/** The silhouette of every row of X (exact: all pairs). Needs from 2 to rows − 1 distinct labels. */
export function silhouetteSamples(X: Matrix, labels: ArrayLike<number>): Float64Array {
  checkInputs(X, labels);
  const n = X.rows, d = X.cols;
  const { ids, counts } = denseLabels(labels);
  const L = counts.length;
  if (L < 2 || L > n - 1) {
    throw new RangeError(`the silhouette needs from 2 to rows − 1 = ${n - 1} distinct labels, got ${L} for ${n} rows`);
  }
  // rows sorted by cluster (a counting sort), so each row meets each cluster as one contiguous run
  const start = new Int32Array(L + 1);
  for (let c = 0; c < L; c++) start[c + 1] = start[c] + counts[c];
  const fill = start.slice(0, L), rowAt = new Int32Array(n), y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const p = fill[ids[i]]++;
    rowAt[p] = i;
    y.set(X.data.subarray(i * d, i * d + d), p * d);
  }
  // sum of distances from each (sorted) row to each cluster; every pair is computed once, used both ways
  const acc = new Float64Array(n * L);
  for (let c = 0, p = 0; c < L; c++) {
    for (; p < start[c + 1]; p++) {
      const op = p * d, ap = p * L;
      for (let e = c; e < L; e++) {
        let sum = 0;
        for (let q = Math.max(p + 1, start[e]), end = start[e + 1]; q < end; q++) {
          const oq = q * d;
          let s0 = 0, s1 = 0, f = 0;
          for (; f + 1 < d; f += 2) {
            const t0 = y[op + f] - y[oq + f], t1 = y[op + f + 1] - y[oq + f + 1];
            s0 += t0 * t0;
            s1 += t1 * t1;
          }
          if (f < d) { const t = y[op + f] - y[oq + f]; s0 += t * t; }
          const dist = Math.sqrt(s0 + s1);
          sum += dist;
          acc[q * L + c] += dist;
        }
        acc[ap + e] += sum;
      }
    }
  }
  const out = new Float64Array(n);
  for (let p = 0, c = 0; p < n; p++) {
    while (p >= start[c + 1]) c++;
    if (counts[c] === 1) continue; // a lone point scores 0
    const a = acc[p * L + c] / (counts[c] - 1);
    let b = Infinity;
    for (let e = 0; e < L; e++) if (e !== c) b = Math.min(b, acc[p * L + e] / counts[e]);
    const m = Math.max(a, b);
    out[rowAt[p]] = m > 0 ? (b - a) / m : 0;
  }
  return out;
}

/**
 * `sampleSize` distinct row indices out of `rows`, drawn uniformly with the seeded generator, in
 * increasing order. The same (rows, sampleSize, seed) always gives the same rows.
 */
export function sampleRows(rows: number, sampleSize: number, seed: number): Int32Array {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be an integer ≥ 0, got ${rows}`);
  if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > rows) {
    throw new RangeError(`sampleSize must be an integer from 0 to rows (${rows}), got ${sampleSize}`);
  }
  const rng = createRng(seed);
  const perm = new Int32Array(rows);
  for (let i = 0; i < rows; i++) perm[i] = i;
  for (let i = 0; i < sampleSize; i++) { // partial Fisher–Yates
    const j = i + rng.int(rows - i);
    const t = perm[i]; perm[i] = perm[j]; perm[j] = t;
  }
  return perm.slice(0, sampleSize).sort();
}

export interface SilhouetteOptions {
  /**
   * Score a seeded sample of this many rows instead of all of them (scikit-learn's `sample_size`: the
   * silhouette of the sample, distances within the sample). Ignored when ≥ rows.
   */
  readonly sampleSize?: number;
  /** seed of the sample. Default 0. */
  readonly seed?: number;
}

/** Mean silhouette of the rows of X, exact or on a seeded sample of rows (see SilhouetteOptions). */
export function silhouetteScore(X: Matrix, labels: ArrayLike<number>, options: SilhouetteOptions = {}): number {
  const { sampleSize, seed = 0 } = options;
  if (sampleSize !== undefined && (!Number.isInteger(sampleSize) || sampleSize < 2)) {
    throw new RangeError(`sampleSize must be an integer ≥ 2, got ${sampleSize}`);
  }
  let s: Float64Array;
  if (sampleSize === undefined || sampleSize >= X.rows) {
    s = silhouetteSamples(X, labels);
  } else {
    checkInputs(X, labels);
    const rows = sampleRows(X.rows, sampleSize, seed);
    const d = X.cols, sub = new Float64Array(sampleSize * d), subLabels = new Int32Array(sampleSize);
    rows.forEach((r, i) => { sub.set(X.data.subarray(r * d, r * d + d), i * d); subLabels[i] = labels[r]; });
    s = silhouetteSamples({ rows: sampleSize, cols: d, data: sub }, subLabels);
  }
  let total = 0;
  for (let i = 0; i < s.length; i++) total += s[i];
  return total / s.length;
}

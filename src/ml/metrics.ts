// How good the models are, by the standard definitions: each function's doc comment states the
// formula it computes. Classification metrics match scikit-learn's on the same input; ranking
// metrics are the textbook ones (precision@k = hits/k), not `implicit`'s normalised variants.
// Silhouette lives in silhouette.ts.
import { assertFinite, type Matrix } from './matrix.js';

// ─── classification (binary: labels 0/1, scores or probabilities of class 1) ────────────────────

interface Binary { y: Uint8Array; s: ArrayLike<number>; w: ArrayLike<number> | null }

function binaryInput(fn: string, yTrue: ArrayLike<number>, score: ArrayLike<number>, sampleWeight: ArrayLike<number> | null | undefined, scoreName: string): Binary {
  if (!yTrue || typeof yTrue.length !== 'number') throw new TypeError(`${fn}: yTrue must be an array of 0/1 labels`);
  if (!score || typeof score.length !== 'number') throw new TypeError(`${fn}: ${scoreName} must be an array of numbers`);
  const n = yTrue.length;
  if (n === 0) throw new RangeError(`${fn}: no samples; needs at least one`);
  if (score.length !== n) throw new RangeError(`${fn}: yTrue has ${n} values but ${scoreName} has ${score.length}`);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = yTrue[i];
    if (v !== 0 && v !== 1) throw new RangeError(`${fn}: labels must be 0 or 1, got ${v} at index ${i}`);
    y[i] = v;
  }
  assertFinite(score, 1, `${fn}: ${scoreName}`);
  const w = sampleWeight ?? null;
  if (w !== null) {
    if (w.length !== n) throw new RangeError(`${fn}: sampleWeight has ${w.length} values but yTrue has ${n}`);
    for (let i = 0; i < n; i++) if (!(Number.isFinite(w[i]) && w[i] >= 0)) throw new RangeError(`${fn}: sampleWeight must be finite and ≥ 0, got ${w[i]} at index ${i}`);
  }
  return { y, s: score, w };
}

function checkProbabilities(fn: string, p: ArrayLike<number>): void {
  for (let i = 0; i < p.length; i++) if (p[i] < 0 || p[i] > 1) throw new RangeError(`${fn}: probabilities must lie in [0, 1], got ${p[i]} at index ${i}`);
}

/**
 * The cumulative (weighted) true and false positives at each distinct score, scores descending —
 * scikit-learn's _binary_clf_curve. Tied scores form one threshold.
 */
function thresholdCounts(b: Binary): { tps: Float64Array; fps: Float64Array; m: number } {
  const n = b.y.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const s = b.s;
  order.sort((i, j) => s[j] - s[i]);
  const tps = new Float64Array(n), fps = new Float64Array(n);
  let tp = 0, fp = 0, m = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const wi = b.w === null ? 1 : b.w[i];
    if (b.y[i] === 1) tp += wi;
    else fp += wi;
    if (k === n - 1 || s[order[k + 1]] !== s[i]) {
      tps[m] = tp;
      fps[m] = fp;
      m++;
    }
  }
  return { tps, fps, m };
}

/**
 * Area under the ROC curve: the ROC curve runs through (FPR, TPR) at every distinct score
 * threshold, from (0, 0); the area is by the trapezoid rule, so tied scores count half — equal to
 * P(score of a random positive > score of a random negative) + ½·P(tie), with sample weights
 * weighting the pairs. As scikit-learn's roc_auc_score. Throws if only one class is present.
 */
export function rocAuc(yTrue: ArrayLike<number>, score: ArrayLike<number>, sampleWeight?: ArrayLike<number> | null): number {
  const b = binaryInput('rocAuc', yTrue, score, sampleWeight, 'score');
  const { tps, fps, m } = thresholdCounts(b);
  const P = tps[m - 1], N = fps[m - 1];
  if (!(P > 0) || !(N > 0)) throw new RangeError(`rocAuc: only one class present in yTrue (total weight of positives ${P}, negatives ${N}); ROC-AUC is undefined`);
  let area = 0, tPrev = 0, fPrev = 0;
  for (let k = 0; k < m; k++) {
    area += (fps[k] - fPrev) * (tps[k] + tPrev);
    tPrev = tps[k];
    fPrev = fps[k];
  }
  return area / (2 * P * N);
}

/**
 * PR-AUC as average precision: AP = Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds in
 * descending order, Pₖ = TPₖ/(TPₖ + FPₖ) and Rₖ = TPₖ/TP_total the precision and recall at
 * threshold k, R₀ = 0. No interpolation (as scikit-learn's average_precision_score). Throws if
 * there are no positives.
 */
export function averagePrecision(yTrue: ArrayLike<number>, score: ArrayLike<number>, sampleWeight?: ArrayLike<number> | null): number {
  const b = binaryInput('averagePrecision', yTrue, score, sampleWeight, 'score');
  const { tps, fps, m } = thresholdCounts(b);
  const P = tps[m - 1];
  if (!(P > 0)) throw new RangeError('averagePrecision: yTrue has no positives (or they all weigh 0); average precision is undefined');
  let ap = 0, rPrev = 0;
  for (let k = 0; k < m; k++) {
    const r = tps[k] / P;
    const ps = tps[k] + fps[k];
    if (ps > 0) ap += (r - rPrev) * (tps[k] / ps);
    rPrev = r;
  }
  return ap;
}

/**
 * Mean log loss (cross-entropy): Σᵢ wᵢ·−(yᵢ·ln pᵢ + (1 − yᵢ)·ln(1 − pᵢ)) / Σᵢ wᵢ, with pᵢ clipped to
 * [eps, 1 − eps] so that certain mistakes cost a finite amount (default eps = 2⁻⁵², float64's
 * machine epsilon, as scikit-learn's eps='auto').
 */
export function logLoss(yTrue: ArrayLike<number>, prob: ArrayLike<number>, options: { sampleWeight?: ArrayLike<number> | null; eps?: number } = {}): number {
  const b = binaryInput('logLoss', yTrue, prob, options.sampleWeight, 'prob');
  checkProbabilities('logLoss', prob);
  const eps = options.eps ?? 2.220446049250313e-16;
  if (!(eps >= 0 && eps < 0.5)) throw new RangeError(`logLoss: eps must be in [0, 0.5), got ${eps}`);
  let sum = 0, wsum = 0;
  for (let i = 0; i < b.y.length; i++) {
    const p = Math.min(Math.max(prob[i], eps), 1 - eps);
    const wi = b.w === null ? 1 : b.w[i];
    sum += wi * -(b.y[i] === 1 ? Math.log(p) : Math.log(1 - p));
    wsum += wi;
  }
  if (!(wsum > 0)) throw new RangeError('logLoss: the sample weights sum to 0');
  return sum / wsum;
}

/** Brier score: Σᵢ wᵢ·(pᵢ − yᵢ)² / Σᵢ wᵢ — the mean squared error of the probabilities (0 is perfect). */
export function brierScore(yTrue: ArrayLike<number>, prob: ArrayLike<number>, sampleWeight?: ArrayLike<number> | null): number {
  const b = binaryInput('brierScore', yTrue, prob, sampleWeight, 'prob');
  checkProbabilities('brierScore', prob);
  let sum = 0, wsum = 0;
  for (let i = 0; i < b.y.length; i++) {
    const wi = b.w === null ? 1 : b.w[i];
    const e = prob[i] - b.y[i];
    sum += wi * e * e;
    wsum += wi;
  }
  if (!(wsum > 0)) throw new RangeError('brierScore: the sample weights sum to 0');
  return sum / wsum;
}

/** The non-empty bins of a reliability diagram, in increasing order of probability. */
export interface CalibrationBins {
  /** edges of each bin: a probability p falls in the bin with lower < p ≤ upper (the first bin also holds its lower edge) */
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  /** samples in the bin */
  readonly count: Float64Array;
  /** mean predicted probability of the samples in the bin */
  readonly meanPredicted: Float64Array;
  /** fraction of positives among them */
  readonly fractionPositive: Float64Array;
  /** expected calibration error: Σ_bins (count/n)·|fractionPositive − meanPredicted| */
  readonly ece: number;
}

/**
 * Calibration bins (scikit-learn's calibration_curve, plus counts, edges and the ECE). 'uniform'
 * splits [0, 1] into nBins equal intervals; 'quantile' puts the edges at the 0, 1/nBins, …, 1
 * quantiles of prob (linear interpolation, as numpy.percentile), so the bins hold about equally
 * many samples. A probability on an inner edge goes to the lower bin. Empty bins are left out.
 */
export function calibrationBins(yTrue: ArrayLike<number>, prob: ArrayLike<number>, options: { nBins?: number; strategy?: 'uniform' | 'quantile' } = {}): CalibrationBins {
  const b = binaryInput('calibrationBins', yTrue, prob, null, 'prob');
  checkProbabilities('calibrationBins', prob);
  const nBins = options.nBins ?? 5;
  const strategy = options.strategy ?? 'uniform';
  if (!Number.isInteger(nBins) || nBins < 1) throw new RangeError(`calibrationBins: nBins must be an integer ≥ 1, got ${nBins}`);
  if (strategy !== 'uniform' && strategy !== 'quantile') throw new RangeError(`calibrationBins: strategy must be 'uniform' or 'quantile', got ${String(strategy)}`);
  const n = b.y.length;
  const edges = new Float64Array(nBins + 1);
  const step = 1 / nBins;
  for (let i = 0; i <= nBins; i++) edges[i] = i * step;
  edges[nBins] = 1;
  if (strategy === 'quantile') {
    const sorted = Float64Array.from(prob).sort();
    for (let i = 0; i <= nBins; i++) edges[i] = linearQuantile(sorted, (edges[i] * 100) / 100);
  }
  const sumP = new Float64Array(nBins), sumY = new Float64Array(nBins), count = new Float64Array(nBins);
  for (let i = 0; i < n; i++) {
    // the number of inner edges strictly below p (numpy.searchsorted, side='left')
    let lo = 0, hi = nBins - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid + 1] < prob[i]) lo = mid + 1;
      else hi = mid;
    }
    sumP[lo] += prob[i];
    sumY[lo] += b.y[i];
    count[lo]++;
  }
  let k = 0;
  for (let j = 0; j < nBins; j++) if (count[j] > 0) k++;
  const lower = new Float64Array(k), upper = new Float64Array(k), cnt = new Float64Array(k), meanPredicted = new Float64Array(k), fractionPositive = new Float64Array(k);
  let ece = 0;
  for (let j = 0, t = 0; j < nBins; j++) {
    if (count[j] === 0) continue;
    lower[t] = edges[j];
    upper[t] = edges[j + 1];
    cnt[t] = count[j];
    meanPredicted[t] = sumP[j] / count[j];
    fractionPositive[t] = sumY[j] / count[j];
    ece += (count[j] / n) * Math.abs(fractionPositive[t] - meanPredicted[t]);
    t++;
  }
  return { lower, upper, count: cnt, meanPredicted, fractionPositive, ece };
}

// numpy's default ('linear') quantile of sorted data, with numpy's lerp that is exact at both ends.
function linearQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const v = (n - 1) * q;
  if (v >= n - 1) return sorted[n - 1];
  const lo = Math.floor(v);
  const t = v - lo;
  const a = sorted[lo], b = sorted[lo + 1];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// ─── ranking at k ────────────────────────────────────────────────────────────────────────────

/** A user's relevant (held-out) items: item indices as an array or a set; duplicates count once. */
export type RelevantItems = ArrayLike<number> | ReadonlySet<number>;

/** Ranking metrics at k, each averaged over the users that have at least one relevant item. */
export interface RankingMetrics {
  readonly k: number;
  /** users evaluated (those with ≥ 1 relevant item) */
  readonly nUsers: number;
  readonly precision: number;
  readonly recall: number;
  readonly map: number;
  readonly ndcg: number;
  readonly hitRate: number;
}

function checkK(fn: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: k must be an integer ≥ 1, got ${k}`);
}

function checkItem(fn: string, item: number, user: number, what: string): void {
  if (!Number.isInteger(item) || item < 0) throw new RangeError(`${fn}: item indices must be integers ≥ 0, got ${item} in the ${what} of user ${user}`);
}

function toArray(r: RelevantItems): ArrayLike<number> {
  return r instanceof Set ? [...r] : (r as ArrayLike<number>);
}

/**
 * All ranking metrics at k in one pass. recommended[u] is user u's ranked list (best first, item
 * indices, e.g. an Int32Array row; only the first k count, fewer than k means the missing slots
 * are misses); relevant[u] the items u actually went on to buy. With rel_i = 1 if the item at rank i
 * (1-based) is relevant, hits = Σ_{i≤k} rel_i, R = |relevant[u]|, per user:
 *
 * - precision@k = hits / k
 * - recall@k    = hits / R
 * - AP@k        = Σ_{i≤k} P@i·rel_i / min(k, R), P@i = (Σ_{j≤i} rel_j) / i;  MAP@k is its mean
 * - NDCG@k      = DCG/IDCG, DCG = Σ_{i≤k} rel_i / log₂(i + 1), IDCG = Σ_{i≤min(k,R)} 1 / log₂(i + 1)
 * - hit rate@k  = 1 if hits > 0 else 0
 *
 * and each is averaged over users with R > 0 (users with nothing relevant are skipped, since recall
 * is undefined for them). Throws on a repeated item within a user's first k, on negative or
 * non-integer indices, on mismatched lengths, and when no user has a relevant item.
 */
export function rankingMetrics(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): RankingMetrics {
  const fn = 'rankingMetrics';
  checkK(fn, k);
  if (!Array.isArray(recommended) || !Array.isArray(relevant)) throw new TypeError(`${fn}: recommended and relevant must be arrays with one entry per user`);
  if (recommended.length !== relevant.length) throw new RangeError(`${fn}: recommended has ${recommended.length} users but relevant has ${relevant.length}`);
  const rel = relevant.map(toArray);
  let maxItem = -1;
  for (let u = 0; u < rel.length; u++) {
    const r = rel[u];
    for (let t = 0; t < r.length; t++) { checkItem(fn, r[t], u, 'relevant items'); if (r[t] > maxItem) maxItem = r[t]; }
    const rec = recommended[u];
    const top = Math.min(k, rec.length);
    for (let t = 0; t < top; t++) { checkItem(fn, rec[t], u, 'recommendations'); if (rec[t] > maxItem) maxItem = rec[t]; }
  }
  // Stamps instead of per-user sets: relStamp[item] === u + 1 iff item is relevant to user u.
  const relStamp = new Int32Array(maxItem + 1), recStamp = new Int32Array(maxItem + 1);
  const idcg = new Float64Array(k + 1), discount = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    discount[i] = 1 / Math.log2(i + 2);
    idcg[i + 1] = idcg[i] + discount[i];
  }
  let nUsers = 0, sp = 0, sr = 0, sap = 0, sndcg = 0, shit = 0;
  for (let u = 0; u < rel.length; u++) {
    const stamp = u + 1;
    const r = rel[u];
    let R = 0;
    for (let t = 0; t < r.length; t++) if (relStamp[r[t]] !== stamp) { relStamp[r[t]] = stamp; R++; }
    const rec = recommended[u];
    const top = Math.min(k, rec.length);
    let hits = 0, dcg = 0, ap = 0;
    for (let i = 0; i < top; i++) {
      const item = rec[i];
      if (recStamp[item] === stamp) throw new RangeError(`${fn}: item ${item} appears twice in the first ${k} recommendations of user ${u}`);
      recStamp[item] = stamp;
      if (relStamp[item] === stamp) {
        hits++;
        dcg += discount[i];
        ap += hits / (i + 1);
      }
    }
    if (R === 0) continue;
    nUsers++;
    sp += hits / k;
    sr += hits / R;
    sap += ap / Math.min(k, R);
    sndcg += dcg / idcg[Math.min(k, R)];
    if (hits > 0) shit++;
  }
  if (nUsers === 0) throw new RangeError(`${fn}: no user has a relevant item; ranking metrics are undefined`);
  return { k, nUsers, precision: sp / nUsers, recall: sr / nUsers, map: sap / nUsers, ndcg: sndcg / nUsers, hitRate: shit / nUsers };
}

/** Mean precision@k = hits/k (see rankingMetrics for the definitions and the averaging). */
export function precisionAtK(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): number {
  return rankingMetrics(recommended, relevant, k).precision;
}

/** Mean recall@k = hits/|relevant| (see rankingMetrics). */
export function recallAtK(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): number {
  return rankingMetrics(recommended, relevant, k).recall;
}

/** MAP@k, AP@k = Σ_{i≤k} P@i·rel_i / min(k, |relevant|) (see rankingMetrics). */
export function mapAtK(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): number {
  return rankingMetrics(recommended, relevant, k).map;
}

/** Mean NDCG@k with binary gains and log₂(rank + 1) discounts (see rankingMetrics). */
export function ndcgAtK(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): number {
  return rankingMetrics(recommended, relevant, k).ndcg;
}

/** Fraction of users with at least one relevant item in their first k (see rankingMetrics). */
export function hitRateAtK(recommended: readonly ArrayLike<number>[], relevant: readonly RelevantItems[], k: number): number {
  return rankingMetrics(recommended, relevant, k).hitRate;
}

/**
 * Catalogue coverage at k: |⋃_u first k of recommended[u]| / nItems — the share of the catalogue
 * that gets recommended to anyone. Item indices must lie in [0, nItems).
 */
export function catalogueCoverage(recommended: readonly ArrayLike<number>[], k: number, nItems: number): number {
  const fn = 'catalogueCoverage';
  checkK(fn, k);
  if (!Number.isInteger(nItems) || nItems < 1) throw new RangeError(`${fn}: nItems must be an integer ≥ 1, got ${nItems}`);
  if (!Array.isArray(recommended)) throw new TypeError(`${fn}: recommended must be an array with one list per user`);
  const seen = new Uint8Array(nItems);
  let covered = 0;
  for (let u = 0; u < recommended.length; u++) {
    const rec = recommended[u];
    const top = Math.min(k, rec.length);
    for (let i = 0; i < top; i++) {
      const item = rec[i];
      if (!Number.isInteger(item) || item < 0 || item >= nItems) throw new RangeError(`${fn}: item indices must be integers in [0, ${nItems}), got ${item} for user ${u}`);
      if (seen[item] === 0) { seen[item] = 1; covered++; }
    }
  }
  return covered / nItems;
}

// ─── clustering ──────────────────────────────────────────────────────────────────────────────

/**
 * Inertia: Σᵢ wᵢ·‖xᵢ − c_{label(i)}‖², the weighted within-cluster sum of squares (scikit-learn's
 * KMeans.inertia_). Without labels each point goes to its nearest centre. Lower is tighter, but it
 * always falls as k grows: never choose k by it alone.
 */
export function inertia(X: Matrix, centers: Matrix, labels?: ArrayLike<number> | null, sampleWeight?: ArrayLike<number> | null): number {
  const fn = 'inertia';
  for (const [m, name] of [[X, 'X'], [centers, 'centers']] as const) {
    if (!m || !(m.data instanceof Float64Array) || m.data.length !== m.rows * m.cols) throw new TypeError(`${fn}: ${name} must be a Matrix (rows, cols, a Float64Array of rows·cols values)`);
  }
  const { rows: n, cols: d, data } = X;
  if (centers.cols !== d) throw new RangeError(`${fn}: X has ${d} columns but centers have ${centers.cols}`);
  if (centers.rows === 0) throw new RangeError(`${fn}: no centers`);
  assertFinite(data, d, `${fn}: X`);
  assertFinite(centers.data, d, `${fn}: centers`);
  if (labels != null && labels.length !== n) throw new RangeError(`${fn}: labels has ${labels.length} values but X has ${n} rows`);
  if (sampleWeight != null) {
    if (sampleWeight.length !== n) throw new RangeError(`${fn}: sampleWeight has ${sampleWeight.length} values but X has ${n} rows`);
    for (let i = 0; i < n; i++) if (!(Number.isFinite(sampleWeight[i]) && sampleWeight[i] >= 0)) throw new RangeError(`${fn}: sampleWeight must be finite and ≥ 0, got ${sampleWeight[i]} at index ${i}`);
  }
  const c = centers.data, k = centers.rows;
  let total = 0;
  for (let i = 0, off = 0; i < n; i++, off += d) {
    let best: number;
    if (labels != null) {
      const l = labels[i];
      if (!Number.isInteger(l) || l < 0 || l >= k) throw new RangeError(`${fn}: labels must be integers in [0, ${k}), got ${l} at index ${i}`);
      best = sqDist(data, off, c, l * d, d);
    } else {
      best = Infinity;
      for (let l = 0; l < k; l++) best = Math.min(best, sqDist(data, off, c, l * d, d));
    }
    total += (sampleWeight != null ? sampleWeight[i] : 1) * best;
  }
  return total;
}

function sqDist(a: Float64Array, aOff: number, b: Float64Array, bOff: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = a[aOff + j] - b[bOff + j];
    s += t * t;
  }
  return s;
}

// Segmentation: k-means++ on standardised log1p(recency, frequency, monetary), k chosen by silhouette,
// clusters named the way marketers name them, plus the classic R×F quintile grid as an explainable second view.
import { FloyoError } from '../errors.js';
import { CUSTOMER_FEATURES } from '../features/build.js';
import { chooseK, fitKMeans, predictKMeans, type KMeansModel } from '../ml/kmeans.js';
import { matrix, type Matrix } from '../ml/matrix.js';
import { fitScaler, transform, type Scaler } from '../ml/scaler.js';
import { silhouetteScore } from '../ml/silhouette.js';

const col = (name: (typeof CUSTOMER_FEATURES)[number]) => CUSTOMER_FEATURES.indexOf(name);
const RECENCY = col('recency_days'), FREQUENCY = col('frequency'), MONETARY = col('monetary');
const AOV = col('avg_order_value'), TENURE = col('tenure_days'), UNITS = col('avg_units_per_order');

export interface SegmentationParams {
  /** a fixed k; otherwise chosen by silhouette in [kMin, kMax] */
  k?: number;
  kMin: number;
  kMax: number;
  nInit: number;
  seed: number;
  /**
   * Names that say a cluster is buying now (champions, loyal, new) go only to clusters whose median customer
   * bought within this many days (train passes the churn horizon). Prototypes are percentiles of the shop,
   * so where most customers are long gone the least dormant cluster looked "loyal" at 299 days and 83% churn.
   */
  activeWithinDays?: number;
}

export interface SegmentProfile {
  name: string;
  size: number;
  /** medians of the cluster's customers, in the data's units */
  centroid: { recencyDays: number; frequency: number; monetary: number; avgOrderValue: number; avgUnitsPerOrder: number; tenureDays: number };
}

export interface SegmentationModel {
  k: number;
  scaler: Scaler;
  kmeans: KMeansModel;
  names: string[];
  profiles: SegmentProfile[];
  /** the names kept from the previous segmentation given to the fit (clusters that continue one of its clusters), in cluster order */
  namesCarriedOver: string[];
  /** inertia and silhouette (exact up to 10k customers, else on a seeded sample) of the fitted k */
  inertia: number;
  silhouette: number;
  scores: Array<{ k: number; silhouette: number; inertia: number }>;
  /** quintile cut points for the R×F grid (4 each) */
  recencyCuts: number[];
  frequencyCuts: number[];
  /** what a customer must be for their cluster's name (see assignSegments); null: the nearest cluster, whatever its name */
  eligibility: SegmentEligibility | null;
}

/**
 * What a customer must be for a cluster's name to be true of them. A cluster is named by its median
 * customer, and by the nearest centre alone 40 days of daily scoring on UCI moved 685 one-order customers
 * from "new" to "loyal" without a purchase, and 234 customers of a year from "loyal" to "new" on one.
 * By the shop's fifths of the R×F grid, as classic RFM maps have them: "new" a first order at most
 * `newWithinDays` before the scoring time; "champions" two orders or more, F4–F5 and R4–R5 (else a
 * customer of two orders who came back after months was a champion); "loyal" two orders or more (so a
 * customer of long standing who comes back has a name that fits); "at risk", "hibernating" and "lost"
 * R1–R3 (not a customer who ordered last week). The other names say nothing a customer's recency, orders
 * or tenure could contradict.
 */
export interface SegmentEligibility {
  /** the rules above; a later Floyo that changes them keeps these for the versions that carry 1 */
  rules: 1;
  /** train sets the churn horizon */
  newWithinDays: number;
}

function eligible(name: string, c: { frequency: number; r: number; f: number; tenureDays: number }, rules: SegmentEligibility): boolean {
  switch (baseName(name)) {
    case 'new':
      return c.tenureDays <= rules.newWithinDays;
    case 'champions':
      return c.frequency >= 2 && c.f >= 4 && c.r >= 4;
    case 'loyal':
      return c.frequency >= 2;
    case 'at risk':
    case 'hibernating':
    case 'lost':
      return c.r <= 3;
    default:
      return true;
  }
}

/** The R and F of the R×F grid: R5 the most recent fifth, F5 the most frequent; equal values share a score. */
function rfScores(model: Pick<SegmentationModel, 'recencyCuts' | 'frequencyCuts'>, recencyDays: number, frequency: number): { r: number; f: number } {
  let r = 5;
  for (const cut of model.recencyCuts) if (recencyDays > cut) r--;
  let f = 1;
  for (const cut of model.frequencyCuts) if (frequency > cut) f++;
  return { r: Math.max(1, r), f };
}

/** log1p of recency, frequency and (non-negative) monetary: the heavy tails of wholesale data, tamed. */
export function rfmMatrix(features: Matrix): Matrix {
  const d = CUSTOMER_FEATURES.length;
  const out = matrix(features.rows, 3);
  for (let i = 0; i < features.rows; i++) {
    out.data[i * 3] = Math.log1p(Math.max(0, features.data[i * d + RECENCY]));
    out.data[i * 3 + 1] = Math.log1p(Math.max(0, features.data[i * d + FREQUENCY]));
    out.data[i * 3 + 2] = Math.log1p(Math.max(0, features.data[i * d + MONETARY]));
  }
  return out;
}

/** Prototype profiles in percentile space (0 = lowest in the shop, 1 = highest); R is recentness (1 = most recent). */
const PROTOTYPES: Array<{ name: string; profile: Partial<Record<'R' | 'F' | 'M' | 'A' | 'T', number>>; active?: true }> = [
  { name: 'champions', profile: { R: 0.9, F: 0.92, M: 0.92 }, active: true },
  { name: 'loyal', profile: { R: 0.75, F: 0.75, M: 0.6, T: 0.8 }, active: true },
  { name: 'big spenders', profile: { A: 0.92, M: 0.75, F: 0.45 } },
  { name: 'small baskets', profile: { A: 0.12, F: 0.5, R: 0.6 } },
  { name: 'new', profile: { T: 0.08, R: 0.85, F: 0.15 }, active: true },
  { name: 'at risk', profile: { R: 0.22, F: 0.65, M: 0.65 } },
  { name: 'infrequent shoppers', profile: { F: 0.25, R: 0.5, A: 0.5 } },
  { name: 'hibernating', profile: { R: 0.2, F: 0.25, M: 0.3 } },
  { name: 'lost', profile: { R: 0.04, F: 0.08, M: 0.1 } },
];

const ACTIVE_NAMES = new Set(PROTOTYPES.filter((p) => p.active).map((p) => p.name));

/** A name without the number clusters beyond the vocabulary take ("loyal 2" → "loyal"). */
const baseName = (name: string): string => name.replace(/ \d+$/, '');

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Fraction of `sorted` strictly below v plus half the ties: a percentile that treats ties fairly. */
function percentile(sorted: Float64Array, v: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < v) lo = mid + 1; else hi = mid; }
  let eq = lo;
  while (eq < sorted.length && sorted[eq] === v) eq++;
  return (lo + (eq - lo) / 2) / Math.max(1, sorted.length);
}

function column(features: Matrix, j: number): Float64Array {
  const out = new Float64Array(features.rows);
  for (let i = 0; i < features.rows; i++) out[i] = features.data[i * features.cols + j];
  return out;
}

/**
 * Distance of a cluster's percentile profile from a prototype (0 = a perfect match). A target at an extreme
 * (≥ 0.85 or ≤ 0.15) is a floor or a ceiling, not a point: going beyond it costs nothing, so the shop's most
 * extreme cluster is not passed over for one merely near the target. The overshoot is returned to break
 * ties in favour of the more extreme cluster.
 */
function prototypeDistance(p: Record<'R' | 'F' | 'M' | 'A' | 'T', number>, proto: (typeof PROTOTYPES)[number]['profile']): { distance: number; overshoot: number } {
  let d = 0, w = 0, overshoot = 0;
  for (const [dim, target] of Object.entries(proto) as Array<['R' | 'F' | 'M' | 'A' | 'T', number]>) {
    let gap = p[dim] - target;
    if (target >= 0.85 && gap > 0) { overshoot += gap; gap = 0; }
    if (target <= 0.15 && gap < 0) { overshoot -= gap; gap = 0; }
    d += gap * gap;
    w++;
  }
  return { distance: Math.sqrt(d / w), overshoot };
}

/** The segmentation of the version being replaced, as its segmentation document keeps it. */
export interface PreviousSegmentation {
  names: string[];
  profiles: Array<Pick<SegmentProfile, 'centroid'>>;
}

/**
 * How far a cluster's profile may drift and still be the cluster of the previous version it continues: the
 * root mean square of the log ratios of the medians of recency, frequency, spend and order value. 0.35 is
 * every median within a factor of 1.42, or one of them within a factor of 2 (1 → 2 orders) with the rest
 * unchanged. On UCI Online Retail trained again with five more weeks of data, the clusters that continue move
 * by 0.03–0.15 (k = 4; up to 0.25 at k = 8), while two clusters of one version lie 0.5–1.1 apart.
 */
export const MAX_PROFILE_DRIFT = 0.35;

const PROFILE_DIMENSIONS = ['recencyDays', 'frequency', 'monetary', 'avgOrderValue'] as const;

/** Distance between two cluster profiles: RMS of the log1p differences of their medians (NaN when one is missing). */
export function profileDistance(a: Pick<SegmentProfile['centroid'], (typeof PROFILE_DIMENSIONS)[number]>, b: Pick<SegmentProfile['centroid'], (typeof PROFILE_DIMENSIONS)[number]>): number {
  let sum = 0;
  for (const dim of PROFILE_DIMENSIONS) {
    const x = a[dim], y = b[dim];
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) return NaN;
    const gap = Math.log1p(Math.max(0, x)) - Math.log1p(Math.max(0, y));
    sum += gap * gap;
  }
  return Math.sqrt(sum / PROFILE_DIMENSIONS.length);
}

/** Per cluster, the distance to the nearest other cluster of the same version (Infinity when it has none). */
function nearestOther(centroids: Array<SegmentProfile['centroid']>): number[] {
  return centroids.map((a, i) => centroids.reduce((best, b, j) => {
    const d = i === j ? NaN : profileDistance(a, b);
    return Number.isFinite(d) ? Math.min(best, d) : best;
  }, Infinity));
}

/**
 * Which new clusters continue a previous version's cluster, and so keep its name: new cluster c and previous
 * cluster p correspond when their profiles lie within MAX_PROFILE_DRIFT of each other, and nearer than half the
 * distance from either to its nearest neighbour in its own version. Then p is c's nearest previous cluster and
 * c is p's nearest new one, and a cluster about halfway between two of the other version (a symmetric split or
 * merge) keeps neither name: it is not the continuation of either. Pairs are taken closest first, one to one.
 * Deterministic, whatever the order of the previous clusters (barring exact ties); an entry without a name or finite medians
 * matches nothing.
 */
function carriedOverNames(centroids: Array<SegmentProfile['centroid']>, previous: PreviousSegmentation): Array<string | undefined> {
  const prev = previous.profiles
    .map((p, j) => ({ name: previous.names[j], centroid: p?.centroid }))
    .filter((p): p is { name: string; centroid: SegmentProfile['centroid'] } => typeof p.name === 'string' && p.name !== '' && typeof p.centroid === 'object' && p.centroid !== null);
  const prevCentroids = prev.map((p) => p.centroid);
  const newGap = nearestOther(centroids), prevGap = nearestOther(prevCentroids);
  const pairs: Array<{ c: number; p: number; distance: number }> = [];
  centroids.forEach((centroid, c) => prevCentroids.forEach((prevCentroid, p) => {
    const distance = profileDistance(centroid, prevCentroid);
    if (distance <= MAX_PROFILE_DRIFT && distance <= newGap[c] / 2 && distance <= prevGap[p] / 2) pairs.push({ c, p, distance });
  }));
  pairs.sort((a, b) => a.distance - b.distance || a.c - b.c || a.p - b.p);
  const names: Array<string | undefined> = new Array(centroids.length).fill(undefined);
  const usedPrev = new Set<number>(), usedNames = new Set<string>();
  for (const { c, p } of pairs) {
    if (names[c] !== undefined || usedPrev.has(p) || usedNames.has(prev[p].name)) continue;
    names[c] = prev[p].name;
    usedPrev.add(p);
    usedNames.add(prev[p].name);
  }
  return names;
}

/**
 * Names clusters deterministically. With `previous` (the segmentation of the version being replaced), a
 * cluster that continues one of its clusters keeps that cluster's name (see carriedOverNames), so a name
 * keeps meaning the same customers from one version to the next and a renaming is never reported as
 * customers moving. The other clusters are named by their profile: every (cluster, name) pair is scored by
 * how close the cluster's median profile is to the name's prototype; the best pair whose name is still free
 * is assigned, both are removed, and so on. No two clusters share a name; clusters beyond the vocabulary
 * take their closest name with a number ("loyal 2").
 */
export function nameSegments(
  features: Matrix, labels: Int32Array, k: number, previous?: PreviousSegmentation | null, activeWithinDays?: number,
): { names: string[]; profiles: SegmentProfile[]; carriedOver: string[] } {
  const sortedCol = (j: number) => column(features, j).sort();
  const sorted = { R: sortedCol(RECENCY), F: sortedCol(FREQUENCY), M: sortedCol(MONETARY), A: sortedCol(AOV), T: sortedCol(TENURE) };
  const clusters = clusterMedians(features, labels, k);
  const profiles = clusters.map((c) => c.centroid);
  // a name that says "buying now" is not given, nor kept, where the median customer has not bought lately
  const dormant = (c: number) => activeWithinDays !== undefined && profiles[c].recencyDays > activeWithinDays;
  const inherited = (previous ? carriedOverNames(profiles, previous) : []).map((name, c) =>
    name !== undefined && dormant(c) && ACTIVE_NAMES.has(baseName(name)) ? undefined : name);
  const names: string[] = Array.from({ length: k }, (_, c) => inherited[c] ?? '');
  const used = new Set(names.filter(Boolean));
  const pct = profiles.map((p) => ({
    R: 1 - percentile(sorted.R, p.recencyDays), F: percentile(sorted.F, p.frequency), M: percentile(sorted.M, p.monetary),
    A: percentile(sorted.A, p.avgOrderValue), T: percentile(sorted.T, p.tenureDays),
  }));
  const pairs: Array<{ c: number; n: number; distance: number; overshoot: number }> = [];
  for (let c = 0; c < k; c++) {
    PROTOTYPES.forEach((proto, n) => {
      if (!(proto.active && dormant(c))) pairs.push({ c, n, ...prototypeDistance(pct[c], proto.profile) });
    });
  }
  pairs.sort((a, b) => a.distance - b.distance || b.overshoot - a.overshoot || a.c - b.c || a.n - b.n);
  for (const { c, n } of pairs) {
    if (names[c] || used.has(PROTOTYPES[n].name)) continue;
    names[c] = PROTOTYPES[n].name;
    used.add(names[c]);
  }
  // more clusters than free names: each remaining one takes its closest name, numbered in order of closeness
  // (skipping numbers a carried-over name already holds)
  const taken = new Map<string, number>();
  for (const { c, n } of pairs) {
    if (names[c]) continue;
    const base = PROTOTYPES[n].name;
    let number = taken.get(base) ?? 1;
    do number++; while (used.has(`${base} ${number}`));
    taken.set(base, number);
    names[c] = `${base} ${number}`;
    used.add(names[c]);
  }
  return {
    names,
    profiles: clusters.map(({ size, centroid }, c) => ({ name: names[c], size, centroid })),
    carriedOver: names.filter((_, c) => inherited[c] !== undefined),
  };
}

/** Per cluster of `labels`, its customers and their medians in the data's units. */
function clusterMedians(features: Matrix, labels: Int32Array, k: number): Array<Omit<SegmentProfile, 'name'>> {
  const members: number[][] = Array.from({ length: k }, () => []);
  labels.forEach((c, i) => members[c].push(i));
  return members.map((rows) => {
    const med = (j: number) => median(rows.map((i) => features.data[i * features.cols + j]));
    return {
      size: rows.length,
      centroid: { recencyDays: med(RECENCY), frequency: med(FREQUENCY), monetary: med(MONETARY), avgOrderValue: med(AOV), avgUnitsPerOrder: med(UNITS), tenureDays: med(TENURE) },
    };
  });
}

/**
 * The segments as customers are assigned to them (assignSegments): their sizes and medians, which is
 * what the stored predictions show. The model's own profiles are of the clusters by nearest centre, which
 * named them and which the next version's names are matched against. A segment no customer fits (a "new"
 * cluster whose nearest customers all joined long ago) has no medians: it shows its cluster's, size 0.
 */
export function assignedProfiles(model: Pick<SegmentationModel, 'k' | 'names' | 'profiles'>, features: Matrix, segment: Int32Array): SegmentProfile[] {
  return clusterMedians(features, segment, model.k).map((p, c) =>
    ({ name: model.names[c], size: p.size, centroid: p.size > 0 ? p.centroid : model.profiles[c].centroid }));
}

function quintileCuts(values: Float64Array): number[] {
  const s = Float64Array.from(values).sort();
  return [0.2, 0.4, 0.6, 0.8].map((q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

/** R×F cell such as "R5F1": R5 = most recent fifth, F5 = most frequent fifth; equal values share a score. */
export function rfCell(model: Pick<SegmentationModel, 'recencyCuts' | 'frequencyCuts'>, recencyDays: number, frequency: number): string {
  const { r, f } = rfScores(model, recencyDays, frequency);
  return `R${r}F${f}`;
}

/**
 * `previous`: the segmentation of the version this one replaces, whose clusters' names continuing clusters keep.
 * `onK`: told each k of the search before its fit.
 */
export function fitSegmentation(features: Matrix, params: SegmentationParams, previous?: PreviousSegmentation | null, onK?: (k: number) => void): SegmentationModel {
  const rfm = rfmMatrix(features);
  const scaler = fitScaler(rfm);
  const Z = transform(scaler, rfm);
  // A shop whose customers share a handful of (recency, orders, spend) profiles has no more clusters than
  // profiles, and a silhouette needs fewer clusters than customers: the search stops there, and a fixed k
  // beyond it is refused in the settings' words (train words it again when k was its own choice).
  const distinct = distinctRows(Z, Math.max(params.k ?? 0, params.kMax) + 1);
  const limit = Math.min(distinct, Z.rows - 1);
  const who = `${Z.rows.toLocaleString('en-US')} customer${Z.rows === 1 ? '' : 's'} with ${distinct.toLocaleString('en-US')} distinct profile${distinct === 1 ? '' : 's'} of recency, order count and spend`;
  if (limit < 2) {
    throw new TooFewProfilesError(`${distinct < 2 ? 'every customer has the same recency, order count and spend' : `only ${who}`}: there is nothing to segment`, Z.rows, distinct, limit);
  }
  let kmeans: KMeansModel;
  let scores: SegmentationModel['scores'] = [];
  if (params.k !== undefined) {
    if (params.k > limit) {
      throw new TooFewProfilesError(`segmentation.k is ${params.k}, but ${who} make at most ${limit} segments: set it to at most ${limit}, or leave it unset`, Z.rows, distinct, limit);
    }
    kmeans = fitKMeans(Z, { k: params.k, nInit: params.nInit, seed: params.seed });
  } else {
    const kMax = Math.min(params.kMax, limit);
    const chosen = chooseK(Z, { kMin: Math.min(params.kMin, kMax), kMax, nInit: params.nInit, seed: params.seed }, onK);
    kmeans = chosen.model;
    scores = chosen.scores.map((s) => ({ k: s.k, silhouette: s.silhouette, inertia: s.inertia }));
  }
  const silhouette = kmeans.k > 1 ? silhouetteScore(Z, kmeans.labels, { sampleSize: 10_000, seed: params.seed }) : 0;
  const { names, profiles, carriedOver } = nameSegments(features, kmeans.labels, kmeans.k, previous, params.activeWithinDays);
  return {
    k: kmeans.k, scaler, kmeans, names, profiles, namesCarriedOver: carriedOver, inertia: kmeans.inertia, silhouette, scores,
    recencyCuts: quintileCuts(column(features, RECENCY)), frequencyCuts: quintileCuts(column(features, FREQUENCY)),
    eligibility: params.activeWithinDays !== undefined ? { rules: 1, newWithinDays: params.activeWithinDays } : null,
  };
}

/** Fewer customers, or distinct profiles, than the segments asked for; `limit`: the most they make. */
export class TooFewProfilesError extends FloyoError {
  constructor(message: string, readonly customers: number, readonly profiles: number, readonly limit: number) {
    super(message);
  }
}

/** How many distinct rows X has, counting no further than `limit`. */
function distinctRows(X: Matrix, limit: number): number {
  const seen = new Set<string>();
  for (let i = 0; i < X.rows && seen.size < limit; i++) seen.add(X.data.subarray(i * X.cols, (i + 1) * X.cols).join(','));
  return seen.size;
}

/**
 * Segment of each customer (features in CUSTOMER_FEATURES order): the nearest cluster, or with
 * `eligibility`, the nearest one whose name is true of the customer (the nearest when none is).
 */
export function assignSegments(
  model: { scaler: Scaler; kmeans: Pick<KMeansModel, 'k' | 'cols' | 'centers'>; names: string[]; recencyCuts: number[]; frequencyCuts: number[]; eligibility: SegmentEligibility | null },
  features: Matrix,
): Int32Array {
  const Z = transform(model.scaler, rfmMatrix(features));
  const labels = predictKMeans(model.kmeans, Z);
  const { names, eligibility: rules } = model;
  if (!rules) return labels;
  const d = features.cols, { k, cols, centers } = model.kmeans;
  for (let i = 0; i < features.rows; i++) {
    const frequency = features.data[i * d + FREQUENCY];
    const customer = { frequency, tenureDays: features.data[i * d + TENURE], ...rfScores(model, features.data[i * d + RECENCY], frequency) };
    if (eligible(names[labels[i]], customer, rules)) continue;
    let best = -1, bestDistance = Infinity;
    for (let c = 0; c < k; c++) {
      if (!eligible(names[c], customer, rules)) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) {
        const gap = Z.data[i * cols + j] - centers[c * cols + j];
        s += gap * gap;
      }
      if (s < bestDistance) [best, bestDistance] = [c, s];
    }
    if (best >= 0) labels[i] = best;
  }
  return labels;
}

export const SEGMENT_FEATURE_INDEX = { RECENCY, FREQUENCY, MONETARY };

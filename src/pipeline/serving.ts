// Trained models ↔ registry artifacts (typed arrays + JSON documents), and the quality gate between versions.
// What is loaded back is exactly what scoring needs: the same functions score at train time and at serve time.
import type { Config } from '../config.js';
import type { Warehouse } from '../data/warehouse.js';
import { FloyoError } from '../errors.js';
import { CUSTOMER_FEATURES } from '../features/build.js';
import type { AlsModel, AlsParams } from '../ml/als.js';
import type { KMeansModel } from '../ml/kmeans.js';
import type { LogisticModel } from '../ml/logistic.js';
import type { Scaler } from '../ml/scaler.js';
import { CHURN_INPUTS } from '../models/churn.js';
import type { LoadedModels, Manifest, PublishInput, Registry } from '../models/registry.js';
import type { PreviousSegmentation, SegmentEligibility, SegmentProfile } from '../models/segments.js';
import type { TrainResult } from './train.js';
import { idIndex, type IdIndex } from './tables.js';

export interface ServingModels {
  version: string;
  manifest: Manifest;
  customers: IdIndex;
  products: IdIndex;
  /** product id → its most common name (products without one are absent) */
  productNames: ReadonlyMap<string, string>;
  segmentation: {
    scaler: Scaler; kmeans: Pick<KMeansModel, 'k' | 'cols' | 'centers'>; names: string[]; profiles: SegmentProfile[]; recencyCuts: number[]; frequencyCuts: number[];
    eligibility: SegmentEligibility | null;
  };
  churn: { scaler: Scaler; logistic: LogisticModel; threshold: number; alone: Float64Array | null };
  als: AlsModel;
  popularity: Int32Array;
  served: 'als' | 'popularity';
}

function scalerArrays(prefix: string, s: Scaler): Record<string, Float64Array> {
  return { [`${prefix}.mean`]: s.mean, [`${prefix}.scale`]: s.scale };
}

function scalerFrom(arrays: LoadedModels['arrays'], prefix: string, nSamples: number): Scaler {
  const mean = arrays[`${prefix}.mean`] as Float64Array;
  const scale = arrays[`${prefix}.scale`] as Float64Array;
  return { mean, scale, variance: scale.map((x) => x * x), nSamples, withMean: true, withStd: true };
}

export function publishInput(result: TrainResult, data: Record<string, unknown>, gate: Manifest['gate']): PublishInput {
  const f = result.final;
  const seg = f.segmentation;
  const items = f.scoring.interactions.items;
  const names: Record<string, string> = {};
  for (const id of items.ids) {
    const n = f.productNames.get(id);
    if (n) names[id] = n;
  }
  const { final: _final, timingsMs: _t, ...report } = result;
  return {
    models: {
      segmentation: { algorithm: 'kmeans++ on standardised log1p(recency, frequency, monetary)', params: { k: seg.k }, metrics: { inertia: seg.inertia, silhouette: seg.silhouette } },
      churn: {
        algorithm: 'L2 logistic regression (L-BFGS)', params: { C: f.churn.C, threshold: f.churn.threshold },
        metrics: { rocAuc: result.churn.rocAuc, prAuc: result.churn.prAuc, logLoss: result.churn.logLoss, brier: result.churn.brier,
          cvRocAucMean: result.churn.cvRocAucMean, cvRocAucStd: result.churn.cvRocAucStd },
      },
      recommendations: {
        algorithm: f.served === 'als' ? 'implicit ALS (conjugate gradient)' : 'popularity',
        params: f.served === 'als' ? { ...f.als.params } : { ranking: 'distinct customers', alsNotServed: { ...f.als.params } },
        metrics: {
          precisionAt10: result.recommendations.precisionAt10, ndcgAt10: result.recommendations.ndcgAt10,
          popularityPrecisionAt10: result.recommendations.popularity.precisionAt10, popularityNdcgAt10: result.recommendations.popularity.ndcgAt10,
        },
      },
    },
    data,
    report: report as unknown as Record<string, unknown>,
    gate,
    arrays: {
      ...scalerArrays('segmentation.scaler', seg.scaler),
      'segmentation.centers': seg.kmeans.centers,
      'segmentation.recencyCuts': Float64Array.from(seg.recencyCuts),
      'segmentation.frequencyCuts': Float64Array.from(seg.frequencyCuts),
      ...scalerArrays('churn.scaler', f.churn.scaler),
      'churn.coef': f.churn.logistic.coef,
      ...(f.churn.alone ? { 'churn.alone': f.churn.alone } : {}),
      'als.userFactors': f.als.userFactors,
      'als.itemFactors': f.als.itemFactors,
      'als.confidence.indptr': f.als.confidence.indptr,
      'als.confidence.indices': f.als.confidence.indices,
      'als.confidence.data': f.als.confidence.data,
      ...(f.als.bm25ItemNorm ? { 'als.bm25ItemNorm': f.als.bm25ItemNorm } : {}),
      popularity: f.popularity,
    },
    documents: {
      customers: f.scoring.customers.ids,
      products: items.ids,
      productNames: names,
      segmentation: { k: seg.k, cols: seg.kmeans.cols, names: seg.names, profiles: seg.profiles, nSamples: f.scoring.customers.ids.length, eligibility: seg.eligibility },
      churn: { intercept: f.churn.logistic.intercept, C: f.churn.C, threshold: f.churn.threshold, inputs: CHURN_INPUTS, features: CUSTOMER_FEATURES, nSamples: f.churn.scaler.nSamples },
      als: { params: f.als.params, factors: f.als.factors, nUsers: f.als.nUsers, nItems: f.als.nItems },
      serving: { recommender: f.served },
    },
  };
}

/** What serving reads of a version, beside the optional arrays (churn.alone, als.bm25ItemNorm). */
const SERVING_DOCUMENTS = ['customers', 'products', 'productNames', 'segmentation', 'churn', 'als', 'serving'];
const SERVING_ARRAYS = [
  'segmentation.scaler.mean', 'segmentation.scaler.scale', 'segmentation.centers', 'segmentation.recencyCuts', 'segmentation.frequencyCuts',
  'churn.scaler.mean', 'churn.scaler.scale', 'churn.coef',
  'als.userFactors', 'als.itemFactors', 'als.confidence.indptr', 'als.confidence.indices', 'als.confidence.data', 'popularity',
];

/**
 * What keeps a version from serving, from its manifest (null: nothing): Floyo 0.0.1's format 0 kept arrays
 * only, and a manifest edited by hand can leave one out.
 */
export function servingGap(m: Manifest): string | null {
  const documents = new Set(m.documents.map((d) => d.name));
  const arrays = new Set(m.arrays.map((a) => a.name));
  const missing = [
    ...SERVING_DOCUMENTS.filter((d) => !documents.has(d)).map((d) => `document ${d}`),
    ...SERVING_ARRAYS.filter((a) => !arrays.has(a)).map((a) => `array ${a}`),
  ];
  if (missing.length === 0) return null;
  const why = m.upgradedFrom !== undefined ? `Floyo ${m.floyoVersion} wrote it in format ${m.upgradedFrom}, which kept less` : 'its manifest does not list them';
  return `it has no ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} (${why})`;
}

/**
 * Refuses a version that loads but cannot serve (servingGap). Such a version can still be listed and shown;
 * promote and rollback check this before it becomes current, so `floyo score` never meets it.
 */
export function requireServable(m: Manifest): void {
  const gap = servingGap(m);
  if (gap === null) return;
  throw new FloyoError(`model version ${m.version} cannot serve predictions: ${gap}; it can be listed and shown, not served: train a new version, or promote another`);
}

/** The segmentation document's eligibility, or null when it has none (or none that reads). */
function eligibilityFrom(raw: unknown): SegmentEligibility | null {
  const { rules, newWithinDays: days } = (raw ?? {}) as { rules?: unknown; newWithinDays?: unknown };
  return rules === 1 && typeof days === 'number' && Number.isFinite(days) && days >= 0 ? { rules, newWithinDays: days } : null;
}

export async function loadServing(registry: Registry, version?: string): Promise<ServingModels> {
  const loaded = await registry.load(version);
  requireServable(loaded.manifest);
  const { arrays, documents: docs, manifest } = loaded;
  const seg = docs.segmentation as { k: number; cols: number; names: string[]; profiles: SegmentProfile[]; nSamples: number; eligibility?: unknown };
  const churn = docs.churn as { intercept: number; C: number; threshold: number; nSamples: number };
  const als = docs.als as { params: AlsParams; factors: number; nUsers: number; nItems: number };
  const coef = arrays['churn.coef'] as Float64Array;
  const logistic = {
    coef, intercept: churn.intercept, nFeatures: coef.length, nIter: 0, nEval: 0, converged: true, stop: 'gradient', gradNorm: 0, objective: 0,
    params: { C: churn.C, tol: 0, maxIter: 0, fitIntercept: true, classWeight: null, penalty: 'l2', l1Ratio: 0 },
  } as unknown as LogisticModel;
  return {
    version: manifest.version,
    manifest,
    customers: idIndex(docs.customers as string[]),
    products: idIndex(docs.products as string[]),
    productNames: new Map(Object.entries(docs.productNames as Record<string, string>)),
    segmentation: {
      scaler: scalerFrom(arrays, 'segmentation.scaler', seg.nSamples),
      kmeans: { k: seg.k, cols: seg.cols, centers: arrays['segmentation.centers'] as Float64Array },
      names: seg.names, profiles: seg.profiles,
      // a version published before segments checked their names keeps assigning the nearest cluster, as it did
      eligibility: eligibilityFrom(seg.eligibility),
      recencyCuts: Array.from(arrays['segmentation.recencyCuts']), frequencyCuts: Array.from(arrays['segmentation.frequencyCuts']),
    },
    churn: { scaler: scalerFrom(arrays, 'churn.scaler', churn.nSamples), logistic, threshold: churn.threshold, alone: (arrays['churn.alone'] as Float64Array | undefined) ?? null },
    als: {
      kind: 'als', params: als.params, factors: als.factors, nUsers: als.nUsers, nItems: als.nItems,
      userFactors: arrays['als.userFactors'] as Float32Array, itemFactors: arrays['als.itemFactors'] as Float32Array,
      confidence: {
        format: 'csr', nRows: als.nUsers, nCols: als.nItems,
        indptr: arrays['als.confidence.indptr'] as Int32Array, indices: arrays['als.confidence.indices'] as Int32Array, data: arrays['als.confidence.data'] as Float32Array,
      },
      bm25ItemNorm: (arrays['als.bm25ItemNorm'] as Float32Array | undefined) ?? null,
      lossHistory: new Float64Array(0),
    },
    popularity: arrays.popularity as Int32Array,
    served: (docs.serving as { recommender: 'als' | 'popularity' }).recommender,
  };
}

/**
 * The current version's segmentation (names and profiles), for a new version's clusters to keep the names of
 * those they continue; null when nothing is current, or when the current version's files cannot be read or
 * hold no usable segmentation document (a format-0 version, a document edited by hand): the new version's
 * clusters are then named afresh. Errors reaching the registry itself are not swallowed.
 */
export async function currentSegmentation(registry: Registry): Promise<PreviousSegmentation | null> {
  const version = await registry.current();
  if (version === null) return null;
  let doc: unknown;
  try {
    doc = await registry.document('segmentation', version); // not load: the ALS factors can be large, and on S3
  } catch (err) {
    if (err instanceof FloyoError) return null;
    throw err;
  }
  const seg = doc as Partial<PreviousSegmentation> | undefined;
  const usable = seg !== null && typeof seg === 'object' && Array.isArray(seg.names) && Array.isArray(seg.profiles) &&
    seg.names.length === seg.profiles.length && seg.names.every((n) => typeof n === 'string') &&
    seg.profiles.every((p) => p !== null && typeof p === 'object' && p.centroid !== null && typeof p.centroid === 'object');
  return usable ? { names: seg.names!, profiles: seg.profiles! } : null;
}

/** Fewer customers evaluated on the window than this: ALS and popularity are not compared by the gate. */
export const MIN_EVALUATED_TO_COMPARE = 30;

/**
 * Whether ALS ranked the window's holdout below popularity by NDCG@10, null when not (to a relative 1e-9:
 * the same hits at the same ranks are a tie, whatever the rounding of their sums); `telling` is false when
 * too few customers were evaluated for that to be more than a coin toss, which would otherwise keep back a
 * small shop's whole version.
 */
export function alsBelowPopularity(
  als: { ndcgAt10: number }, popularity: { ndcgAt10: number }, evaluatedUsers: number,
): { text: string; telling: boolean } | null {
  if (!(als.ndcgAt10 < popularity.ndcgAt10 * (1 - 1e-9))) return null;
  const text = `ALS NDCG@10 ${als.ndcgAt10.toFixed(4)} is below popularity's ${popularity.ndcgAt10.toFixed(4)}`;
  if (evaluatedUsers >= MIN_EVALUATED_TO_COMPARE) return { text, telling: true };
  return { text: `${text}, but on ${evaluatedUsers} evaluated customer${evaluatedUsers === 1 ? '' : 's'} (fewer than ${MIN_EVALUATED_TO_COMPARE})`, telling: false };
}

/**
 * The recommender a train serves, and why: the one chosen at the validation cutoff, except that ALS below
 * popularity on the reported window serves popularity when the current version does not serve ALS. The gate
 * would keep such a version back whole, segments and churn included, to protect a current ALS; with no
 * version current nothing would be served at all, and a current one serving popularity would go on serving
 * it with stale segments and churn risk.
 */
export function servedRecommender(
  chosen: 'als' | 'popularity', window: { als: { ndcgAt10: number }; popularity: { ndcgAt10: number }; evaluatedUsers: number },
  currentRecommender: 'als' | 'popularity' | null,
): { served: 'als' | 'popularity'; because: string } {
  if (chosen === 'popularity') return { served: 'popularity', because: 'ALS did not beat popularity at the validation cutoff' };
  const below = alsBelowPopularity(window.als, window.popularity, window.evaluatedUsers);
  if (currentRecommender === 'als' || !below?.telling) return { served: 'als', because: 'ALS beat popularity at the validation cutoff' };
  const instead = currentRecommender === null ? 'no version is current to serve instead' : 'the current version serves popularity too';
  return { served: 'popularity', because: `ALS, chosen at the validation cutoff, fell below popularity on the reported window (${below.text}) and ${instead}` };
}

/**
 * The quality gate: a new version is promoted unless its churn 5-fold cross-validated ROC-AUC falls more than
 * `maxAucDrop` below the current version's, or its served recommender's NDCG@10 is below popularity's on the
 * reported window: the metric ALS was chosen by at the validation cutoff (judged by precision, a first
 * train whose ALS ranked its hits higher but found a few fewer was kept back). Unless ALS is current, such
 * a version serves popularity instead (servedRecommender) and does not fail here. The CV mean, not the 80/20 split's ROC-AUC: one split of a few thousand customers moves by a few
 * points with the seed alone, which would judge noise. A current version published before the CV mean was
 * kept is compared on the split's ROC-AUC, like with like, and the reason says so. Churn is not compared
 * with a version trained on another horizon: its labels are other labels (a 45-day churner is not a 90-day
 * one), and the note says so. A CV drop beyond `maxAucDrop` is held against the version only
 * when it also exceeds twice the standard error of the two means' difference (see cvNoise): on a small
 * shop the folds' AUCs spread by several points, and two trains would differ by more than 0.02 by chance.
 */
export function qualityGate(result: TrainResult, current: Manifest | null, config: Config): NonNullable<Manifest['gate']> {
  const reasons: string[] = [];
  const notes: string[] = [];
  const rec = result.recommendations;
  const below = rec.model === 'als' ? alsBelowPopularity(rec, rec.popularity, rec.evaluatedUsers) : null;
  if (below?.telling) reasons.push(`recommendations: ${below.text}`);
  else if (below) notes.push(`recommendations not compared: ${below.text}`);
  const currentHorizon = current?.data?.horizonDays;
  const sameLabels = typeof currentHorizon !== 'number' || currentHorizon === result.horizonDays;
  if (!sameLabels) {
    notes.push(`churn not compared with ${current?.version}: it was trained on a ${currentHorizon}-day churn horizon, this version on ${result.horizonDays} days`);
  }
  const metrics = sameLabels ? current?.models.churn?.metrics : undefined;
  if (metrics) {
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    const drop = config.churn.maxAucDrop;
    const below = drop === 0 ? 'below' : `more than ${drop} below`;
    if (finite(metrics.cvRocAucMean) && finite(result.churn.cvRocAucMean)) {
      if (result.churn.cvRocAucMean < metrics.cvRocAucMean - drop) {
        const lower = `churn: 5-fold CV ROC-AUC ${result.churn.cvRocAucMean.toFixed(4)} is ${below} the current version's ${metrics.cvRocAucMean.toFixed(4)}`;
        // the current version's spread: its metrics, the report of a version published before they had it, or this one's
        const reported = (current?.report as { churn?: { cvRocAucStd?: unknown } } | undefined)?.churn?.cvRocAucStd;
        const currentStd = [metrics.cvRocAucStd, reported].find(finite) ?? result.churn.cvRocAucStd;
        const noise = cvNoise(result.churn.cvRocAucStd, currentStd);
        if (metrics.cvRocAucMean - result.churn.cvRocAucMean <= noise) {
          notes.push(`${lower}, but within the noise of the two means (±${noise.toFixed(4)}, twice the standard error of their difference): not held against it`);
        } else {
          reasons.push(lower);
        }
      }
    } else if (finite(metrics.rocAuc) && result.churn.rocAuc < metrics.rocAuc - drop) {
      reasons.push(
        `churn: ROC-AUC ${result.churn.rocAuc.toFixed(4)} is ${below} the current version's ${metrics.rocAuc.toFixed(4)} ` +
          `(compared on the 80/20 split: the current version ${current?.version} has no cross-validated ROC-AUC)`,
      );
    }
  }
  if (!result.churn.converged) reasons.push('churn: the optimiser did not converge');
  return { passed: reasons.length === 0, reasons, ...(notes.length ? { notes } : {}) };
}

/**
 * Twice the standard error of the difference of two 5-fold CV means, from each one's spread over its folds
 * (a population standard deviation, so √(k − 1) gives the mean's standard error). Rough: the folds share
 * training rows, and two trains share most customers; it tells a drop a small shop's folds make by
 * chance from a real one. NaN spreads (no CV) give 0: no allowance.
 */
export function cvNoise(std: number, otherStd: number, folds = 5): number {
  const se = (s: number) => (Number.isFinite(s) ? s / Math.sqrt(folds - 1) : 0);
  return 2 * Math.hypot(se(std), se(otherStd));
}

/** The product ids this warehouse holds sales of (null: it holds none, so there is nothing to compare with). */
export async function warehouseProducts(warehouse: Warehouse): Promise<Set<string> | null> {
  const rows = await warehouse.query<{ id: string }>('SELECT DISTINCT product_id AS id FROM transactions');
  return rows.length ? new Set(rows.map((r) => r.id)) : null;
}

/** Below this share of a version's products sold in the home, the version was trained on another shop's data. */
const SAME_SHOP_MIN_SHARE = 0.1;

/**
 * Refuses a model version trained on another shop's data. A registry (`models.location`) shared by two
 * shops would otherwise let one shop's train become current for the other, whose customers would then be
 * scored with it and recommended products it does not sell. A version's products are those it was
 * trained on, so its own shop has sold nearly all of them (a home that ingests only recent sales still
 * most), another shop next to none.
 */
export function requireSameShop(version: string, products: readonly string[], sold: Set<string> | null, location: string, home: string): void {
  if (sold === null || products.length === 0) return;
  let known = 0;
  for (const p of products) if (sold.has(p)) known++;
  if (known >= SAME_SHOP_MIN_SHARE * products.length) return;
  const share = ((100 * known) / products.length).toFixed(known === 0 ? 0 : 1);
  throw new FloyoError(
    `model version ${version} in ${location} was trained on another shop's data: ${known.toLocaleString('en-US')} of its ` +
      `${products.length.toLocaleString('en-US')} products (${share}%) appear in the sales of ${home}; a models.location holds one shop's ` +
      'versions: give each shop its own',
  );
}

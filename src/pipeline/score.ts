// Predictions: one row per customer (segment, R×F cell, churn risk with reasons, recommendations) for the
// prediction store. `floyo train` builds them from the models it just fitted; `floyo score` (and a promote
// or rollback) from a published version against the warehouse as it is now, so stored predictions can be
// refreshed with new data and follow the current version.
import { parseInstant, shiftDays } from '../dates.js';
import type { Warehouse } from '../data/warehouse.js';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { checkExchangeRates, CUSTOMER_FEATURES } from '../features/build.js';
import { foldInMany, type AlsModel } from '../ml/als.js';
import { defaultThreads, toShared, withPool, type Pool } from '../ml/pool.js';
import type { Matrix } from '../ml/matrix.js';
import { csrFromTriplets, type Csr } from '../ml/sparse.js';
import { churnProbability, churnReasons, type ChurnModel } from '../models/churn.js';
import { popularityShare, recommendAlsScored, recommendPopularScored, type RankedItems, type ServingRules } from '../models/recommendations.js';
import { assignSegments, rfCell, SEGMENT_FEATURE_INDEX, type SegmentationModel } from '../models/segments.js';
import type { Prediction } from '../stores/predictions.js';
import type { ServingModels } from './serving.js';
import { knownIndices, snapshot } from './tables.js';

/** Every scored customer of one run, in the order of `ids`. */
export interface ScoredCustomers {
  ids: string[];
  /** customers × CUSTOMER_FEATURES as of the scoring time */
  features: Matrix;
  segment: Int32Array;
  churn: Float64Array;
  /** top-K recommended items per customer, best first */
  recommendations: RankedItems[];
  /** product id of each item index used in `recommendations` */
  itemIds: string[];
}

/** What a prediction needs of the models, whether just fitted or loaded from the registry. */
export interface PredictionModels {
  segmentation: Pick<SegmentationModel, 'names' | 'recencyCuts' | 'frequencyCuts'>;
  churn: Pick<ChurnModel, 'scaler' | 'logistic' | 'threshold' | 'alone'>;
}

/**
 * The scoring time: `now` (a date means the end of that day, UTC) or the data's last timestamp — never the
 * wall clock, or every customer of an old data set would look churned. The past ends at `scoredAsOf` itself,
 * whichever way it was given, so one instant always gives the same scores (the recent-activity windows end
 * there); `day` is its date, the features' cutoff; `lastPurchase` the date of the data's last purchase (null:
 * none), which the churn model's cutoffs follow.
 */
export interface ScoringTime { scoredAsOf: string; day: string; lastPurchase: string | null }

export async function scoringTime(warehouse: Warehouse, now?: string): Promise<ScoringTime> {
  const [span] = await warehouse.query<{ first: string | null; last: string | null; lastPurchase: string | null }>(
    `SELECT strftime(min(ts), '%Y-%m-%dT%H:%M:%SZ') AS first, strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') AS last,
            strftime(max(ts) FILTER (WHERE NOT is_return), '%Y-%m-%d') AS "lastPurchase" FROM transactions`,
  );
  if (now === undefined) {
    if (!span.last) throw new FloyoError(`the warehouse ${warehouse.path} holds no transactions; run \`floyo ingest\` first`, {}, NOT_FOUND_EXIT);
    return { scoredAsOf: span.last, day: span.last.slice(0, 10), lastPurchase: span.lastPurchase };
  }
  const scoredAsOf = parseInstant(now, '--now'); // whole seconds, as the data's timestamps
  if (span.first && scoredAsOf < span.first) throw new FloyoError(`--now ${now} is before the first transaction (${span.first}): no customer has bought anything by then`);
  return { scoredAsOf, day: scoredAsOf.slice(0, 10), lastPurchase: span.lastPurchase };
}

/**
 * Why a scoring time deserves a warning, or null: more than the churn horizon after the data's last
 * transaction, every customer has gone longer without buying than any label the model learnt from, so
 * all of them look churned (usually a typo in --now, or sales not ingested yet).
 */
export function staleDataWarning(time: { day: string; lastPurchase: string | null }, horizonDays: number): string | null {
  if (time.lastPurchase === null || time.day <= shiftDays(time.lastPurchase, horizonDays)) return null;
  const days = Math.round((Date.parse(time.day) - Date.parse(time.lastPurchase)) / 86_400_000);
  // by default the scoring time is the last line: a late return alone (a stray credit note) gets here too
  return `scoring as of ${time.day}, ${days.toLocaleString('en-US')} days after the data's last purchase (${time.lastPurchase}), more than the ` +
    `${horizonDays}-day churn horizon: every customer looks churned; ingest the newer sales, or give a --now within the horizon`;
}

/** One stored prediction per scored customer, by model `version` as of `scoredAt`. */
export function* toPredictions(
  scored: ScoredCustomers, models: PredictionModels, productNames: ReadonlyMap<string, string>, version: string, scoredAt: string,
): Iterable<Prediction> {
  const d = CUSTOMER_FEATURES.length;
  const x = scored.features.data;
  for (let i = 0; i < scored.ids.length; i++) {
    const p = scored.churn[i];
    const recs = scored.recommendations[i];
    const segment = scored.segment[i];
    yield {
      customerId: scored.ids[i],
      segment: models.segmentation.names[segment],
      segmentId: segment,
      rfCell: rfCell(models.segmentation, x[i * d + SEGMENT_FEATURE_INDEX.RECENCY], x[i * d + SEGMENT_FEATURE_INDEX.FREQUENCY]),
      churnProbability: p,
      churnRisk: p >= models.churn.threshold ? 'high' : 'low',
      churnReasons: churnReasons(models.churn, x.slice(i * d, (i + 1) * d)),
      recommendations: Array.from(recs.items, (item, r) => {
        const productId = scored.itemIds[item];
        return { productId, productName: productNames.get(productId) ?? null, score: recs.scores[r] };
      }),
      modelVersion: version,
      scoredAt,
    };
  }
}

/** The interactions with their columns re-indexed to the model's products; products it does not know are dropped. */
function inModelItems(interactions: Csr, itemIds: string[], models: ServingModels): Csr {
  const toModel = Int32Array.from(itemIds, (id) => models.products.index.get(id) ?? -1);
  let kept = 0;
  for (let k = 0; k < interactions.indices.length; k++) if (toModel[interactions.indices[k]] >= 0) kept++;
  // typed arrays, not arrays of numbers: tens of millions of pairs at a million customers
  const rows = new Int32Array(kept), cols = new Int32Array(kept), vals = new Float32Array(kept);
  let q = 0;
  for (let u = 0; u < interactions.nRows; u++) {
    for (let k = interactions.indptr[u]; k < interactions.indptr[u + 1]; k++) {
      const item = toModel[interactions.indices[k]];
      if (item < 0) continue;
      rows[q] = u;
      cols[q] = item;
      vals[q] = interactions.data[k];
      q++;
    }
  }
  return csrFromTriplets(interactions.nRows, models.products.ids.length, rows, cols, vals);
}

/**
 * Recommendations from the customers' purchases now: with ALS each customer is folded in from their current
 * interactions (a fresh user vector, no retraining), so a purchase since training changes what they see;
 * customers the model cannot place (nothing it knows bought) get popular products, as with popularity served.
 * `exclude` products are left out, and already-bought ones unless the rules include them.
 */
async function recommendNow(
  models: ServingModels, bought: Csr, rules: ServingRules, onProgress: (done: number, total: number) => void,
): Promise<RankedItems[]> {
  const exclude = new Set(knownIndices(models.products, rules.exclude));
  const n = bought.nRows;
  const share = popularityShare(models.als.confidence);
  const out: RankedItems[] = new Array(n);
  // with ALS, the customers it can place (something it knows bought); the others get popular products
  const placed: number[] = [];
  if (models.served === 'als') for (let u = 0; u < n; u++) if (bought.indptr[u + 1] > bought.indptr[u]) placed.push(u);
  // progress counts each customer once, and those ALS ranks once more (fold-in, then ranking): the total is
  // known before the first update, so it never grows
  const total = n + placed.length;
  const popular = () => {
    for (let u = 0, p = 0; u < n; u++) {
      if (placed[p] === u) p++;
      else [out[u]] = recommendPopularScored(models.popularity, bought, [u], rules.count, exclude, share, rules.includeBought);
    }
  };
  if (!placed.length) {
    popular();
    onProgress(total, total);
    return out;
  }
  // Fold-in and ranking share one pool (none for a small shop: each decides its own threads then). The
  // customers become the users of a model with the trained item factors: batch scoring on the pool, leaving
  // out each one's current purchases unless the rules include them (only the rows' items are read, not their
  // values), in blocks so that progress moves while a large shop is ranked.
  const run = async (pool?: Pool) => {
    const X = await foldInMany(models.als, bought, { pool, onProgress: (rows) => onProgress(rows, total) });
    popular();
    // the purchases on shared memory once: each block's ranking would otherwise copy them for the pool again
    const shared: Csr = { ...bought, indptr: toShared(bought.indptr), indices: toShared(bought.indices) };
    const now: AlsModel = { ...models.als, nUsers: n, userFactors: X, confidence: shared };
    for (let q = 0; q < placed.length; q += RANK_BLOCK) {
      onProgress(n + q, total);
      const block = placed.slice(q, q + RANK_BLOCK);
      const ranked = await recommendAlsScored(now, block, rules.count, [...exclude], { pool }, rules.includeBought);
      block.forEach((u, k) => (out[u] = ranked[k]));
    }
  };
  if (placed.length <= RANK_BLOCK) await run();
  else await withPool(undefined, defaultThreads(), run);
  onProgress(total, total);
  return out;
}

/** Customers ranked per batch call when scoring: a few seconds of work on a large catalogue. */
const RANK_BLOCK = 10_000;

/** Scores every customer with a purchase by `time` (see scoringTime) with a published model version. */
export async function scoreWithVersion(
  warehouse: Warehouse, models: ServingModels,
  options: {
    time: ScoringTime; horizonDays: number; exchangeRates?: Record<string, number>; exchangeRatesOf?: string; rules: ServingRules;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<{ scoredAsOf: string; scored: ScoredCustomers }> {
  const { scoredAsOf, day } = options.time;
  const exchangeRates = await checkExchangeRates(warehouse, options.exchangeRates, options.exchangeRatesOf);
  const snap = await snapshot(warehouse, { asOf: day, horizonDays: options.horizonDays, until: scoredAsOf, exchangeRates });
  const features = snap.customers.features;
  const bought = inModelItems(snap.interactions.matrix, snap.interactions.items.ids, models);
  return {
    scoredAsOf,
    scored: {
      ids: snap.customers.ids,
      features,
      segment: assignSegments(models.segmentation, features),
      churn: churnProbability(models.churn, features),
      recommendations: await recommendNow(models, bought, options.rules, options.onProgress ?? (() => undefined)),
      itemIds: models.products.ids,
    },
  };
}

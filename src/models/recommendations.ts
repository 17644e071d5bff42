// Recommendations: implicit-feedback ALS against the popularity baseline. Both are evaluated the same way;
// the one that wins on the validation split is served, so Floyo never ships a recommender worse than popularity.
import { fitAls, recommendBatch, type AlsModel, type AlsParams, type FitOptions, type ParallelOptions } from '../ml/als.js';
import { catalogueCoverage, rankingMetrics, type RankingMetrics } from '../ml/metrics.js';
import type { Csr } from '../ml/sparse.js';

/** The protocol's cut-off: every model is evaluated on its top 10. */
export const K = 10;

/** How served recommendations are made (config `recommendations`): evaluation ignores these and follows the protocol. */
export interface ServingRules {
  /** product ids never recommended */
  exclude: string[];
  /** recommendations per customer */
  count: number;
  /** also recommend what the customer already bought */
  includeBought: boolean;
}

/** Items ranked by how many distinct customers bought them (ties: lower index first). */
export function popularityRanking(interactions: Csr): Int32Array {
  const counts = buyerCounts(interactions);
  return Int32Array.from([...counts.keys()].sort((a, b) => counts[b] - counts[a] || a - b));
}

/** Top-n popular items for each user, leaving out the excluded items and (unless includeBought) what the user bought. */
export function recommendPopular(
  ranking: Int32Array, interactions: Csr, users: ArrayLike<number>, n: number, exclude: ReadonlySet<number> = new Set(), includeBought = false,
): Int32Array[] {
  const out: Int32Array[] = [];
  for (let u = 0; u < users.length; u++) {
    const user = users[u];
    const bought = new Set<number>();
    if (!includeBought && user >= 0 && user < interactions.nRows) {
      for (let k = interactions.indptr[user]; k < interactions.indptr[user + 1]; k++) bought.add(interactions.indices[k]);
    }
    const picks: number[] = [];
    for (let r = 0; r < ranking.length && picks.length < n; r++) {
      const item = ranking[r];
      if (!bought.has(item) && !exclude.has(item)) picks.push(item);
    }
    out.push(Int32Array.from(picks));
  }
  return out;
}

export interface RankedItems {
  items: Int32Array;
  /** ALS: the predicted preference; popularity: the share of customers who bought the item */
  scores: Float32Array;
}

export async function recommendAlsScored(
  model: AlsModel, users: ArrayLike<number>, n: number, exclude: ArrayLike<number> = [], parallel: ParallelOptions = {}, includeBought = false,
): Promise<RankedItems[]> {
  const batch = await recommendBatch(model, users, n, { ...parallel, filterAlreadyBought: !includeBought, exclude });
  const out: RankedItems[] = [];
  for (let u = 0; u < users.length; u++) {
    const row = batch.items.subarray(u * batch.n, (u + 1) * batch.n);
    let len = row.indexOf(-1);
    if (len < 0) len = row.length;
    // views on the batch's arrays, not copies: two buffers of their own per customer cost more than their ten items
    out.push({ items: row.subarray(0, len), scores: batch.scores.subarray(u * batch.n, u * batch.n + len) });
  }
  return out;
}

export async function recommendAls(model: AlsModel, users: ArrayLike<number>, n: number, exclude: ArrayLike<number> = [], parallel: ParallelOptions = {}): Promise<Int32Array[]> {
  return (await recommendAlsScored(model, users, n, exclude, parallel)).map((r) => r.items);
}

/** {@link recommendPopular} with each item's share of customers (`popularityShare`) as its score. */
export function recommendPopularScored(
  ranking: Int32Array, interactions: Csr, users: ArrayLike<number>, n: number, exclude: ReadonlySet<number>, share: Float32Array, includeBought = false,
): RankedItems[] {
  return recommendPopular(ranking, interactions, users, n, exclude, includeBought).map((items) => ({ items, scores: Float32Array.from(items, (i) => share[i]) }));
}

/** Share of customers who bought each item: the popularity recommender's score. */
export function popularityShare(interactions: Csr): Float32Array {
  return Float32Array.from(buyerCounts(interactions), (c) => c / Math.max(1, interactions.nRows));
}

/** Distinct customers who bought each item (rows with a positive value in its column). */
export function buyerCounts(interactions: Csr): Float64Array {
  const counts = new Float64Array(interactions.nCols);
  for (let k = 0; k < interactions.indices.length; k++) if (interactions.data[k] > 0) counts[interactions.indices[k]]++;
  return counts;
}

export interface Holdout {
  /** evaluated users (indices into the interaction matrix's rows) */
  users: Int32Array;
  /** the items each went on to buy (new to them, seen in the past) */
  items: Int32Array[];
}

export interface RecommenderMetrics extends RankingMetrics {
  coverage: number;
}

export function evaluate(recommended: Int32Array[], holdout: Holdout, nItems: number): RecommenderMetrics {
  return { ...rankingMetrics(recommended, holdout.items, K), coverage: catalogueCoverage(recommended, K, nItems) };
}

export const ALS_GRID: Array<Partial<AlsParams>> = [
  { factors: 32, regularization: 0.05, alpha: 2, weighting: 'bm25', iterations: 15 },
  { factors: 64, regularization: 0.05, alpha: 2, weighting: 'bm25', iterations: 15 },
  { factors: 64, regularization: 0.1, alpha: 10, weighting: 'log', iterations: 15 },
];

/** fitAls's onIteration, saying how many of the setting's iterations are done. */
export function alsProgress(params: Partial<AlsParams>, say: (what: string) => void): FitOptions['onIteration'] {
  return ({ iteration }) => say(`${iteration + 1}${params.iterations ? `/${params.iterations}` : ''} iterations done`);
}

export interface RecommenderChoice {
  params: Partial<AlsParams>;
  als: RecommenderMetrics;
  popularity: RecommenderMetrics;
  grid: Array<{ params: Partial<AlsParams>; precisionAt10: number; ndcgAt10: number }>;
  /** which recommender is served: ALS only when it beats popularity on validation */
  served: 'als' | 'popularity';
}

/** Picks ALS parameters on a validation split by NDCG@10 and compares the best with popularity. */
export async function chooseRecommender(
  interactions: Csr, holdout: Holdout, seed: number, parallel: ParallelOptions = {}, onProgress?: (what: string) => void,
): Promise<RecommenderChoice> {
  const ranking = popularityRanking(interactions);
  const popularity = evaluate(recommendPopular(ranking, interactions, holdout.users, K), holdout, interactions.nCols);
  let best: { params: Partial<AlsParams>; metrics: RecommenderMetrics } | null = null;
  const grid: RecommenderChoice['grid'] = [];
  for (const [g, params] of ALS_GRID.entries()) {
    const setting = `setting ${g + 1}/${ALS_GRID.length}`;
    onProgress?.(`${setting}, fitting`);
    const model = await fitAls(interactions, { ...params, seed }, { ...parallel, onIteration: alsProgress(params, (s) => onProgress?.(`${setting}, ${s}`)) });
    onProgress?.(`${setting}, ranking ${holdout.users.length.toLocaleString('en-US')} customers`);
    const metrics = evaluate(await recommendAls(model, holdout.users, K, [], parallel), holdout, interactions.nCols);
    grid.push({ params, precisionAt10: metrics.precision, ndcgAt10: metrics.ndcg });
    if (!best || metrics.ndcg > best.metrics.ndcg) best = { params, metrics };
  }
  const served = best && best.metrics.ndcg > popularity.ndcg ? 'als' : 'popularity';
  return { params: best!.params, als: best!.metrics, popularity, grid, served };
}

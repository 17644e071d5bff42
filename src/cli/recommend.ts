// `floyo recommend <customer>` and `floyo similar <product>`: queries against the current model version.
// Business rules (unavailable or blacklisted products, already-bought items) are applied here, at query
// time, so changing them needs no retraining.
import type { Command } from 'commander';
import { FloyoError } from '../errors.js';
import { explain, recommend, similarItems, type Ranked } from '../ml/als.js';
import { loadServing, type ServingModels } from '../pipeline/serving.js';
import { knownIndices } from '../pipeline/tables.js';
import { action, makeContext, table, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { requireCurrent, withRegistry } from './registry.js';

/** How many past purchases an explanation names at most. */
const EXPLAIN_TOP = 3;
const MAX_N = 1000;

export interface Contribution {
  productId: string;
  productName: string | null;
  /**
   * this past purchase's part of the score: the parts of all past purchases sum to the exact least-squares
   * score of the product for this customer (ALS explain), which is close to `score` (from the fitted factors)
   */
  contribution: number;
}

export interface Recommendation {
  productId: string;
  productName: string | null;
  /** ALS: the predicted preference; popularity: the share of customers who bought the product */
  score: number;
  /** with explain and ALS: the past purchases that contribute most, largest first (positive ones only) */
  because?: Contribution[];
  /** with explain: why, in words */
  reason?: string;
}

export interface RecommendResult {
  customer: string;
  /** the customer has purchases in the model; false: popular products instead */
  known: boolean;
  recommender: 'als' | 'popularity';
  modelVersion: string;
  /** product ids kept out (config recommendations.exclude and --exclude) */
  excluded: string[];
  filterAlreadyBought: boolean;
  recommendations: Recommendation[];
}

export interface RecommendOptions {
  n: number;
  /** product ids never to recommend, on top of nothing else (the caller merges the config's list) */
  exclude: string[];
  includeBought: boolean;
  explain: boolean;
}

export interface SimilarProduct {
  productId: string;
  productName: string | null;
  /** cosine similarity of the ALS item factors, in [-1, 1] */
  similarity: number;
}

export interface SimilarResult {
  product: string;
  productName: string | null;
  modelVersion: string;
  excluded: string[];
  similar: SimilarProduct[];
}

const nameOf = (models: ServingModels, item: number): string | null => models.productNames.get(models.products.ids[item]) ?? null;

/** Distinct customers per product in the training interactions. */
function buyersPerProduct(models: ServingModels): Float64Array {
  const counts = new Float64Array(models.als.nItems);
  const c = models.als.confidence;
  for (let k = 0; k < c.indices.length; k++) if (c.data[k] > 0) counts[c.indices[k]]++;
  return counts;
}

function boughtBy(models: ServingModels, user: number): Set<number> {
  const c = models.als.confidence;
  return new Set(c.indices.subarray(c.indptr[user], c.indptr[user + 1]));
}

function popular(models: ServingModels, leaveOut: ReadonlySet<number>, n: number, buyers: Float64Array): Ranked {
  const picks: number[] = [];
  for (let r = 0; r < models.popularity.length && picks.length < n; r++) {
    const item = models.popularity[r];
    if (!leaveOut.has(item)) picks.push(item);
  }
  const users = Math.max(1, models.als.nUsers);
  return { items: Int32Array.from(picks), scores: Float32Array.from(picks, (i) => buyers[i] / users) };
}

function listInWords(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

const labelOf = (c: { productId: string; productName: string | null }): string => (c.productName ? `${c.productName} (${c.productId})` : c.productId);

/**
 * Top-n products for one customer from a loaded model version, with the business rules applied:
 * `exclude` products never appear, nor (unless includeBought) products the customer already bought.
 * A customer without purchases in the model gets the most popular products.
 */
export function recommendFor(models: ServingModels, customer: string, options: RecommendOptions): RecommendResult {
  const excludedIds = [...new Set(options.exclude)];
  const exclude = new Set(knownIndices(models.products, excludedIds));
  const userIndex = models.customers.index.get(customer);
  const c = models.als.confidence;
  const known = userIndex !== undefined && userIndex < models.als.nUsers && c.indptr[userIndex + 1] > c.indptr[userIndex];
  const recommender: 'als' | 'popularity' = known && models.served === 'als' ? 'als' : 'popularity';
  const buyers = recommender === 'popularity' ? buyersPerProduct(models) : new Float64Array(0);

  let ranked: Ranked;
  if (recommender === 'als') {
    ranked = recommend(models.als, userIndex!, options.n, { filterAlreadyBought: !options.includeBought, exclude: [...exclude] });
  } else {
    const leaveOut = new Set(exclude);
    if (known && !options.includeBought) for (const item of boughtBy(models, userIndex!)) leaveOut.add(item);
    ranked = popular(models, leaveOut, options.n, buyers);
  }

  const recommendations = Array.from(ranked.items, (item, r): Recommendation => {
    const rec: Recommendation = { productId: models.products.ids[item], productName: nameOf(models, item), score: ranked.scores[r] };
    if (!options.explain) return rec;
    if (recommender === 'als') {
      const e = explain(models.als, userIndex!, item);
      const because: Contribution[] = [];
      for (let k = 0; k < e.items.length && because.length < EXPLAIN_TOP; k++) {
        if (!(e.contributions[k] > 0)) break;
        because.push({ productId: models.products.ids[e.items[k]], productName: nameOf(models, e.items[k]), contribution: e.contributions[k] });
      }
      rec.because = because;
      rec.reason = because.length
        ? `because they bought ${listInWords(because.map((b) => b.productName ?? b.productId))}`
        : 'no single past purchase stands out: the score comes from their purchases as a whole';
    } else {
      rec.reason = `popular: bought by ${buyers[item]} of ${models.als.nUsers} customers`;
    }
    return rec;
  });
  return { customer, known, recommender, modelVersion: models.version, excluded: excludedIds, filterAlreadyBought: !options.includeBought, recommendations };
}

/** Product ids that look like what was asked for (same id in another case, or the text in the name). */
function lookalikes(models: ServingModels, asked: string, limit = 5): string[] {
  const q = asked.trim().toLowerCase();
  if (q.length === 0) return [];
  const byId = models.products.ids.filter((id) => id.toLowerCase() === q);
  const byName = q.length < 3 ? [] : models.products.ids.filter((id) => !byId.includes(id) && (models.productNames.get(id) ?? '').toLowerCase().includes(q));
  return [...byId, ...byName].slice(0, limit).map((id) => (models.productNames.has(id) ? `${id} (${models.productNames.get(id)})` : id));
}

/** The n products most similar to `product` by the ALS item factors, leaving out `exclude`. */
export function similarTo(models: ServingModels, product: string, options: { n: number; exclude: string[] }): SimilarResult {
  const item = models.products.index.get(product);
  if (item === undefined) {
    const guesses = lookalikes(models, product);
    const hint = guesses.length
      ? `did you mean ${listInWords(guesses).replace(/ and ([^,]*)$/, ' or $1')}?`
      : 'product ids are the product_id column of your data (StockCode in Online Retail files); floyo recommend <customer> prints some';
    throw new FloyoError(`product "${product}" is not in model version ${models.version} (it knows the ${models.products.ids.length.toLocaleString('en-US')} products customers bought); ${hint}`);
  }
  const excludedIds = [...new Set(options.exclude)];
  const exclude = new Set(knownIndices(models.products, excludedIds));
  exclude.delete(item);
  const ranked = similarItems(models.als, item, Math.min(models.als.nItems, options.n + exclude.size));
  const similar: SimilarProduct[] = [];
  for (let r = 0; r < ranked.items.length && similar.length < options.n; r++) {
    const i = ranked.items[r];
    if (exclude.has(i)) continue;
    similar.push({ productId: models.products.ids[i], productName: nameOf(models, i), similarity: ranked.scores[r] });
  }
  return { product, productName: nameOf(models, item), modelVersion: models.version, excluded: excludedIds, similar };
}

// ---------------------------------------------------------------------------------------------
// the commands

interface QueryOptions extends CommonOptions {
  n: string;
  exclude: string[];
}

interface RecommendCliOptions extends QueryOptions {
  includeBought?: boolean;
  explain?: boolean;
}

function collectIds(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)];
}

function parseN(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(n) || n < 1 || n > MAX_N) throw new FloyoError(`-n must be a whole number from 1 to ${MAX_N}, got "${text}"`);
  return n;
}

async function loadCurrent(ctx: CommandContext): Promise<ServingModels> {
  return withRegistry(ctx.loaded.config, async (registry) => loadServing(registry, await requireCurrent(registry)));
}

const score = (v: number): string => (Math.abs(v) >= 0.001 || v === 0 ? v.toFixed(3) : v.toExponential(2));

function printRecommendations(ctx: CommandContext, r: RecommendResult): void {
  if (ctx.json) {
    ctx.emitJson(r);
    return;
  }
  if (!r.known) {
    ctx.say(`customer ${r.customer} has no purchase history in model version ${r.modelVersion}: showing the most popular products`);
  } else if (r.recommender === 'popularity') {
    ctx.say(`customer ${r.customer}: the most popular products${r.filterAlreadyBought ? ' they have not bought' : ''} ` +
      `(model version ${r.modelVersion} serves popularity: ALS did not beat it when the version was trained)`);
  } else {
    ctx.say(`customer ${r.customer}: ${r.recommendations.length} recommendations from model version ${r.modelVersion} (ALS)` +
      `${r.filterAlreadyBought ? ', leaving out what they already bought' : ', including what they already bought'}`);
  }
  if (r.excluded.length) ctx.say(`excluded by the business rules: ${r.excluded.join(', ')}`);
  const rows = r.recommendations.map((rec, i) => ({
    rank: i + 1, product: rec.productId, name: rec.productName ?? '', score: score(rec.score), ...(rec.reason !== undefined ? { why: rec.reason } : {}),
  }));
  ctx.say(table(rows, rows.length && 'why' in rows[0] ? ['rank', 'product', 'name', 'score', 'why'] : ['rank', 'product', 'name', 'score']));
}

export function registerRecommend(program: Command): void {
  withCommonOptions(
    program
      .command('recommend')
      .argument('<customer>', 'a customer id')
      .description('top products for a customer from the current model version, with the business rules applied')
      .option('-n <count>', 'how many products', '10')
      .option('--exclude <ids>', 'product ids never to recommend, comma-separated (adds to config recommendations.exclude; repeatable)', collectIds, [])
      .option('--include-bought', 'also recommend products the customer already bought')
      .option('--explain', 'say why: the past purchases that contribute most to each recommendation')
      .addHelpText(
        'after',
        `
Business rules apply at query time, without retraining: products in config recommendations.exclude
(env FLOYO_RECOMMENDATIONS_EXCLUDE='["85123A"]') and --exclude are never recommended, and neither are
products the customer already bought unless --include-bought. A customer with no purchases in the model
gets the most popular products. The current model version is used (floyo models list).`,
      ),
  ).action(
    action(async (customer: string, opts: RecommendCliOptions) => {
      const n = parseN(opts.n);
      const ctx = makeContext(opts);
      const models = await loadCurrent(ctx);
      const result = recommendFor(models, customer.trim(), {
        n, exclude: [...ctx.loaded.config.recommendations.exclude, ...opts.exclude], includeBought: Boolean(opts.includeBought), explain: Boolean(opts.explain),
      });
      printRecommendations(ctx, result);
    }),
  );
}

export function registerSimilar(program: Command): void {
  withCommonOptions(
    program
      .command('similar')
      .argument('<product>', 'a product id')
      .description('products most similar to a product (cosine of the current version\'s ALS item factors)')
      .option('-n <count>', 'how many products', '10')
      .option('--exclude <ids>', 'product ids never to show, comma-separated (adds to config recommendations.exclude; repeatable)', collectIds, [])
      .addHelpText(
        'after',
        `
Similarity comes from the ALS item factors of the current model version, fitted on every purchase
(also when that version serves popularity for recommendations). Products in config
recommendations.exclude and --exclude are left out.`,
      ),
  ).action(
    action(async (product: string, opts: QueryOptions) => {
      const n = parseN(opts.n);
      const ctx = makeContext(opts);
      const models = await loadCurrent(ctx);
      const result = similarTo(models, product.trim(), { n, exclude: [...ctx.loaded.config.recommendations.exclude, ...opts.exclude] });
      if (ctx.json) {
        ctx.emitJson(result);
        return;
      }
      ctx.say(`products similar to ${labelOf({ productId: result.product, productName: result.productName })} (model version ${result.modelVersion})`);
      if (result.excluded.length) ctx.say(`excluded by the business rules: ${result.excluded.join(', ')}`);
      ctx.say(table(result.similar.map((s, i) => ({ rank: i + 1, product: s.productId, name: s.productName ?? '', similarity: s.similarity.toFixed(3) }))));
    }),
  );
}

/** Adds `floyo recommend` and `floyo similar`. */
export function register(program: Command): void {
  registerRecommend(program);
  registerSimilar(program);
}

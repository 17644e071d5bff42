// `floyo recommend <customer>` and `floyo similar <product>`: queries against the current model version.
// Business rules (unavailable or blacklisted products, already-bought items) are applied here, at query
// time, so changing them needs no retraining.
import type { Command } from 'commander';
import { Warehouse, type LockWait } from '../data/warehouse.js';
import { BUSY_EXIT, FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { explain, foldIn, recommend, similarItems, type Ranked, type UserInteractions } from '../ml/als.js';
import { buyerCounts } from '../models/recommendations.js';
import { loadServing, type ServingModels } from '../pipeline/serving.js';
import { knownIndices, readCustomerPurchases } from '../pipeline/tables.js';
import { action, exitCodesHelp, makeContext, storedIdForms, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
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
  /** the customer has purchases of products the model knows; false: popular products instead */
  known: boolean;
  /** where the purchases came from: the warehouse now, or the model version's training data (warehouse busy or absent) */
  purchasesFrom: 'warehouse' | 'training';
  /** distinct products they bought that the model knows */
  purchases: number;
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

/**
 * The customer as ALS sees them, and the products they bought that the model knows: from `history` (the
 * warehouse now: item index → distinct orders, folded in) when given, else the version's training row.
 */
function customerInModel(models: ServingModels, customer: string, history: ReadonlyMap<string, number> | undefined): { user: number | UserInteractions; bought: Int32Array } {
  if (history) {
    const items: number[] = [], values: number[] = [];
    for (const [productId, orders] of history) {
      const item = models.products.index.get(productId);
      if (item !== undefined && orders > 0) {
        items.push(item);
        values.push(orders);
      }
    }
    return { user: { items, values }, bought: Int32Array.from(items) };
  }
  const user = models.customers.index.get(customer);
  const c = models.als.confidence;
  if (user === undefined || user >= models.als.nUsers) return { user: { items: [], values: [] }, bought: new Int32Array(0) };
  return { user, bought: c.indices.slice(c.indptr[user], c.indptr[user + 1]) };
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

/** ALS when the version serves it and knows some of the customer's purchases, else popularity. */
const recommenderFor = (models: ServingModels, bought: Int32Array): 'als' | 'popularity' => (bought.length > 0 && models.served === 'als' ? 'als' : 'popularity');

/** Why `item` is recommended to `user`: the past purchases that contribute most (ALS), or how popular it is. */
function explanation(models: ServingModels, recommender: 'als' | 'popularity', user: number | UserInteractions, item: number, buyers: Float64Array): Pick<Recommendation, 'because' | 'reason'> {
  if (recommender === 'popularity') return { reason: `popular: bought by ${buyers[item]} of ${models.als.nUsers} customers` };
  const e = explain(models.als, user, item);
  const because: Contribution[] = [];
  for (let k = 0; k < e.items.length && because.length < EXPLAIN_TOP; k++) {
    if (!(e.contributions[k] > 0)) break;
    because.push({ productId: models.products.ids[e.items[k]], productName: nameOf(models, e.items[k]), contribution: e.contributions[k] });
  }
  const reason = because.length
    ? `because they bought ${listInWords(because.map((b) => b.productName ?? b.productId))}`
    : 'no single past purchase stands out: the score comes from their purchases as a whole';
  return { because, reason };
}

/**
 * Why `productId` is recommended to `customer`, as `floyo recommend --explain` says it; `history` as for
 * recommendFor. Undefined for a product the model version does not know.
 */
export function explainRecommendation(models: ServingModels, customer: string, productId: string, history?: ReadonlyMap<string, number>): string | undefined {
  const item = models.products.index.get(productId);
  if (item === undefined) return undefined;
  const { user, bought } = customerInModel(models, customer, history);
  const recommender = recommenderFor(models, bought);
  const buyers = recommender === 'popularity' ? buyerCounts(models.als.confidence) : new Float64Array(0);
  return explanation(models, recommender, user, item, buyers).reason;
}

/**
 * Top-n products for one customer from a loaded model version, with the business rules applied:
 * `exclude` products never appear, nor (unless includeBought) products the customer already bought.
 * `history` is the customer's purchases now (product id → distinct orders, from the warehouse): with ALS
 * the customer is folded in from them, so purchases since training count and are not recommended again,
 * and a customer new since training is placed too. Without it, the version's training data is used.
 * A customer without purchases the model knows gets the most popular products.
 */
export function recommendFor(models: ServingModels, customer: string, options: RecommendOptions, history?: ReadonlyMap<string, number>): RecommendResult {
  const excludedIds = [...new Set(options.exclude)];
  const exclude = new Set(knownIndices(models.products, excludedIds));
  const { user, bought } = customerInModel(models, customer, history);
  const known = bought.length > 0;
  const recommender = recommenderFor(models, bought);
  const buyers = recommender === 'popularity' ? buyerCounts(models.als.confidence) : new Float64Array(0);
  const leaveOut = new Set(exclude);
  if (!options.includeBought) for (const item of bought) leaveOut.add(item);

  const ranked = recommender === 'als'
    ? recommend(models.als, typeof user === 'number' ? user : foldIn(models.als, user), options.n, { exclude: [...leaveOut], filterAlreadyBought: false })
    : popular(models, leaveOut, options.n, buyers);

  const recommendations = Array.from(ranked.items, (item, r): Recommendation => {
    const rec: Recommendation = { productId: models.products.ids[item], productName: nameOf(models, item), score: ranked.scores[r] };
    return options.explain ? { ...rec, ...explanation(models, recommender, user, item, buyers) } : rec;
  });
  return {
    customer, known, recommender, modelVersion: models.version, purchasesFrom: history ? 'warehouse' : 'training', purchases: bought.length,
    excluded: excludedIds, filterAlreadyBought: !options.includeBought, recommendations,
  };
}

/** The product ids equal to `id` when case is ignored (85123a: 85123A). */
const idsIgnoringCase = (models: ServingModels, id: string): string[] => models.products.ids.filter((known) => known.toLowerCase() === id.toLowerCase());

/** Product ids that look like what was asked for (same id in another case, or the text in the name). */
function lookalikes(models: ServingModels, asked: string, limit = 5): string[] {
  const q = asked.trim().toLowerCase();
  if (q.length === 0) return [];
  const byId = idsIgnoringCase(models, q);
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
    throw new FloyoError(
      `product "${product}" is not in model version ${models.version} (it knows the ${models.products.ids.length.toLocaleString('en-US')} products customers bought); ${hint}`,
      {},
      NOT_FOUND_EXIT,
    );
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

interface RecommendCliOptions extends Omit<QueryOptions, 'n'> {
  /** absent: config recommendations.count */
  n?: string;
  /** absent: config recommendations.includeBought */
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

/**
 * Excluded ids the model does not know cannot be recommended anyway: most likely a typo (85123a for
 * 85123A), which would leave the product in, so say so, with the id meant when only the case differs.
 */
function warnUnknown(models: ServingModels, excluded: string[], where: string): void {
  const unknown = [...new Set(excluded)].filter((id) => !models.products.index.has(id));
  if (!unknown.length) return;
  const named = unknown.map((id) => {
    const meant = idsIgnoringCase(models, id);
    return `${JSON.stringify(id)}${meant.length ? ` (did you mean ${meant.join(' or ')}?)` : ''}`;
  });
  warn(
    `${where} ${named.join(', ')}: not ${unknown.length === 1 ? 'a product' : 'products'} model version ${models.version} knows, so nothing is excluded for ${unknown.length === 1 ? 'it' : 'them'} (product ids must match the sales data exactly)`,
  );
}

function warnUnknownRules(models: ServingModels, ctx: CommandContext, flag: string[]): void {
  warnUnknown(models, ctx.loaded.config.recommendations.exclude, 'config recommendations.exclude');
  warnUnknown(models, flag, '--exclude');
}

/** The current model version, loaded for serving. */
export async function loadCurrent(ctx: CommandContext): Promise<ServingModels> {
  return withRegistry(ctx.loaded.config, async (registry) => loadServing(registry, await requireCurrent(registry)));
}

/**
 * The customer's purchases in the home's warehouse now, or undefined (with a warning) when there is no
 * warehouse or another Floyo process holds the home: recommendations then rest on the training data.
 */
async function currentPurchases(home: string, customer: string, wait: LockWait): Promise<Map<string, number> | undefined> {
  if (!Warehouse.exists(home)) {
    warn(`no warehouse in ${home}: recommending from the purchases the model version was trained on`);
    return undefined;
  }
  let warehouse: Warehouse;
  try {
    warehouse = await Warehouse.open(home, `floyo recommend ${customer}`, wait);
  } catch (err) {
    if (!(err instanceof FloyoError) || err.exitCode !== BUSY_EXIT) throw err;
    warn(`${err.message}; recommending from the purchases the model version was trained on`);
    return undefined;
  }
  try {
    return await readCustomerPurchases(warehouse, customer);
  } finally {
    warehouse.close();
  }
}

const score = (v: number): string => (Math.abs(v) >= 0.001 || v === 0 ? v.toFixed(3) : v.toExponential(2));

function printRecommendations(ctx: CommandContext, r: RecommendResult): void {
  if (ctx.json) {
    ctx.emitJson(r);
    return;
  }
  if (!r.known) {
    const none = r.purchasesFrom === 'warehouse'
      ? `has bought nothing that model version ${r.modelVersion} knows (a customer id must match the sales data exactly)`
      : `has no purchases in the data model version ${r.modelVersion} was trained on`;
    ctx.say(`customer ${r.customer} ${none}: showing the most popular products`);
  } else if (r.recommender === 'popularity') {
    ctx.say(`customer ${r.customer}: the most popular products${r.filterAlreadyBought ? ' they have not bought' : ''} ` +
      `(model version ${r.modelVersion} serves popularity: ALS did not beat it when the version was trained)`);
  } else {
    ctx.say(`customer ${r.customer}: ${r.recommendations.length} ${r.recommendations.length === 1 ? 'recommendation' : 'recommendations'} from model version ${r.modelVersion} (ALS), ` +
      `from their purchases of ${r.purchases.toLocaleString('en-US')} ${r.purchases === 1 ? 'product' : 'products'}${r.purchasesFrom === 'training' ? ' as of its training' : ''}` +
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
      .option('-n <count>', 'how many products (default: config recommendations.count, 10)')
      .option('--exclude <ids>', 'product ids never to recommend, comma-separated (adds to config recommendations.exclude; repeatable)', collectIds, [])
      .option('--include-bought', 'also recommend products the customer already bought (default: config recommendations.includeBought)')
      .option('--no-include-bought', 'leave out products the customer already bought, whatever the config says')
      .option('--explain', 'say why: the past purchases that contribute most to each recommendation')
      .addHelpText(
        'after',
        `
Business rules apply at query time, without retraining: products in config recommendations.exclude
(env FLOYO_RECOMMENDATIONS_EXCLUDE='["85123A"]') and --exclude are never recommended, and neither are
products the customer already bought unless --include-bought (or config recommendations.includeBought,
for repeat purchases such as consumables). What they bought is read from the
warehouse now and folded into the current model version (floyo models list), so purchases since
training count and customers new since training are placed too; while another command holds the home
the version's training data is used, with a warning. A customer without purchases the model knows gets
the most popular products (known: false), with exit 0, as a new customer would.
${exitCodesHelp('no model version yet, or the current one cannot serve', 'bad input', { busy: false })}`,
      ),
    { opensHome: true },
  ).action(
    action(async (customer: string, opts: RecommendCliOptions) => {
      const ctx = makeContext(opts);
      // an empty id would get the popular products as if it were a new customer: a script's bug, say so
      if (customer.trim() === '') throw new FloyoError('the customer id is empty');
      const rules = ctx.loaded.config.recommendations;
      const n = parseN(opts.n ?? String(rules.count));
      const models = await loadCurrent(ctx);
      warnUnknownRules(models, ctx, opts.exclude);
      const [stored, lower] = storedIdForms(customer);
      let id = stored;
      let history = await currentPurchases(ctx.loaded.config.home, id, ctx.lockWait);
      if (lower !== undefined && !models.customers.index.has(id) && !history?.size) {
        // e-mail ids are stored lowercased (the shopify preset): Ann@Example.com means ann@example.com
        // (no second look at the warehouse when the first found none to look in: its warning is said once)
        const lowered = history === undefined ? undefined : await currentPurchases(ctx.loaded.config.home, lower, ctx.lockWait);
        if (models.customers.index.has(lower) || lowered?.size) [id, history] = [lower, lowered];
      }
      const result = recommendFor(models, id, {
        n, exclude: [...rules.exclude, ...opts.exclude], includeBought: opts.includeBought ?? rules.includeBought, explain: Boolean(opts.explain),
      }, history);
      if (ctx.json && !result.known) {
        process.stderr.write(`floyo: customer ${JSON.stringify(id)} has no purchases model version ${result.modelVersion} knows: the most popular products are returned\n`);
      }
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
recommendations.exclude and --exclude are left out. It reads only the registry, so it answers while
another command uses the home.
${exitCodesHelp('unknown product, or no model version yet', 'bad input', { busy: false })}`,
      ),
  ).action(
    action(async (product: string, opts: QueryOptions) => {
      const n = parseN(opts.n);
      const ctx = makeContext(opts);
      const models = await loadCurrent(ctx);
      warnUnknownRules(models, ctx, opts.exclude);
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

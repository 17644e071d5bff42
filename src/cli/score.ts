// `floyo score`: every customer's stored prediction from the current model version and the warehouse as it
// is now — new transactions since training included — without retraining. Promote and rollback use it too,
// so the stored predictions follow the current version.
import type { Command } from 'commander';
import type { LoadedConfig, Source } from '../config.js';
import { parseInstant } from '../dates.js';
import { DEFAULT_LOCK_WAIT, Warehouse } from '../data/warehouse.js';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { costThreshold } from '../models/churn.js';
import type { Manifest, Registry } from '../models/registry.js';
import { scoreWithVersion, scoringTime, staleDataWarning, toPredictions, type ScoringTime } from '../pipeline/score.js';
import { loadServing, requireSameShop, warehouseProducts } from '../pipeline/serving.js';
import { PredictionStore, type StoredGroup } from '../stores/predictions.js';
import { action, exitCodesHelp, makeContext, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { requireCurrent, withRegistry } from './registry.js';

export interface ScoreReport {
  modelVersion: string;
  /** the "now" of the scoring: --now, or the data's last timestamp */
  scoredAsOf: string;
  predictionsWritten: number;
  /** of those, customers who had no stored prediction before this run */
  newCustomers: number;
  /**
   * of those, customers whose segment differs from their stored prediction before this run (what this run
   * changed; floyo segments shows the movement between model versions)
   */
  segmentMoves: number;
  /** the threshold the high-risk flags were set with: the configured costs, applied when scoring */
  churnThreshold: ChurnThreshold;
  segments: Array<{ segment: string; customers: number; highRisk: number }>;
  /**
   * stored predictions this run did not re-score: customers with no purchase by the scoring day, who keep
   * the row an earlier run wrote (of the current version or another, as of its own time)
   */
  notRescored: number;
  /** those rows by the version and time that scored them, largest first */
  notRescoredBy: StoredGroup[];
  /** stored predictions of customers no longer in the warehouse (ingested again under other ids), removed */
  predictionsRemoved: number;
  /** also printed on stderr as they arise */
  warnings: string[];
  timingsMs: { load: number; score: number; write: number; total: number };
}

export interface ChurnThreshold {
  /** a customer is flagged high risk when their churn probability is at least this */
  value: number;
  /** wasted offer / (wasted offer + missed churner), each with where `floyo config` says it came from */
  costMissedChurner: { value: number; source: Source };
  costWastedOffer: { value: number; source: Source };
  /** what the model version was trained with (its manifest): the costs configured then */
  trainedWith: number;
}

export interface ScoreOptions {
  /** as `floyo score --now`; by default the data's last timestamp */
  now?: string;
  /** write even when customers with no purchase by then keep predictions scored as of a later time (refused otherwise) */
  allowOlder?: boolean;
}

/** The high-risk threshold from the configured costs: a business decision, so today's, not training's. */
export function churnThreshold(loaded: LoadedConfig, trainedWith: number): ChurnThreshold {
  const { costMissedChurner, costWastedOffer } = loaded.config.churn;
  return {
    value: costThreshold(costMissedChurner, costWastedOffer),
    costMissedChurner: { value: costMissedChurner, source: loaded.sources['churn.costMissedChurner'] },
    costWastedOffer: { value: costWastedOffer, source: loaded.sources['churn.costWastedOffer'] },
    trainedWith,
  };
}

/**
 * Scores every customer with the registry's current version and writes the predictions. A run that would
 * leave stored predictions scored as of a later time than its own (customers with no purchase by then) is
 * refused before writing unless `allowOlder`: the store would hold two points in time without saying so.
 */
export async function scoreCurrent(warehouse: Warehouse, registry: Registry, ctx: CommandContext, options: ScoreOptions = {}): Promise<ScoreReport> {
  const { config } = ctx.loaded;
  const t0 = performance.now();
  const store = new PredictionStore(warehouse);
  await store.init();
  const time = await scoringTime(warehouse, options.now);
  const models = await loadServing(registry, await requireCurrent(registry));
  const trained = trainedWith(models.manifest, config.features);
  const warnings = [...warnStale(time, trained.horizonDays), ...trained.warnings];
  requireSameShop(models.version, models.products.ids, await warehouseProducts(warehouse), registry.location, config.home);
  const threshold = churnThreshold(ctx.loaded, models.churn.threshold);
  const t1 = performance.now();
  // the count runs over two passes: each customer's purchases folded in, then the ALS customers ranked
  const bar = ctx.progress('scoring customers (fold-in + ranking)', 'items');
  const { scoredAsOf, scored } = await scoreWithVersion(warehouse, models, {
    time, horizonDays: trained.horizonDays, exchangeRates: trained.exchangeRates, exchangeRatesOf: trained.exchangeRatesOf, rules: config.recommendations,
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();
  if (!options.allowOlder) await refuseOlder(store, scored.ids, scoredAsOf, options.now);
  const t2 = performance.now();
  const flagged = { ...models, churn: { ...models.churn, threshold: threshold.value } };
  const removed = await store.removeGone();
  const written = await store.upsert(toPredictions(scored, flagged, models.productNames, models.version, scoredAsOf));
  const t3 = performance.now();
  const bySegment = new Map<string, { customers: number; highRisk: number }>(models.segmentation.names.map((name) => [name, { customers: 0, highRisk: 0 }]));
  for (let i = 0; i < scored.ids.length; i++) {
    const s = bySegment.get(models.segmentation.names[scored.segment[i]])!;
    s.customers++;
    if (scored.churn[i] >= threshold.value) s.highRisk++;
  }
  return {
    modelVersion: models.version,
    scoredAsOf,
    predictionsWritten: written.written,
    newCustomers: written.added,
    segmentMoves: written.moved,
    churnThreshold: threshold,
    segments: [...bySegment].map(([segment, s]) => ({ segment, ...s })),
    notRescored: written.untouched.reduce((n, g) => n + g.customers, 0),
    notRescoredBy: written.untouched,
    predictionsRemoved: removed,
    warnings,
    timingsMs: { load: Math.round(t1 - t0), score: Math.round(t2 - t1), write: Math.round(t3 - t2), total: Math.round(t3 - t0) },
  };
}

/**
 * What a version's features were built with, which its scores must be built with too: its exchange rates
 * (its models learnt spend in the currency of its rate 1, and today's configured rates may differ) and its
 * churn horizon (for the stale-data warning; a manifest without it falls back to the configured one).
 * A configured set of rates other than the version's is warned about on stderr as it arises.
 */
function trainedWith(
  manifest: Manifest, configured: { horizonDays: number; exchangeRates?: Record<string, number> },
): { horizonDays: number; exchangeRates?: Record<string, number>; exchangeRatesOf: string; warnings: string[] } {
  const horizonDays = typeof manifest.data.horizonDays === 'number' ? manifest.data.horizonDays : configured.horizonDays;
  // train records the rates it was given; a version without them (also one older than the setting) added amounts as they are
  const exchangeRates = manifest.data.exchangeRates as Record<string, number> | undefined;
  const exchangeRatesOf = `model version ${manifest.version}'s exchange rates (data.exchangeRates, from the features.exchangeRates it was trained with)`;
  if (ratesText(exchangeRates) === ratesText(configured.exchangeRates)) return { horizonDays, exchangeRates, exchangeRatesOf, warnings: [] };
  const why =
    `features.exchangeRates is ${ratesText(configured.exchangeRates)}, but model version ${manifest.version} was trained with ${ratesText(exchangeRates)}: ` +
    'scores use the version\'s rates, in which its models learnt spend; train again to use the configured ones';
  warn(why);
  return { horizonDays, exchangeRates, exchangeRatesOf, warnings: [why] };
}

const ratesText = (rates: Record<string, number> | undefined): string =>
  rates === undefined ? 'not set' : `{ ${Object.keys(rates).sort().map((c) => `${c}: ${rates[c]}`).join(', ')} }`;

/** A scoring time far past the data (see staleDataWarning): warned on stderr as it arises, and returned for the report. */
function warnStale(time: ScoringTime, horizonDays: number): string[] {
  const stale = staleDataWarning(time, horizonDays);
  if (stale === null) return [];
  warn(stale);
  return [stale];
}

/** The time a customer must have bought by to be scored: a date's end reads as the date, another time as itself (10:00 is not the whole day). */
function purchaseBy(scoredAsOf: string): string {
  return scoredAsOf.endsWith('T23:59:59Z') ? scoredAsOf.slice(0, 10) : scoredAsOf;
}

/** The stored predictions a run (score, or train) left as they were, by version and time. */
export function printNotRescored(ctx: CommandContext, r: Pick<ScoreReport, 'notRescored' | 'notRescoredBy' | 'predictionsRemoved' | 'scoredAsOf' | 'modelVersion'>): void {
  if (r.predictionsRemoved > 0) {
    ctx.say(`${count(r.predictionsRemoved)} stored predictions were removed: those customers are no longer in the warehouse (its sources were ingested again under other ids)`);
  }
  if (r.notRescored === 0) return;
  ctx.say(`${count(r.notRescored)} stored predictions were not re-scored: those customers have no purchase by ${purchaseBy(r.scoredAsOf)}, so they keep an earlier run's prediction:`);
  for (const g of r.notRescoredBy) {
    const when = g.scoredAt > r.scoredAsOf ? 'later than this run' : g.scoredAt < r.scoredAsOf ? 'earlier than this run' : 'the same time as this run';
    const version = g.modelVersion === r.modelVersion ? 'this version' : 'another version';
    ctx.say(`  ${count(g.customers)} by model version ${g.modelVersion} (${version}) as of ${g.scoredAt} (${when})`);
  }
}

/**
 * Refuses a run that would leave stored predictions scored as of a later time than `scoredAsOf`.
 * `refused`: what the run has not done when it is refused ("nothing was written").
 */
export async function refuseOlder(
  store: PredictionStore, scoredIds: readonly string[], scoredAsOf: string, now: string | undefined, refused = 'nothing was written',
): Promise<void> {
  const later = await store.scoredAfter(scoredAsOf);
  if (later.customers.length === 0) return;
  const scored = new Set(scoredIds);
  const left = later.customers.filter((id) => !scored.has(id)).length;
  if (left === 0) return; // every one of them is re-scored: the store moves back in time as a whole
  const asked = now === undefined ? `the data's last timestamp (${scoredAsOf})` : `--now ${now} (${scoredAsOf})`;
  throw new FloyoError(
    `${asked} is earlier than the stored predictions (scored as of up to ${later.latest}): ${left.toLocaleString('en-US')} of them, ` +
      `customers with no purchase by ${purchaseBy(scoredAsOf)}, would keep their later predictions and the store would mix two points in time; ` +
      `${refused} (pass --allow-older to score as of it anyway)`,
  );
}

/**
 * Runs fn with the home's warehouse when it has something to score with the current version (stored
 * predictions, or transactions with none scored yet), holding the home lock; with null when it has
 * neither (a home that only shares the registry), without creating a warehouse.
 */
export async function withScorableHome<T>(
  home: string, command: string, fn: (warehouse: Warehouse | null) => Promise<T>, wait = DEFAULT_LOCK_WAIT,
): Promise<T> {
  if (!Warehouse.exists(home)) return fn(null);
  const warehouse = await Warehouse.open(home, command, wait);
  try {
    const tables = new Set((await warehouse.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN ('predictions', 'transactions')`,
    )).map((t) => t.name));
    const has = async (table: string) => tables.has(table) && (await warehouse.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM (SELECT 1 FROM ${table} LIMIT 1)`))[0].n > 0;
    return await fn((await has('predictions')) || (await has('transactions')) ? warehouse : null);
  } finally {
    warehouse.close();
  }
}

const count = (n: number): string => n.toLocaleString('en-US');

export function printScore(ctx: CommandContext, r: ScoreReport): void {
  ctx.say(`scored ${count(r.predictionsWritten)} customers with model version ${r.modelVersion} as of ${r.scoredAsOf}: ` +
    `${count(r.segmentMoves)} changed segment since their stored prediction, ${count(r.newCustomers)} new`);
  const t = r.churnThreshold;
  ctx.say(`high churn risk: probability ≥ ${t.value.toFixed(4)} = wasted offer / (wasted offer + missed churner), with ` +
    `churn.costWastedOffer ${t.costWastedOffer.value} (${t.costWastedOffer.source}) and churn.costMissedChurner ${t.costMissedChurner.value} ` +
    `(${t.costMissedChurner.source})${Math.abs(t.value - t.trainedWith) > 1e-12 ? `; version ${r.modelVersion} was trained with ${t.trainedWith.toFixed(4)}` : ''}`);
  ctx.say(table(r.segments.map((s) => ({ segment: s.segment, customers: s.customers, 'high churn risk': s.highRisk }))));
  printNotRescored(ctx, r);
  ctx.say(`time: ${Object.entries(r.timingsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(', ')}`);
}

interface ScoreCommandOptions extends CommonOptions {
  now?: string;
  allowOlder?: boolean;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('score')
      .description('refresh every customer\'s prediction with the current model version and the data as it is now, without retraining')
      .option('--now <time>', 'score as of this date (its end, UTC) or ISO timestamp (default: the data\'s last timestamp, never the wall clock)')
      .option('--allow-older', 'score as of a time earlier than stored predictions even when some of them are left at the later time')
      .addHelpText(
        'after',
        `
Run it after \`floyo ingest\` of new transactions: segments, churn risk and reasons come from the features as
of --now; recommendations fold each customer's purchases into the current ALS model (no retraining), so a
product bought since training is no longer recommended and shapes what is. Customers new since training
are scored too. floyo models promote and rollback run the same scoring, so the stored predictions come
from the current version.

What it reports:
  changed segment   customers whose segment differs from their stored prediction before this run
                    (floyo segments keeps the movement between model versions apart from re-scoring)
  high churn risk   probability >= wasted offer / (wasted offer + missed churner), from the costs
                    configured now (churn.costWastedOffer, churn.costMissedChurner; see floyo config),
                    not those the version was trained with: the threshold is a business decision
  not re-scored     stored predictions of customers with no purchase by --now: they keep the row an
                    earlier run wrote, listed by version and scored-at time

A --now earlier than stored predictions is refused, before anything is written, when customers with no
purchase by then would keep their later rows: the store would mix two points in time. --allow-older
scores anyway and lists the rows left at the later time. A scoring time more than the churn horizon
(features.horizonDays) after the data's last purchase (a --now, or a last line that is a late return) is
scored with a warning on stderr: every customer would look churned.

${exitCodesHelp('no model version or no sales in the home yet', 'bad input, or a --now refused as above')}

Examples:
  floyo ingest exports/today.csv && floyo score
  floyo score --now 2011-12-31 --json
  floyo score --now 2011-06-01 --allow-older`,
      ),
    { opensHome: true },
  ).action(
    action(async (opts: ScoreCommandOptions) => {
      if (opts.now !== undefined) parseInstant(opts.now, '--now'); // a bad date is refused before anything is opened
      const ctx = makeContext(opts);
      const { config } = ctx.loaded;
      const report = await withRegistry(config, async (registry) => {
        await requireCurrent(registry); // "train first" before a warehouse is opened (or made) in the home
        if (!Warehouse.exists(config.home)) {
          throw new FloyoError(`no warehouse in ${config.home}: ingest sales first (floyo ingest <location>), then score`, {}, NOT_FOUND_EXIT);
        }
        const warehouse = await Warehouse.open(config.home, 'floyo score', ctx.lockWait);
        try {
          return await scoreCurrent(warehouse, registry, ctx, { now: opts.now, allowOlder: opts.allowOlder });
        } finally {
          warehouse.close();
        }
      });
      if (ctx.json) ctx.emitJson(report);
      else printScore(ctx, report);
    }),
  );
}

import type { Command } from 'commander';
import { parseDay, parseInstant } from '../dates.js';
import { CurrentVersionDamaged, CurrentVersionGone, FailureWithReport, FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { ingest, warehouseTotals, type IngestSummary, type WarehouseTotals } from '../data/ingest.js';
import { Warehouse } from '../data/warehouse.js';
import type { Manifest, Registry } from '../models/registry.js';
import { currentSegmentation, publishInput, qualityGate, requireSameShop, servingGap, warehouseProducts } from '../pipeline/serving.js';
import { toPredictions } from '../pipeline/score.js';
import { train, type TrainResult } from '../pipeline/train.js';
import { PredictionStore, type Prediction, type StoredGroup } from '../stores/predictions.js';
import { action, bytesText, makeContext, stderrLine, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { failedFile, ingestRequest, warnIngestFindings } from './ingest.js';
import { withRegistry } from './registry.js';
import { owePredictions } from '../interrupt.js';
import { printNotRescored, refuseOlder } from './score.js';

interface TrainOptions extends CommonOptions {
  data?: string[];
  preset?: string;
  mapping?: string;
  asOf?: string;
  horizonDays?: string;
  now?: string;
  allowOlder?: boolean;
  seed: string;
}

/** What the models were trained on: everything in the warehouse, whatever this run ingested. */
export interface TrainingData {
  /** sources ingested into the warehouse so far, and their rows: read = accepted + quarantined + excluded */
  sources: number;
  rowsRead: number;
  rowsAccepted: number;
  rowsQuarantined: number;
  rowsExcluded: number;
  /** lines in the warehouse: rowsAccepted − linesReplaced */
  lines: number;
  /** accepted lines since replaced by a later source: orders that arrived again there, or were voided there */
  linesReplaced: number;
  /** the distinct currencies of the lines (empty when the data names none); amounts are summed as they are */
  currencies: string[];
  orders: number;
  /** every customer id in the data; those with only returns or credit notes are not scored */
  customers: number;
  customersWithPurchases: number;
  products: number;
  from: string | null;
  to: string | null;
}

/**
 * What this run's --data added, as floyo ingest --json counts it: the rows, why rows were quarantined
 * (and the file that holds them) or excluded, and the files its folders, globs and prefixes held unread.
 */
export type IngestedNow = Pick<IngestSummary, 'sourcesIngested' | 'sourcesSkipped' | 'rowsRead' | 'rowsAccepted' | 'rowsQuarantined' | 'rowsExcluded' | 'ordersReplaced' | 'linesReplaced'
  | 'quarantinedByReason' | 'excludedByReason' | 'quarantineFile' | 'filesNotRead' | 'refundsBeyondLines'>;

export interface TrainReport {
  data: TrainingData;
  /** what this run's --data added to the warehouse; null without --data */
  ingested: IngestedNow | null;
  cutoff: string;
  validationCutoff: string;
  /** a --now before the data's end (see TrainResult): the report is of the data as it was at --now */
  lookBack?: TrainResult['lookBack'];
  tuning: TrainResult['tuning'];
  horizonDays: number;
  /** --seed: with the data, what the split and every initialisation follow */
  seed: number;
  scoredAsOf: string;
  modelVersion: string;
  /** the version that was current before this run (null: this is the first) */
  previousVersion: string | null;
  promoted: boolean;
  gate: NonNullable<Manifest['gate']>;
  /** with models.keepVersions: the old versions removed after the predictions were written, and where rollback returns to */
  pruned?: { keep: number; removed: string[]; bytesRemoved: number; rollbackTo: string | null };
  segmentation: TrainResult['segmentation'];
  churn: TrainResult['churn'];
  recommendations: TrainResult['recommendations'];
  predictionsWritten: number;
  /** stored predictions this run did not replace: customers with no purchase by scoredAsOf keep an earlier run's row */
  notRescored: number;
  /** those rows by the version and time that scored them, largest first */
  notRescoredBy: StoredGroup[];
  /** stored predictions of customers no longer in the warehouse (ingested again under other ids), removed */
  predictionsRemoved: number;
  /** customers whose segment differs from their prediction by the previous version */
  segmentMoves: number;
  /** segment names kept from the version that was current: its clusters continued under the same names */
  segmentNamesKept: string[];
  /** also printed on stderr: e.g. a --now far past the data */
  warnings: string[];
  timingsMs: Record<string, number>;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('train')
      .description('ingest (optional), evaluate, fit and publish the three models, and score every customer')
      .option('--data <location...>', 'ingest these first: files, globs, folders or s3:// prefixes')
      .option('--preset <name>', 'column mapping preset for --data: online-retail (default) or shopify')
      .option('--mapping <file>', 'column mapping file for --data')
      .option('--as-of <date>', 'the reported cutoff C (default: the last purchase\'s date minus the horizon)')
      .option('--horizon-days <n>', 'churn horizon in days (default 90; config features.horizonDays)')
      .option('--now <time>', 'score customers as of this date/time (a date means its end; default: the data\'s last timestamp, never the wall clock)')
      .option('--allow-older', 'publish and write even when stored predictions of customers with no purchase by --now are left scored as of a later time')
      .option('--seed <n>', 'seed for every random choice (splits, initialisations)', '0')
      .addHelpText(
        'after',
        `
Protocol (see README "The evaluation protocol"): hyperparameters are chosen at an earlier validation
cutoff C − horizon; metrics are reported at C on the window (C, C + horizon]; the published models are
refit on all the data and every customer is scored as of the data's last timestamp (or --now).
A --now before the data's last timestamp looks back: the cutoffs, labels, evaluation, models and scores
are those of the data cut at --now. Like floyo score, it is refused, before anything is published,
when its version would become current and stored predictions of customers with no purchase by then
would keep a later time (the store would mix two points in time), unless --allow-older.
A new model version becomes current unless the quality gate fails (churn 5-fold cross-validated ROC-AUC
more than churn.maxAucDrop below the current version's, and beyond the noise of the two means, or ALS
below popularity by NDCG@10 on 30 evaluated customers or more, when the current version serves ALS:
with none current, or popularity current, such a version serves popularity instead); a version kept
back is not an error (exit 0).

Exit codes: 0 done, 1 nothing to train on (no transactions in the home), 2 bad input or data train
refuses (the message says what to change), 3 the home is in use by another Floyo process, or another
home sharing models.location made another version current meanwhile (the new one stays listed, not
current), 70 an internal error (a bug), 143 and 130 stopped by SIGTERM or Ctrl-C.`,
      ),
    { opensHome: true },
  ).action(
    action(async (opts: TrainOptions) => {
      if (opts.preset && opts.mapping) throw new FloyoError('give either --preset or --mapping, not both');
      if ((opts.preset || opts.mapping) && !opts.data?.length) {
        // silently ignoring it would let a user believe the warehouse was read with it
        throw new FloyoError(`${opts.preset ? '--preset' : '--mapping'} says how to read --data, and no --data was given: the warehouse's lines were mapped when they were ingested`);
      }
      const horizon = opts.horizonDays === undefined ? undefined : Number(opts.horizonDays);
      if (horizon !== undefined && !Number.isInteger(horizon)) throw new FloyoError(`--horizon-days must be a whole number, got "${opts.horizonDays}"`);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new FloyoError(`--seed must be a whole number, got "${opts.seed}"`);
      const ctx = makeContext(opts, { 'ingest.preset': opts.preset, 'ingest.mapping': opts.mapping, 'features.horizonDays': horizon });
      const report = await runTrain(ctx, { data: opts.data, asOf: opts.asOf, now: opts.now, allowOlder: opts.allowOlder, seed, quiet: opts.quiet });
      printTrain(ctx, report);
    }),
  );
}

/** Bad dates are refused before anything is ingested or read. */
function checkTimes(opts: { asOf?: string; now?: string }): void {
  if (opts.asOf !== undefined) parseDay(opts.asOf, '--as-of');
  if (opts.now !== undefined) parseInstant(opts.now, '--now');
}

export async function runTrain(
  ctx: CommandContext,
  opts: { data?: string[]; asOf?: string; now?: string; allowOlder?: boolean; seed: number; quiet?: boolean },
): Promise<TrainReport> {
  checkTimes(opts);
  const { config } = ctx.loaded;
  // opening the warehouse creates it: a mistyped --home would be left behind as an empty home
  if (!opts.data?.length && !Warehouse.exists(config.home)) {
    throw new FloyoError(`${config.home} holds no transactions (no warehouse there; --home, FLOYO_HOME or home in the config): give --data or run \`floyo ingest\` first`, {}, NOT_FOUND_EXIT);
  }
  const started = performance.now();
  // the registry is reached before any work: a missing bucket or refused credentials would otherwise
  // surface only at publish, after the whole training. The current version's segmentation lets the new
  // clusters keep the names of those they continue; its products tell whether this shop trained it.
  const { previousSegmentation, current } = await withRegistry(config, async (registry) => ({
    previousSegmentation: await currentSegmentation(registry),
    current: await currentVersion(registry),
  }));
  const warehouse = await Warehouse.open(config.home, 'floyo train', ctx.lockWait);
  // what this run's --data added: it stays in the warehouse whatever stops the training after it
  let ingestedNow: IngestSummary | null = null;
  try {
    const t0 = performance.now();
    let ingested: IngestedNow | null = null;
    let totals: WarehouseTotals | null = null; // an ingest reports them as it ends
    const warnings: string[] = [];
    if (opts.data?.length) {
      const s = await ingest(warehouse, ingestRequest(ctx, opts.data));
      warnings.push(...warnIngestFindings(s));
      const failed = s.sources.filter((x) => x.status === 'failed');
      if (failed.length) {
        // each error names its file already; the sources that did ingest stay in the warehouse
        const kept = s.sourcesIngested ? `; the other ${s.sourcesIngested === 1 ? 'source was' : `${s.sourcesIngested} sources were`} ingested` : '';
        // under --json the ingest's report comes with the error, as floyo ingest --json gives it
        throw new FailureWithReport(
          `nothing was trained: ${failed.map((f) => f.error).join('; ')}${kept}; fix or leave out the failed ${failed.length === 1 ? 'file' : 'files'} and run floyo train again`,
          failedFile(failed),
          s,
        );
      }
      ingestedNow = s;
      ingested = {
        sourcesIngested: s.sourcesIngested, sourcesSkipped: s.sourcesSkipped, rowsRead: s.rowsRead, rowsAccepted: s.rowsAccepted,
        rowsQuarantined: s.rowsQuarantined, rowsExcluded: s.rowsExcluded, ordersReplaced: s.ordersReplaced, linesReplaced: s.linesReplaced,
        quarantinedByReason: s.quarantinedByReason, excludedByReason: s.excludedByReason, quarantineFile: s.quarantineFile, filesNotRead: s.filesNotRead,
        ...(s.refundsBeyondLines ? { refundsBeyondLines: s.refundsBeyondLines } : {}),
      };
      totals = s.warehouse;
    }
    const ingestMs = performance.now() - t0;
    // without --data nothing was ingested now: the warehouse's totals are read (the manifest's data window needs them)
    totals ??= await warehouseTotals(warehouse);
    const data = await trainingData(warehouse, totals);
    // before any fitting: a registry another shop's versions are current in must not take this shop's
    if (current) requireSameShop(current.version, current.products, await warehouseProducts(warehouse), current.location, config.home);
    if (data.currencies.length > 1 && config.features.exchangeRates === undefined) {
      // spend and order values add amounts as they are: 10 EUR + 10 USD counts as 20
      const mixed = `the data holds ${data.currencies.length} currencies (${data.currencies.slice(0, 5).join(', ')}${data.currencies.length > 5 ? ', …' : ''}); ` +
        'spend and order values add their amounts as they are, without conversion: set features.exchangeRates ({ EUR: 1, USD: 0.92 }), or ingest one currency per home';
      warn(mixed);
      warnings.push(mixed);
    }

    // Step lines are progress: -q and --json silence them. The bar counts the run's stages and names the
    // one under way, so a shop of millions shows where its minutes go.
    const bar = ctx.progress('train', 'items');
    const result = await train(warehouse, {
      asOf: opts.asOf, horizonDays: config.features.horizonDays, now: opts.now, seed: opts.seed, config,
      previousSegmentation, currentRecommender: current?.recommender ?? null,
      onStep: (s) => {
        if (!ctx.json && !opts.quiet) stderrLine(`  ${s}`);
      },
      onProgress: ({ done, total, what }) => bar.update(done, total, what),
      onWarning: (w) => {
        warn(w);
        warnings.push(w);
      },
    });
    bar.done('models fitted');

    const t1 = performance.now();
    const store = new PredictionStore(warehouse);
    await store.init();
    let manifest!: Manifest;
    let gate!: NonNullable<Manifest['gate']>;
    let previousVersion: string | null = null;
    let pruned: TrainReport['pruned'];
    let removed = 0;
    await withRegistry(config, async (registry) => {
      previousVersion = await registry.current();
      let current: Manifest | null = null;
      let unreadable: string | null = null;
      try {
        current = previousVersion ? await registry.show(previousVersion) : null;
      } catch (err) {
        // a damaged or deleted current version must not block the way out of it: the new version can
        // replace it (trouble reaching the registry is no reason to skip the gate, and stops train)
        if (!(err instanceof CurrentVersionDamaged || err instanceof CurrentVersionGone)) throw err;
        const what = err instanceof CurrentVersionDamaged ? err.damage.message : err.message; // not its remedy: this train is one
        unreadable = `the current version ${previousVersion} cannot be read, so nothing was compared (${what})`;
      }
      // nor must one that cannot serve (format 0): score and recommend refuse it and say to train, and the
      // metrics of a model no command can use are no bar for the one that replaces it
      const gap = current && servingGap(current);
      if (gap) {
        unreadable = `the current version ${previousVersion} cannot serve predictions, so nothing was compared (${gap})`;
        current = null;
      }
      gate = qualityGate(result, current, config);
      // a version that will write predictions must not leave later ones beside them (see floyo score)
      if (gate.passed && !opts.allowOlder) {
        await refuseOlder(store, result.final.scores.ids, result.scoredAsOf, opts.now, `nothing was published or written`);
      }
      if (unreadable) {
        gate.notes = [...(gate.notes ?? []), unreadable];
        warn(unreadable);
        warnings.push(unreadable);
      }
      const [fp] = await warehouse.query<{ fingerprint: string }>(`SELECT sha256(string_agg(sha256, ',' ORDER BY sha256)) AS fingerprint FROM sources`);
      let marked: string | null = null;
      try {
        manifest = await registry.publish(
          publishInput(result, { ...totals, fingerprint: fp.fingerprint, cutoff: result.cutoff, validationCutoff: result.validationCutoff, horizonDays: result.horizonDays, scoredAsOf: result.scoredAsOf,
            ...(config.features.exchangeRates ? { exchangeRates: config.features.exchangeRates } : {}) }, gate),
          // the gate compared with previousVersion: CURRENT must still name it when this version replaces it
          {
            promote: gate.passed, expectCurrent: previousVersion,
            beforeCurrent: async (version) => {
              await store.markPending((marked = version));
              // a stop from here on may leave it current with the predictions of the version before: the stop's message says what to run
              owePredictions(
                `it was making model version ${version} current: if floyo models list shows it current, the stored predictions are still ` +
                  `those of the version before, and floyo score writes its own (in seconds); if not, floyo models promote ${version} serves it`,
              );
            },
          },
        );
      } catch (err) {
        if (marked !== null) await store.clearPending(marked).catch(() => undefined); // CURRENT was not written
        throw err;
      }
    });

    let written = 0;
    let moved = 0;
    let untouched: StoredGroup[] = [];
    if (gate.passed) {
      removed = await store.removeGone();
      const r = await store.upsert(predictions(result, manifest.version));
      written = r.written;
      moved = r.moved;
      untouched = r.untouched;
    }
    const publishMs = performance.now() - t1;
    // last, once the predictions are written: the run's work is done, and old versions left over are no reason to fail it
    const keep = config.models.keepVersions;
    if (keep !== undefined) {
      try {
        const p = await withRegistry(config, (registry) => registry.prune(keep));
        pruned = { keep, removed: p.removed, bytesRemoved: p.bytesRemoved, rollbackTo: p.rollbackTo };
      } catch (err) {
        const why = `pruning the registry to models.keepVersions ${keep} failed (${err instanceof Error ? err.message : String(err)}); floyo models prune retries it`;
        warn(why);
        warnings.push(why);
      }
    }
    const tm = result.timingsMs;
    return {
      data, ingested,
      cutoff: result.cutoff, validationCutoff: result.validationCutoff, ...(result.lookBack ? { lookBack: result.lookBack } : {}), tuning: result.tuning, horizonDays: result.horizonDays, seed: opts.seed, scoredAsOf: result.scoredAsOf,
      modelVersion: manifest.version, previousVersion, promoted: gate.passed, gate, ...(pruned ? { pruned } : {}),
      segmentation: result.segmentation, churn: result.churn, recommendations: result.recommendations,
      predictionsWritten: written, notRescored: untouched.reduce((n, g) => n + g.customers, 0), notRescoredBy: untouched, predictionsRemoved: removed, segmentMoves: moved, segmentNamesKept: result.segmentNamesKept, warnings,
      timingsMs: {
        ingest: Math.round(ingestMs), features: tm.features ?? 0, segmentation: tm.segmentation ?? 0, churn: tm.churn ?? 0,
        recommendations: tm.recommendations ?? 0, scoring: Math.round((tm.scoring ?? 0) + publishMs), total: Math.round(performance.now() - started),
      },
    };
  } catch (err) {
    throw ingestedNow !== null && ingestedNow.sourcesIngested > 0 ? keptIngest(err, ingestedNow) : err;
  } finally {
    warehouse.close();
  }
}

/**
 * A train stopped after its --data was ingested (each source commits on its own): the rows are in the
 * warehouse, so the message says so and --json carries the ingest's report, as for a source that failed.
 * Otherwise the run reported nothing of them, and the next `train --data` only "already ingested".
 */
function keptIngest(err: unknown, s: IngestSummary): unknown {
  if (!(err instanceof FloyoError) || err instanceof FailureWithReport) return err;
  const n = (v: number) => v.toLocaleString('en-US');
  const sources = `${n(s.sourcesIngested)} source${s.sourcesIngested === 1 ? '' : 's'}`;
  const rows = `${n(s.rowsRead)} rows read = ${n(s.rowsAccepted)} accepted + ${n(s.rowsQuarantined)} quarantined + ${n(s.rowsExcluded)} excluded`;
  return new FailureWithReport(
    `${err.message}; the --data stays ingested (${sources}, ${rows}): floyo train without --data trains on it`, err.context, s, err.exitCode,
  );
}

/** The current version's products (for requireSameShop) and the recommender it serves; null when none is current or it cannot be read. */
async function currentVersion(
  registry: Registry,
): Promise<{ version: string; products: string[]; recommender: 'als' | 'popularity' | null; location: string } | null> {
  const version = await registry.current();
  if (version === null) return null;
  // an unreadable current version is the gate's to note, and the new one replaces it
  const read = (name: string) => registry.document(name, version).catch((err: unknown) => {
    if (err instanceof FloyoError) return null;
    throw err;
  });
  const products = await read('products');
  const served = ((await read('serving')) as { recommender?: unknown } | null)?.recommender;
  // a version without a serving document (an older format) serves nothing train need protect
  const recommender = served === 'als' || served === 'popularity' ? served : null;
  return Array.isArray(products) ? { version, products: products as string[], recommender, location: registry.location } : null;
}

async function trainingData(warehouse: Warehouse, totals: WarehouseTotals): Promise<TrainingData> {
  const { rows, orders, customers, products, from, to } = totals;
  // a purchase is an order with a line that is not a return, as in the features: only these customers are scored
  const [t] = await warehouse.query<Pick<TrainingData, 'sources' | 'rowsRead' | 'rowsAccepted' | 'rowsQuarantined' | 'rowsExcluded' | 'customersWithPurchases'>>(
    `SELECT count(*)::BIGINT AS sources, coalesce(sum(rows_read), 0)::BIGINT AS "rowsRead", coalesce(sum(rows_accepted), 0)::BIGINT AS "rowsAccepted", ` +
      `coalesce(sum(rows_quarantined), 0)::BIGINT AS "rowsQuarantined", coalesce(sum(rows_excluded), 0)::BIGINT AS "rowsExcluded", ` +
      `(SELECT count(DISTINCT customer_id) FROM transactions WHERE NOT is_return)::BIGINT AS "customersWithPurchases" FROM sources`,
  );
  const currencies = await warehouse.query<{ currency: string }>(
    `SELECT DISTINCT currency FROM transactions WHERE currency IS NOT NULL AND currency <> '' ORDER BY currency`,
  );
  return {
    sources: t.sources, rowsRead: t.rowsRead, rowsAccepted: t.rowsAccepted, rowsQuarantined: t.rowsQuarantined, rowsExcluded: t.rowsExcluded,
    lines: rows, linesReplaced: t.rowsAccepted - rows, currencies: currencies.map((c) => c.currency),
    orders, customers, customersWithPurchases: t.customersWithPurchases, products, from, to,
  };
}

function predictions(result: TrainResult, version: string): Iterable<Prediction> {
  const f = result.final;
  return toPredictions(f.scores, f, f.productNames, version, result.scoredAsOf);
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const num = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');

export function printTrain(ctx: CommandContext, r: TrainReport): void {
  if (ctx.json) {
    ctx.emitJson(r);
    return;
  }
  const n = (v: number) => v.toLocaleString('en-US');
  const d = r.data;
  const onlyReturns = d.customers - d.customersWithPurchases;
  ctx.say(`data: ${n(d.lines)} lines in the warehouse, ${d.from} .. ${d.to}, from ${n(d.sources)} source${d.sources === 1 ? '' : 's'} (${n(d.rowsRead)} rows read = ${n(d.rowsAccepted)} accepted + ${n(d.rowsQuarantined)} quarantined + ${n(d.rowsExcluded)} excluded)`);
  if (d.linesReplaced) ctx.say(`      ${n(d.lines)} lines = ${n(d.rowsAccepted)} accepted − ${n(d.linesReplaced)} replaced by orders that arrived again in a later source`);
  ctx.say(`      ${n(d.customers)} customers${onlyReturns ? ` (${n(d.customersWithPurchases)} with a purchase; ${n(onlyReturns)} with only returns, not scored)` : ''}, ${n(d.products)} products`);
  const g = r.ingested;
  if (g) {
    const skipped = g.sourcesSkipped ? `${n(g.sourcesSkipped)} source${g.sourcesSkipped === 1 ? '' : 's'} already in the warehouse` : '';
    ctx.say(g.sourcesIngested === 0
      ? `ingested now: nothing new${skipped ? ` (${skipped})` : ''}`
      : `ingested now: ${n(g.sourcesIngested)} source${g.sourcesIngested === 1 ? '' : 's'}, ${n(g.rowsRead)} rows read (${n(g.rowsAccepted)} accepted, ${n(g.rowsQuarantined)} quarantined, ${n(g.rowsExcluded)} excluded)` +
        `${g.ordersReplaced ? `, replacing ${n(g.ordersReplaced)} earlier order${g.ordersReplaced === 1 ? '' : 's'}` : ''}${skipped ? `; ${skipped}` : ''}`);
    // why rows were left out, as floyo ingest says it: a first train --data on a shop's export should show where its rows went
    const counts = (c: Record<string, number>) => Object.entries(c).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${n(v)}`).join(', ');
    if (Object.keys(g.quarantinedByReason).length) ctx.say(`      quarantined: ${counts(g.quarantinedByReason)}${g.quarantineFile ? ` (the rows: ${g.quarantineFile})` : ''}`);
    if (Object.keys(g.excludedByReason).length) ctx.say(`      excluded: ${counts(g.excludedByReason)}`);
    const beyond = g.refundsBeyondLines;
    if (beyond?.orders) ctx.say(`      refunds beyond the lines kept (shipping, tax, excluded lines): ${n(beyond.orders)} order${beyond.orders === 1 ? '' : 's'}, ${beyond.amount.toFixed(2)} in all`);
  }
  const sample = r.tuning.customers < r.tuning.of ? ` on a sample of ${n(r.tuning.customers)} of its ${n(r.tuning.of)} customers` : '';
  if (r.lookBack) {
    ctx.say(`looking back to --now ${r.scoredAsOf}: trained as if the data ended at its last line then (${r.lookBack.lastLine}); ${n(r.lookBack.linesLeftOut)} later lines left out`);
  }
  ctx.say(`cutoff ${r.cutoff} (hyperparameters chosen at ${r.validationCutoff}${sample}); window ${r.horizonDays} days; customers scored as of ${r.scoredAsOf}; seed ${r.seed}`);
  ctx.say();
  const seg = r.segmentation;
  ctx.say(`SEGMENTS  k = ${seg.k} (silhouette ${num(seg.silhouette)}, inertia ${num(seg.inertia, 1)})`);
  ctx.say(seg.kScores.length
    ? `          k chosen by silhouette at ${r.validationCutoff}: ${seg.kScores.map((s) => `k=${s.k} ${num(s.silhouette)}${s.k === seg.k ? ' (chosen)' : ''}`).join(', ')}`
    : `          k fixed by segmentation.k`);
  ctx.say(table(seg.segments.map((s) => ({
    segment: s.name, customers: s.size, 'recency (days)': Math.round(s.centroid.recencyDays), orders: Math.round(s.centroid.frequency),
    spend: Math.round(s.centroid.monetary), 'avg order': Math.round(s.centroid.avgOrderValue),
  }))));
  ctx.say();
  const c = r.churn;
  ctx.say(`CHURN  ROC-AUC ${num(c.rocAuc)} (5-fold CV ${num(c.cvRocAucMean)} ± ${num(c.cvRocAucStd)}; recency alone ${num(c.baselineRecencyRocAuc)}), PR-AUC ${num(c.prAuc)}, log loss ${num(c.logLoss)}, Brier ${num(c.brier)}`);
  ctx.say(`       ${n(c.nTrain)} train / ${n(c.nTest)} test customers, churn rate ${pct(c.positiveRate)}, C = ${c.C}, offer threshold ${num(c.threshold)}`);
  ctx.say();
  const rec = r.recommendations;
  ctx.say(`RECOMMENDATIONS  serving ${rec.model === 'als' ? `ALS (${rec.params.factors} factors)` : `popularity (${rec.servedBecause})`}; ${n(rec.evaluatedUsers)} customers evaluated`);
  const row = (model: string, m: TrainResult['recommendations']['popularity']) => ({
    model, 'precision@10': m.precisionAt10, 'recall@10': m.recallAt10, 'MAP@10': m.mapAt10, 'NDCG@10': m.ndcgAt10, 'hit rate@10': m.hitRateAt10, coverage: m.coverage,
  });
  ctx.say(table([row(rec.model === 'als' ? 'ALS (served)' : 'ALS', rec.als), row(rec.model === 'popularity' ? 'popularity (served)' : 'popularity', rec.popularity)]));
  ctx.say();
  ctx.say(`model version ${r.modelVersion}: ${r.promoted ? 'promoted (now current)' : `NOT promoted — ${r.gate.reasons.join('; ')}`}`);
  for (const note of r.gate.notes ?? []) ctx.say(`  quality gate: ${note}`);
  if (!r.promoted) {
    ctx.say(`  ${r.previousVersion ? `${r.previousVersion} stays current` : 'no version is current'}; to serve this one anyway: floyo models promote ${r.modelVersion}${ctx.sameHomeFlags}`);
  }
  if (r.promoted) {
    const moves = r.previousVersion ? `${n(r.segmentMoves)} moved segment since ${r.previousVersion}` : 'first version';
    ctx.say(`predictions written for ${n(r.predictionsWritten)} customers (${moves})`);
    printNotRescored(ctx, r);
  }
  if (r.pruned?.removed.length) {
    ctx.say(`pruned the registry to the newest ${r.pruned.keep === 1 ? 'version' : `${n(r.pruned.keep)} versions`}, the current one and the one rollback returns to ` +
      `(models.keepVersions): removed ${n(r.pruned.removed.length)}, ${bytesText(r.pruned.bytesRemoved)}; floyo models rollback returns to ${r.pruned.rollbackTo ?? 'nothing'}`);
  }
  ctx.say(`time: ${Object.entries(r.timingsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(', ')}`);
}

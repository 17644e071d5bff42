// `floyo score`: every customer's stored prediction from the current model version and the warehouse as it
// is now — new transactions since training included — without retraining. Promote and rollback use it too,
// so the stored predictions follow the current version.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString, Warehouse } from '../data/warehouse.js';
import { FloyoError } from '../errors.js';
import type { Registry } from '../models/registry.js';
import { scoreWithVersion, toPredictions } from '../pipeline/score.js';
import { loadServing } from '../pipeline/serving.js';
import { PredictionStore } from '../stores/predictions.js';
import { action, makeContext, table, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { requireCurrent, withRegistry } from './registry.js';

export interface ScoreReport {
  modelVersion: string;
  /** the "now" of the scoring: --now, or the data's last timestamp */
  scoredAsOf: string;
  predictionsWritten: number;
  /** customers whose segment differs from the one they had under the version that scored them before */
  segmentMoves: number;
  segments: Array<{ segment: string; customers: number; highRisk: number }>;
  /** stored predictions still from another version: customers with no purchase by the scoring time */
  notRescored: number;
  timingsMs: { load: number; score: number; write: number; total: number };
}

/**
 * Scores every customer with the registry's current version and writes the predictions. `now` as in
 * `floyo train --now`; by default the data's last timestamp.
 */
export async function scoreCurrent(warehouse: Warehouse, registry: Registry, ctx: CommandContext, now?: string): Promise<ScoreReport> {
  const { config } = ctx.loaded;
  const t0 = performance.now();
  const models = await loadServing(registry, await requireCurrent(registry));
  const t1 = performance.now();
  const bar = ctx.progress('scoring customers', 'items');
  const { scoredAsOf, scored } = await scoreWithVersion(warehouse, models, {
    now, horizonDays: config.features.horizonDays, exclude: config.recommendations.exclude, onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();
  const t2 = performance.now();
  const store = new PredictionStore(warehouse);
  await store.init();
  const written = await store.upsert(toPredictions(scored, models, models.productNames, models.version, scoredAsOf));
  const [{ n: notRescored }] = await warehouse.query<{ n: number }>(
    `SELECT count(*)::BIGINT AS n FROM predictions WHERE model_version <> ${sqlString(models.version)}`,
  );
  const t3 = performance.now();
  const bySegment = new Map<string, { customers: number; highRisk: number }>(models.segmentation.names.map((name) => [name, { customers: 0, highRisk: 0 }]));
  for (let i = 0; i < scored.ids.length; i++) {
    const s = bySegment.get(models.segmentation.names[scored.segment[i]])!;
    s.customers++;
    if (scored.churn[i] >= models.churn.threshold) s.highRisk++;
  }
  return {
    modelVersion: models.version,
    scoredAsOf,
    predictionsWritten: written.written,
    segmentMoves: written.moved,
    segments: [...bySegment].map(([segment, s]) => ({ segment, ...s })),
    notRescored,
    timingsMs: { load: Math.round(t1 - t0), score: Math.round(t2 - t1), write: Math.round(t3 - t2), total: Math.round(t3 - t0) },
  };
}

/**
 * Runs fn with the home's warehouse when predictions are stored there (and so should follow the current
 * version), holding the home lock; with null when the home stores none, without creating a warehouse.
 */
export async function withStoredPredictions<T>(home: string, command: string, fn: (warehouse: Warehouse | null) => Promise<T>): Promise<T> {
  if (!existsSync(join(home, 'warehouse.duckdb'))) return fn(null);
  const warehouse = await Warehouse.open(home, command);
  try {
    const [{ n }] = await warehouse.query<{ n: number }>(
      `SELECT count(*)::BIGINT AS n FROM information_schema.tables WHERE table_name = 'predictions' AND table_schema = 'main'`,
    );
    const stored = n > 0 && (await new PredictionStore(warehouse).count()) > 0;
    return await fn(stored ? warehouse : null);
  } finally {
    warehouse.close();
  }
}

export function printScore(ctx: CommandContext, r: ScoreReport): void {
  ctx.say(`scored ${r.predictionsWritten.toLocaleString('en-US')} customers with model version ${r.modelVersion} as of ${r.scoredAsOf} ` +
    `(${r.segmentMoves.toLocaleString('en-US')} moved segment)`);
  ctx.say(table(r.segments.map((s) => ({ segment: s.segment, customers: s.customers, 'high churn risk': s.highRisk }))));
  if (r.notRescored > 0) {
    ctx.say(`${r.notRescored.toLocaleString('en-US')} stored predictions are still from other versions: customers with no purchase by ${r.scoredAsOf}`);
  }
  ctx.say(`time: ${Object.entries(r.timingsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(', ')}`);
}

interface ScoreOptions extends CommonOptions {
  now?: string;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('score')
      .description('refresh every customer\'s prediction with the current model version and the data as it is now, without retraining')
      .option('--now <time>', 'score as of this date/time (default: the data\'s last timestamp, never the wall clock)')
      .addHelpText(
        'after',
        `
Run it after \`floyo ingest\` of new transactions: segments, churn risk and reasons come from the features as
of --now; recommendations fold each customer's purchases into the current ALS model (no retraining), so a
product bought since training is no longer recommended and shapes what is. Customers new since training
are scored too. floyo models promote and rollback run the same scoring, so the stored predictions come
from the current version (a customer with no purchase by --now keeps an older row; the output counts them).

Examples:
  floyo ingest exports/today.csv && floyo score
  floyo score --now 2011-12-31 --json`,
      ),
  ).action(
    action(async (opts: ScoreOptions) => {
      const ctx = makeContext(opts);
      const { config } = ctx.loaded;
      const report = await withRegistry(config, async (registry) => {
        await requireCurrent(registry); // "train first" before a warehouse is opened (or made) in the home
        if (!existsSync(join(config.home, 'warehouse.duckdb'))) {
          throw new FloyoError(`no warehouse in ${config.home}: ingest sales first (floyo ingest <location>), then score`);
        }
        const warehouse = await Warehouse.open(config.home, 'floyo score');
        try {
          return await scoreCurrent(warehouse, registry, ctx, opts.now);
        } finally {
          warehouse.close();
        }
      });
      if (ctx.json) ctx.emitJson(report);
      else printScore(ctx, report);
    }),
  );
}

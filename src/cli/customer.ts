// `floyo customer <id>`: one customer's prediction as the store holds it.
import type { Command } from 'commander';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { withPredictions, type CustomerMove, type Prediction } from '../stores/predictions.js';
import { action, exitCodesHelp, makeContext, shellWord, storedIdForms, table, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';

/** A probability as a percentage with one decimal: 0.1234 → "12.3%". */
export function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

const EXIT_CODES_HELP = exitCodesHelp('nothing to answer with (unknown customer, nothing scored yet)');

export interface CustomerReport extends Prediction {
  /** the customer's moves between segments over model versions, oldest first */
  segmentHistory: CustomerMove[];
  /** stored recommendations not shown because config recommendations.exclude now lists them */
  excludedByRules: string[];
  /** what makes the stored prediction out of date (also on stderr): data ingested since, a run that stopped */
  warnings: string[];
}

/**
 * A stored prediction with today's business rules applied: recommendations of products in `exclude`
 * (config recommendations.exclude) are dropped at query time, as floyo recommend does, so a product taken
 * off sale disappears without re-scoring. Returns the prediction and the ids it dropped.
 */
export function withRules(prediction: Prediction, exclude: ReadonlySet<string>): { prediction: Prediction; dropped: string[] } {
  if (exclude.size === 0) return { prediction, dropped: [] };
  const dropped = prediction.recommendations.filter((r) => exclude.has(r.productId)).map((r) => r.productId);
  if (dropped.length === 0) return { prediction, dropped };
  return { prediction: { ...prediction, recommendations: prediction.recommendations.filter((r) => !exclude.has(r.productId)) }, dropped };
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('customer')
      .description("one customer's segment, R×F cell, churn risk with reasons, and recommendations")
      .argument('<id>', 'customer id, exactly as in the sales data')
      .addHelpText(
        'after',
        `
Shows what is stored for the customer (by the latest \`floyo train\`, \`floyo score\`, promote or rollback): the segment and its
history across model versions, the R×F quintile cell (R5F5: most recent and most frequent), the churn
probability and risk (by the churn costs configured when it was scored) with the reasons behind it, the
recommendations (\`floyo recommend <id> --explain\` says why each is made, from the customer's purchases
now), the model version and the time the customer was scored as of.
${EXIT_CODES_HELP}

Examples:
  floyo customer 12347
  floyo customer 12347 --json`,
      ),
    { opensHome: true },
  ).action(
    action(async (id: string, opts: CommonOptions) => {
      const ctx = makeContext(opts);
      if (id.trim() === '') throw new FloyoError('the customer id is empty');
      const report = await withPredictions(ctx.loaded.config.home, `floyo customer ${id}`, async (store, warnings) => {
        let prediction: Prediction | null = null;
        for (const form of storedIdForms(id)) if (prediction === null) prediction = await store.get(form);
        if (prediction === null) {
          const [customers, version] = [await store.count(), await store.latestVersion()];
          throw new FloyoError(
            `no prediction for customer ${JSON.stringify(id)}: ${customers.toLocaleString('en-US')} customers were scored` +
              `${version ? ` (model ${version})` : ''}; ids must match the sales data exactly, only customers with a purchase are scored ` +
              '(not those with only returns), and customers who bought nothing by the time of the last scoring are scored by the next `floyo score` or `floyo train`',
            {},
            NOT_FOUND_EXIT,
          );
        }
        const { prediction: shown, dropped } = withRules(prediction, new Set(ctx.loaded.config.recommendations.exclude));
        return { ...shown, segmentHistory: await store.customerMoves(prediction.customerId), excludedByRules: dropped, warnings };
      }, ctx.lockWait);
      printCustomer(ctx, report);
    }),
  );
}

export function printCustomer(ctx: CommandContext, c: CustomerReport): void {
  if (ctx.json) {
    ctx.emitJson(c);
    return;
  }
  ctx.say(`customer ${c.customerId}`);
  ctx.say(`  segment      ${c.segment} (cluster ${c.segmentId})`);
  ctx.say(`  R×F cell     ${c.rfCell}`);
  ctx.say(`  churn        ${percent(c.churnProbability)} probability, ${c.churnRisk} risk`);
  if (c.segmentHistory.length) {
    const cause = (m: CustomerMove) => (m.fromVersion === m.toVersion ? `re-scored with model ${m.toVersion}` : `model ${m.toVersion}`);
    ctx.say(`  history      ${c.segmentHistory.map((m) => `${m.from} → ${m.to} (${cause(m)}, ${m.movedAt.slice(0, 10)})`).join('; ')}`);
  }
  ctx.say(`  model        ${c.modelVersion}, scored as of ${c.scoredAt}`);
  ctx.say();
  if (c.churnReasons.length) {
    ctx.say('why this churn risk (+ raises it, - lowers it):');
    ctx.say(table(c.churnReasons.map((r) => ({ reason: r.text, contribution: signed(r.contribution) }))));
  } else {
    ctx.say('why this churn risk: no reasons were stored');
  }
  ctx.say();
  if (c.recommendations.length) {
    const why = c.recommendations.some((r) => r.reason);
    ctx.say(`recommendations${why ? '' : ` (why: floyo recommend --explain${ctx.sameHomeFlags} -- ${shellWord(c.customerId)})`}:`);
    ctx.say(
      table(
        c.recommendations.map((r, i) => ({ '#': i + 1, product: r.productId, name: r.productName ?? '', score: r.score, why: r.reason ?? '' })),
        why ? ['#', 'product', 'name', 'score', 'why'] : ['#', 'product', 'name', 'score'],
      ),
    );
  } else {
    ctx.say('recommendations: none stored');
  }
  if (c.excludedByRules.length) ctx.say(`not shown, excluded by config recommendations.exclude: ${c.excludedByRules.join(', ')}`);
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '-'}${Math.abs(x).toFixed(3)}`;
}

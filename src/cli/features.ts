import type { Command } from 'commander';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { buildFeatures, checkExchangeRates, exportFormat, exportTable } from '../features/build.js';
import { Warehouse } from '../data/warehouse.js';
import { action, exitCodesHelp, makeContext, table, warn, withCommonOptions, type CommonOptions } from './common.js';

interface FeatureOptions extends CommonOptions {
  asOf?: string;
  horizonDays?: string;
  out?: string;
  interactions?: string;
  holdout?: string;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('features')
      .description('compute customer features, churn labels and user×item interactions as of a cutoff date')
      .option('--as-of <date>', 'cutoff date YYYY-MM-DD; the cutoff day belongs to the past (default: the date of the last purchase minus the horizon)')
      .option('--horizon-days <n>', 'churn horizon in days: churned = no purchase in (cutoff, cutoff + n] (default 90; config features.horizonDays)')
      .option('--out <file>', 'write the customer features and labels (.parquet or .csv)')
      .option('--interactions <file>', 'write customer × product interactions of the past (.parquet or .csv)')
      .option('--holdout <file>', 'write the holdout: products bought in the window and not before (.parquet or .csv)')
      .addHelpText(
        'after',
        `
Features per customer (purchases on or before the cutoff only): recency_days, frequency (distinct orders),
monetary (net spend after returns and refunds), tenure_days, avg_order_value, avg_units_per_order,
avg_lines_per_order, distinct_products, returns_rate, mean_days_between_orders, orders_last_30d,
orders_last_90d, spend_last_90d, spend_prev_90d, active_months, days_since_prev_order, last_order_lines
(products in the last order), credit_notes (orders that only return or refund), last_basket_retention
(of the customers who bought the last order's products before the cutoff − 60 days, the share who came
back since, shrunk towards the shop's rate); label churned.
${exitCodesHelp('no transactions in the home yet')}`,
      ),
    { opensHome: true },
  ).action(
    action(async (opts: FeatureOptions) => {
      const horizon = opts.horizonDays === undefined ? undefined : Number(opts.horizonDays);
      if (horizon !== undefined && !Number.isInteger(horizon)) throw new FloyoError(`--horizon-days must be a whole number, got "${opts.horizonDays}"`);
      const ctx = makeContext(opts, { 'features.horizonDays': horizon });
      // a file name it cannot write is refused before the features are computed (minutes on a large shop)
      for (const path of [opts.out, opts.interactions, opts.holdout]) if (path) exportFormat(path);
      const { home } = ctx.loaded.config;
      if (!Warehouse.exists(home)) throw new FloyoError(`no transactions in ${home} yet: run \`floyo ingest\` first`, {}, NOT_FOUND_EXIT);
      const warehouse = await Warehouse.open(home, 'floyo features', ctx.lockWait);
      try {
        const summary = await buildFeatures(warehouse, {
          asOf: opts.asOf, horizonDays: ctx.loaded.config.features.horizonDays,
          exchangeRates: await checkExchangeRates(warehouse, ctx.loaded.config.features.exchangeRates),
        });
        // on stderr, as every warning, also under --json (where labelsComplete says it too)
        if (!summary.labelsComplete) warn(`the data's last purchase (${summary.lastPurchase}) is before the window ends; churn labels overstate churn`);
        const files: Record<string, string> = {};
        for (const [key, tableName] of [['out', 'customer_features'], ['interactions', 'interactions'], ['holdout', 'holdout']] as const) {
          const path = opts[key];
          if (path) {
            await exportTable(warehouse, tableName, path);
            files[tableName] = path;
          }
        }
        if (ctx.json) {
          ctx.emitJson({ ...summary, files });
          return;
        }
        ctx.say(`cutoff ${summary.cutoff} (data ${summary.dataFrom} .. ${summary.dataTo}); churn window ${summary.window.from} .. ${summary.window.to}`);
        ctx.say(table([
          { what: 'customers', value: summary.customers },
          { what: 'churned', value: summary.churned },
          { what: 'churn rate', value: `${(summary.churnRate * 100).toFixed(1)}%` },
          { what: 'interactions (customer × product)', value: summary.interactions.pairs },
          { what: 'holdout pairs (new products bought in the window)', value: summary.holdout.pairs },
          { what: 'holdout customers', value: summary.holdout.users },
          { what: 'holdout pairs dropped (product unseen in the past)', value: summary.holdout.droppedNewItems },
        ]));
        for (const [t, f] of Object.entries(files)) ctx.say(`wrote ${t} to ${f}`);
      } finally {
        warehouse.close();
      }
    }),
  );
}

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildFeatures } from '../features/build.js';
import { generateToFile } from '../generate/output.js';
import { resolveShopOptions } from '../generate/shop.js';
import { Warehouse } from '../data/warehouse.js';
import { action, makeContext, table, withCommonOptions, type CommonOptions } from './common.js';
import { parseCount } from './generate.js';
import { printIngest, runIngest } from './ingest.js';

interface DemoOptions extends CommonOptions {
  customers: string;
  products: string;
  orders: string;
  seed: string;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('demo')
      .description('the whole path on a generated shop: generate, ingest, features — with nothing configured')
      .option('--customers <n>', 'customers in the generated shop', '2000')
      .option('--products <n>', 'products in the generated shop', '1500')
      .option('--orders <n>', 'orders in the generated shop', '20000')
      .option('--seed <n>', 'random seed of the generated shop', '1')
      .addHelpText('after', '\nThe sample is written to <home>/demo/ and ingested into <home>; running the demo again reuses both.'),
  ).action(
    action(async (opts: DemoOptions) => {
      const ctx = makeContext(opts);
      const home = ctx.loaded.config.home;
      const shop = resolveShopOptions({
        customers: parseCount(opts.customers, '--customers'),
        products: parseCount(opts.products, '--products'),
        orders: parseCount(opts.orders, '--orders'),
        seed: parseCount(opts.seed, '--seed'),
      });
      mkdirSync(join(home, 'demo'), { recursive: true });
      const sample = join(home, 'demo', `shop-c${shop.customers}-p${shop.products}-o${shop.orders}-s${shop.seed}.csv.gz`);
      const started = Date.now();
      let generated = null;
      if (!existsSync(sample)) {
        ctx.say(`1. generating a sample shop: ${shop.customers} customers, ${shop.products} products, ${shop.orders} orders (seed ${shop.seed})`);
        const bar = ctx.progress('generate', 'items');
        generated = await generateToFile(shop, sample, { onProgress: (done, total) => bar.update(done, total) });
        bar.done(`${generated.rows.toLocaleString('en-US')} rows`);
        ctx.say(`   wrote ${sample} (${generated.rows.toLocaleString('en-US')} rows, ${generated.from} .. ${generated.to})`);
      } else {
        ctx.say(`1. using the sample generated earlier: ${sample}`);
      }
      ctx.say(`2. ingesting it into ${home}`);
      const ingested = await runIngest(ctx, [sample]);
      if (!ctx.json) {
        printIngest(ctx, ingested);
        ctx.say();
      }
      ctx.say(`3. features as of the default cutoff (last date minus ${ctx.loaded.config.features.horizonDays} days)`);
      const warehouse = await Warehouse.open(home, 'floyo demo');
      let features;
      try {
        features = await buildFeatures(warehouse, { horizonDays: ctx.loaded.config.features.horizonDays });
      } finally {
        warehouse.close();
      }
      if (ctx.json) {
        ctx.emitJson({ sample, generated, ingest: ingested, features, seconds: (Date.now() - started) / 1000 });
        return;
      }
      ctx.say(table([
        { what: 'cutoff', value: features.cutoff },
        { what: 'churn window', value: `${features.window.from} .. ${features.window.to}` },
        { what: 'customers as of the cutoff', value: features.customers },
        { what: 'churned in the window', value: `${features.churned} (${(features.churnRate * 100).toFixed(1)}%)` },
        { what: 'customer × product interactions', value: features.interactions.pairs },
        { what: 'holdout pairs for evaluation', value: features.holdout.pairs },
      ]));
      ctx.say();
      ctx.say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next:`);
      ctx.say(`  npx floyo features --home ${home} --out features.parquet     # export the features`);
      ctx.say(`  npx floyo ingest <your-export.csv> --preset shopify            # your own data (see: npx floyo presets)`);
      ctx.say(`  npx floyo config                                              # what is configured, and from where`);
    }),
  );
}

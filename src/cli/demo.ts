import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { generateToFile } from '../generate/output.js';
import { resolveShopOptions } from '../generate/shop.js';
import { Warehouse } from '../data/warehouse.js';
import { action, makeContext, shellWord, withCommonOptions, type CommonOptions } from './common.js';
import { parseCount } from './generate.js';
import { PredictionStore, type Prediction } from '../stores/predictions.js';
import { printTrain, runTrain } from './train.js';
import { explainRecommendation, loadCurrent } from './recommend.js';
import { readCustomerPurchases } from '../pipeline/tables.js';

/** A customer as the prediction store has them, and why their first recommendation is made (as floyo recommend --explain says it). */
interface Example extends Prediction {
  firstRecommendationReason: string | null;
}

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
      .description('the whole path on a generated shop with nothing configured: generate, train, score, show customers')
      .option('--customers <n>', 'customers in the generated shop', '2000')
      .option('--products <n>', 'products in the generated shop', '1500')
      .option('--orders <n>', 'orders in the generated shop', '20000')
      .option('--seed <n>', 'random seed of the generated shop', '1')
      .addHelpText(
        'after',
        '\nThe demo lives in its own home, <home>/demo, apart from your data: its made-up shop reuses ids that real exports\n' +
          'have (UCI invoices from 536365, customers from 12346), and mixed in they would replace real orders. It keeps its\n' +
          'models there too, whatever models.location says. Running the demo again reuses the sample.',
      ),
    { opensHome: true },
  ).action(
    action(async (opts: DemoOptions) => {
      const base = makeContext(opts);
      const { config } = base.loaded;
      const home = join(config.home, 'demo');
      // its own registry and its own format (the generator writes UCI's columns), whatever the config says
      const ingestSettings = { ...config.ingest, preset: 'online-retail' as const, mapping: undefined, format: 'auto' as const };
      const ctx = {
        ...base,
        loaded: { ...base.loaded, config: { ...config, home, models: { ...config.models, location: undefined }, ingest: ingestSettings } },
        sameHomeFlags: ` --home ${shellWord(home)}`,
      };
      // the commands it suggests read a configured registry unless told otherwise (there is no flag; env beats the file)
      const registryEnv = base.loaded.sources['models.location'] !== 'default' ? `FLOYO_MODELS_LOCATION=${shellWord(join(home, 'models'))} ` : '';
      const shop = resolveShopOptions({
        customers: parseCount(opts.customers, '--customers'),
        products: parseCount(opts.products, '--products'),
        orders: parseCount(opts.orders, '--orders'),
        seed: parseCount(opts.seed, '--seed'),
      });
      mkdirSync(join(home, 'sample'), { recursive: true });
      const name = `shop-c${shop.customers}-p${shop.products}-o${shop.orders}-s${shop.seed}.csv.gz`;
      const sample = join(home, 'sample', name);
      // Floyo 0.2.0 kept the sample in <home>/demo itself
      if (!existsSync(sample) && existsSync(join(home, name))) renameSync(join(home, name), sample);
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
      ctx.say(`2. training on it: ingest, features, segments, churn, recommendations (in the demo's own home ${home}, apart from ${config.home})`);
      const report = await runTrain(ctx, { data: [sample], seed: 0, quiet: opts.quiet });
      const warehouse = await Warehouse.open(home, 'floyo demo', ctx.lockWait);
      const examples: Example[] = [];
      try {
        const store = new PredictionStore(warehouse);
        await store.init();
        const models = await loadCurrent(ctx);
        // one customer from each of the three largest segments, with why their first recommendation
        for (const seg of (await store.segments()).sort((a, b) => b.customers - a.customers).slice(0, 3)) {
          const p = (await store.audience({ segment: seg.segment, limit: 1 })).customers[0];
          if (!p) continue;
          const first = p.recommendations[0];
          const why = first && explainRecommendation(models, p.customerId, first.productId, await readCustomerPurchases(warehouse, p.customerId));
          examples.push({ ...p, firstRecommendationReason: why ?? null });
        }
      } finally {
        warehouse.close();
      }
      if (ctx.json) {
        ctx.emitJson({ home, sample, generated, train: report, examples, seconds: (Date.now() - started) / 1000 });
        return;
      }
      ctx.say();
      printTrain(ctx, report);
      ctx.say();
      ctx.say('3. a few customers, as the prediction store has them:');
      for (const p of examples) {
        ctx.say(`  customer ${p.customerId}: ${p.segment} (${p.rfCell}), churn risk ${(p.churnProbability * 100).toFixed(0)}% (${p.churnRisk})`);
        if (p.churnReasons.length) ctx.say(`    why: ${p.churnReasons.map((r) => r.text).join('; ')}`);
        ctx.say(`    recommend: ${p.recommendations.slice(0, 5).map((r) => r.productName ?? r.productId).join(', ')}`);
        const first = p.recommendations[0];
        if (first && p.firstRecommendationReason) ctx.say(`    ${first.productName ?? first.productId}: ${p.firstRecommendationReason}`);
      }
      ctx.say();
      ctx.say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next:`);
      const id = examples[0] ? shellWord(examples[0].customerId) : '<id>';
      ctx.say(`  npx floyo customer ${id}${ctx.sameHomeFlags}          # one customer's segment, churn risk and recommendations`);
      ctx.say(`  ${registryEnv}npx floyo recommend ${id} --explain${ctx.sameHomeFlags}   # why each product is recommended`);
      ctx.say(`  npx floyo audience --segment ${shellWord(examples[0]?.segment ?? 'champions')} --min-churn 0.5${ctx.sameHomeFlags}   # an audience to act on`);
      ctx.say(`  npx floyo train --data <your-export.csv> --preset shopify${base.sameHomeFlags}    # your own data, in ${config.home} (see: npx floyo presets)`);
    }),
  );
}

// A shop of a million customers through the product as a user runs it (built CLI, fresh home): generate,
// ingest, train (the protocol's three cutoffs, hyperparameters on a 100k sample), then score again and
// page an audience. Wall and CPU time, peak memory, and train's own time per stage, so a change that
// makes one stage slow at scale shows here even when UCI's 4k customers hide it. One run: about 25 min.
//
//   npm run bench -- scale            (FLOYO_BENCH_CUSTOMERS=200000 for a shorter run)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScoreReport } from '../src/cli/score.js';
import type { TrainReport } from '../src/cli/train.js';
import { report, requireBuiltCli, timedFloyo, type Row } from './harness.js';

requireBuiltCli('scale');
const CUSTOMERS = Number(process.env.FLOYO_BENCH_CUSTOMERS ?? 1_000_000);
// the generator's shape at 1.5 orders a customer: about 20 rows per customer (20M rows at 1M)
const PRODUCTS = 10_000, ORDERS = Math.round(1.5 * CUSTOMERS);

/** timedFloyo, saying on stderr what runs: a step here takes minutes. */
function floyo<T>(args: string[]): ReturnType<typeof timedFloyo<T>> {
  process.stderr.write(`bench/scale: floyo ${args.join(' ')}\n`);
  return timedFloyo<T>(args);
}

const work = mkdtempSync(join(tmpdir(), 'floyo-bench-scale-'));
try {
  const loadBefore = +loadavg()[0].toFixed(2);
  const home = join(work, 'home'), data = join(work, 'shop.csv.gz');
  const rows: Row[] = [];
  const command = (name: string, r: { seconds: number; cpuSeconds: number; rssMiB: number }, detail: string) =>
    rows.push({ command: name, 'wall (s)': r.seconds, 'CPU (s)': +r.cpuSeconds.toFixed(1), 'peak RSS (MiB)': Math.round(r.rssMiB), detail });

  const gen = floyo<{ rows: number }>(['generate', '--customers', String(CUSTOMERS), '--products', String(PRODUCTS), '--orders', String(ORDERS), '--out', data, '--json', '-q']);
  const shop = gen.out;
  command('generate', gen, `${shop.rows.toLocaleString('en-US')} rows, ${(statSync(data).size / 2 ** 20).toFixed(0)} MiB gzip`);
  const ingest = floyo(['ingest', data, '--home', home, '--json', '-q']);
  command('ingest', ingest, `${shop.rows.toLocaleString('en-US')} rows`);
  const trained = floyo<TrainReport>(['train', '--home', home, '--json', '-q']);
  const t = trained.out;
  command('train', trained, `${t.data.customers.toLocaleString('en-US')} customers; hyperparameters on ${t.tuning.customers.toLocaleString('en-US')} of ${t.tuning.of.toLocaleString('en-US')}`);
  for (const [stage, ms] of Object.entries(t.timingsMs)) {
    if (stage !== 'total' && stage !== 'ingest') rows.push({ command: `  train: ${stage}`, 'wall (s)': ms / 1000, 'CPU (s)': null, 'peak RSS (MiB)': null, detail: '' });
  }
  const scored = floyo<ScoreReport>(['score', '--home', home, '--json', '-q']);
  const s = scored.out;
  command('score', scored, `${s.predictionsWritten.toLocaleString('en-US')} customers re-scored with the published version`);
  const audience = floyo<{ total: number }>(['audience', '--home', home, '--min-churn', '0.9', '--limit', '1000', '--json', '-q']);
  const page = audience.out;
  command('audience --min-churn 0.9', audience, `first page of 1,000 of ${page.total.toLocaleString('en-US')}`);

  const rec = t.recommendations;
  report('scale', `A shop of ${CUSTOMERS.toLocaleString('en-US')} customers through generate, ingest, train, score and audience`, rows, [
    `${t.data.customers.toLocaleString('en-US')} customers, ${t.data.products.toLocaleString('en-US')} products, ${shop.rows.toLocaleString('en-US')} rows (seed 1); ` +
      `cutoff ${t.cutoff}, validation cutoff ${t.validationCutoff}; k = ${t.segmentation.k}, churn C = ${t.churn.C}, recommender ${rec.model} ${JSON.stringify(rec.params)}.`,
    `Quality at this scale: churn ROC-AUC ${t.churn.rocAuc.toFixed(4)} (recency alone ${t.churn.baselineRecencyRocAuc.toFixed(4)}); ` +
      `precision@10 ${rec.precisionAt10.toFixed(4)} against popularity's ${rec.popularity.precisionAt10.toFixed(4)}.`,
    'The "train:" rows are train\'s own report of its stages (features: three snapshots; recommendations: three ALS fits on the sample, two on everyone).',
    `1-minute load average (2 cores) before: ${loadBefore}, after: ${loadavg()[0].toFixed(2)}; the machine is shared, and other work slows wall times, not CPU time.`,
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

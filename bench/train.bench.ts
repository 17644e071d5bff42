// The whole `floyo train --data <UCI Online Retail>` as a user runs it (built CLI, fresh home): wall time,
// peak memory, and the quality targets of the evaluation protocol, side by side with popularity.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './harness.js';

const ROOT = new URL('../', import.meta.url).pathname;
const UCI = join(ROOT, '../shared/datasets/online_retail.csv.gz');
if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  console.error('bench/train: build first (npm run build)');
  process.exit(1);
}
if (!existsSync(UCI)) {
  console.error(`bench/train needs ${UCI}`);
  process.exit(1);
}
const home = mkdtempSync(join(tmpdir(), 'floyo-bench-train-'));
try {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, join(ROOT, 'bin/floyo.js'), 'train', '--data', UCI, '--home', home, '--json', '-q'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`floyo train failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const t = JSON.parse(r.stdout);
  const rec = t.recommendations;
  report('train', 'floyo train on UCI Online Retail: time and quality against the targets', [
    { measure: 'whole command wall time (s)', value: Number(m[1]), target: '≤ 10', met: Number(m[1]) <= 10 },
    { measure: 'peak RSS (MiB)', value: Math.round(Number(m[2]) / 1024), target: '', met: null },
    { measure: 'churn ROC-AUC (80/20 split)', value: t.churn.rocAuc, target: '≥ 0.75', met: t.churn.rocAuc >= 0.75 },
    { measure: 'churn ROC-AUC (5-fold CV mean ± std)', value: `${t.churn.cvRocAucMean.toFixed(4)} ± ${t.churn.cvRocAucStd.toFixed(4)}`, target: '', met: null },
    { measure: 'churn ROC-AUC of recency alone', value: t.churn.baselineRecencyRocAuc, target: '', met: null },
    { measure: `precision@10 (${rec.model})`, value: rec.precisionAt10, target: `≥ 1.5 × popularity (${(1.5 * rec.popularity.precisionAt10).toFixed(4)})`, met: rec.precisionAt10 >= 1.5 * rec.popularity.precisionAt10 },
    { measure: 'precision@10 (popularity)', value: rec.popularity.precisionAt10, target: '', met: null },
    { measure: 'NDCG@10 served / popularity', value: `${rec.ndcgAt10.toFixed(4)} / ${rec.popularity.ndcgAt10.toFixed(4)}`, target: '', met: null },
    ...Object.entries(t.timingsMs as Record<string, number>).map(([k, v]) => ({ measure: `time: ${k} (s)`, value: v / 1000, target: '', met: null })),
  ], [`cutoff ${t.cutoff}, validation cutoff ${t.validationCutoff}, horizon ${t.horizonDays} days, seed 0; ${t.data.customers} customers, ${t.data.products} products.`]);
} finally {
  rmSync(home, { recursive: true, force: true });
}

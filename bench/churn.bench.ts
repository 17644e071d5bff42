// Floyo's churn model against scikit-learn's LogisticRegression on the same features and the same split,
// as the evaluation protocol defines them (cutoff = last date − 90 days, stratified 80/20, seed 0).
// Uses the full UCI Online Retail file when ../shared/datasets is present, else the committed fixture.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { ingest } from '../src/data/ingest.js';
import { presetMapping } from '../src/data/mapping.js';
import { Warehouse } from '../src/data/warehouse.js';
import { rowRules } from '../src/cli/ingest.js';
import { silentProgress } from '../src/cli/progress.js';
import { chooseC, churnInputs, churnProbability, fitChurn, stratifiedFolds, subset } from '../src/models/churn.js';
import { rocAuc } from '../src/ml/metrics.js';
import { snapshot } from '../src/pipeline/tables.js';
import { report } from './harness.js';

const ROOT = new URL('../', import.meta.url).pathname;
const UCI = join(ROOT, '../shared/datasets/online_retail.csv.gz');
const data = existsSync(UCI) ? UCI : join(ROOT, 'test/fixtures/online_retail_sample.csv');
const work = mkdtempSync(join(tmpdir(), 'floyo-bench-churn-'));
const { config } = loadConfig({ env: {}, flags: { home: work } });
const wh = await Warehouse.open(work, 'bench churn');
try {
  await ingest(wh, { locations: [data], mapping: presetMapping('online-retail'), format: 'auto', s3: config.s3, rules: rowRules(config.ingest), progress: () => silentProgress() });
  const h = 90;
  const [span] = await wh.query<{ to: string }>(`SELECT strftime(max(ts), '%Y-%m-%d') AS "to" FROM transactions`);
  const C = new Date(Date.parse(`${span.to}T00:00:00Z`) - h * 86_400_000).toISOString().slice(0, 10);
  const V = new Date(Date.parse(`${C}T00:00:00Z`) - h * 86_400_000).toISOString().slice(0, 10);
  const val = await snapshot(wh, { asOf: V, horizonDays: h });
  const { C: reg } = await chooseC(val.customers.features, val.customers.churned, [0.01, 0.1, 1, 10], 0);
  const ev = await snapshot(wh, { asOf: C, horizonDays: h });
  const y = ev.customers.churned;
  const fold = stratifiedFolds(y, 5, 0);
  const trainRows = Int32Array.from([...fold.keys()].filter((i) => fold[i] !== 0));
  const testRows = Int32Array.from([...fold.keys()].filter((i) => fold[i] === 0));
  const t0 = performance.now();
  const model = await fitChurn(ev.customers.features, y, reg, 0.5, trainRows);
  const floyoMs = performance.now() - t0;
  const p = churnProbability(model, subset(ev.customers.features, testRows));
  const floyoAuc = rocAuc(Array.from(testRows, (i) => y[i]), p);
  const X = churnInputs(ev.customers.features);
  const csv = ['split,y,' + Array.from({ length: X.cols }, (_, j) => `x${j}`).join(',')];
  for (let i = 0; i < X.rows; i++) csv.push(`${fold[i] !== 0 ? 1 : 0},${y[i]},${Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)).join(',')}`);
  const file = join(work, 'churn.csv');
  writeFileSync(file, csv.join('\n') + '\n');
  const t1 = performance.now();
  const py = spawnSync('/usr/bin/python3', [join(ROOT, 'bench/sklearn_churn.py'), file, String(reg)], { encoding: 'utf8' });
  const sklearnMs = performance.now() - t1;
  if (py.status !== 0) throw new Error(`scikit-learn failed (apt-get install python3-sklearn):\n${py.stderr}`);
  const sk = JSON.parse(py.stdout) as { rocAuc: number; coef: number[] };
  const maxCoefDiff = Math.max(...sk.coef.map((w, j) => Math.abs(w - model.logistic.coef[j])));
  report('churn', 'Churn ROC-AUC: Floyo vs scikit-learn on the same features and split', [
    { data: data.split('/').pop()!, cutoff: C, customers: X.rows, 'test customers': testRows.length, C: reg, 'Floyo ROC-AUC': floyoAuc, 'scikit-learn ROC-AUC': sk.rocAuc, 'AUC difference': Math.abs(floyoAuc - sk.rocAuc), 'max |coef diff|': maxCoefDiff, 'Floyo fit ms': Math.round(floyoMs), 'scikit-learn process ms': Math.round(sklearnMs), 'within 0.02': Math.abs(floyoAuc - sk.rocAuc) <= 0.02 },
  ], ['scikit-learn: StandardScaler + LogisticRegression(C, lbfgs, tol=1e-10) on the same unscaled inputs (churnInputs) and the same stratified split (seed 0).', 'The scikit-learn time includes starting Python.']);
} finally {
  wh.close();
  rmSync(work, { recursive: true, force: true });
}

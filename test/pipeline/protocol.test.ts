// The README's evaluation protocol is enough to reproduce what `floyo train` reports: bench/reproduce_protocol.py
// recomputes it from the raw CSV with pandas (counts, cutoffs, the seeded split, the recency baseline,
// popularity's metrics, per-customer RFM) and exits 1 on any difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floyo, tempDir, FIXTURES, ROOT, SHARED_DATASETS } from '../support/cli.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'bench/reproduce_protocol.py');
const UCI = join(SHARED_DATASETS, 'online_retail.csv.gz');

async function reproduce(data: string, seed: number): Promise<string> {
  const home = tempDir();
  const trained = await floyo(['train', '--data', data, '--preset', 'online-retail', '--seed', String(seed), '--home', home, '--json', '-q']);
  assert.equal(trained.code, 0, trained.stderr);
  const report = join(home, 'train.json'), features = join(home, 'features.csv');
  writeFileSync(report, trained.stdout);
  const exported = await floyo(['features', '--out', features, '--home', home, '--json', '-q']);
  assert.equal(exported.code, 0, exported.stderr);
  const r = spawnSync(PYTHON, [SCRIPT, report, features, '--data', data, '--seed', String(seed)], { encoding: 'utf8' });
  if (r.error || /No module named '(pandas|sklearn|numpy)'/.test(r.stderr)) {
    assert.fail(`pandas and scikit-learn are needed with ${PYTHON}: run bash scripts/install-test-deps.sh as root. ${(r.error?.message ?? r.stderr).trim()}`);
  }
  assert.equal(r.status, 0, `the reproduction disagrees with floyo train:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^0 mismatch\(es\) beyond tolerance$/m);
  return r.stdout;
}

test('the bundled sample: every reported number is reproduced from the README, for two seeds', async () => {
  const [zero, seven] = await Promise.all([reproduce(join(FIXTURES, 'online_retail_sample.csv'), 0), reproduce(join(FIXTURES, 'online_retail_sample.csv'), 7)]);
  const auc = (out: string) => /^recency-only ROC-AUC, test customers\s+\|\s+(\S+)/m.exec(out)?.[1];
  assert.notEqual(auc(zero), auc(seven), 'another seed draws other test customers');
});

test('the full UCI Online Retail data (when ../shared/datasets is present)', { skip: !existsSync(UCI) && 'needs ../shared/datasets/online_retail.csv.gz' }, async () => {
  await reproduce(UCI, 0);
});

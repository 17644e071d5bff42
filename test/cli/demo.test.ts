import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { TrainReport } from '../../src/cli/train.js';
import type { Prediction } from '../../src/stores/predictions.js';

interface DemoJson {
  home: string;
  generated: { rows: number } | null;
  train: TrainReport;
  examples: Array<Prediction & { firstRecommendationReason: string | null }>;
}

test('floyo demo: generate, train and show customers on the default shop with nothing configured; a rerun reuses the sample', async () => {
  // a home that already holds a shop's sales: the demo's made-up shop, whose ids overlap real ones, stays out of it
  const home = tempDir();
  assert.equal((await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '-q'])).code, 0);
  const warehouse = () => createHash('sha256').update(readFileSync(join(home, 'warehouse.duckdb'))).digest('hex');
  const before = warehouse();
  const args = ['demo', '--home', home, '--json', '-q'];
  const r = await floyo(args, { env: { FLOYO_MODELS_LOCATION: join(home, 'shared-registry') } });
  assert.equal(r.code, 0, r.stderr);
  const out = r.json<DemoJson>();
  assert.equal(out.home, join(home, 'demo'));
  assert.equal(warehouse(), before, "the home's own warehouse is untouched");
  assert.ok(!existsSync(join(home, 'models')) && !existsSync(join(home, 'shared-registry')), 'and so are its registries, the configured one too');
  assert.ok(existsSync(join(home, 'demo', 'warehouse.duckdb')) && existsSync(join(home, 'demo', 'models', 'CURRENT')));
  assert.ok(out.generated && out.generated.rows > 10_000);
  const t = out.train;
  assert.equal(t.data.rowsRead, out.generated.rows);
  assert.equal(t.data.rowsRead, t.data.rowsAccepted + t.data.rowsQuarantined + t.data.rowsExcluded);
  assert.equal(t.promoted, true);
  assert.ok(t.predictionsWritten > 100);
  assert.ok(out.examples.length >= 2);
  // the generated customers have tastes, so the demo shows personal recommendations, not the bestsellers
  const recs = t.recommendations;
  assert.equal(recs.model, 'als', `ALS precision@10 ${recs.precisionAt10} vs popularity ${recs.popularity.precisionAt10}`);
  assert.ok(recs.precisionAt10 > 1.3 * recs.popularity.precisionAt10, `ALS precision@10 ${recs.precisionAt10} vs popularity ${recs.popularity.precisionAt10}`);
  for (const p of out.examples) {
    assert.ok(p.segment && p.rfCell.match(/^R[1-5]F[1-5]$/));
    assert.ok(p.churnProbability >= 0 && p.churnProbability <= 1);
    assert.ok(p.recommendations.length > 0);
    assert.match(p.firstRecommendationReason ?? '', /^because they bought \S/, `customer ${p.customerId}`);
  }
  const firsts = new Set(out.examples.map((p) => p.recommendations[0].productId));
  assert.ok(firsts.size > 1, 'different customers get different first recommendations');
  const again = (await floyo(args)).json<DemoJson>();
  assert.equal(again.generated, null, 'the sample is reused');
  assert.deepEqual(again.train.churn, t.churn, 'the same models again');
  // with nothing configured, the hints are plain commands: no registry to point at
  const plain = await floyo(['demo', '--home', home, '-q']);
  assert.match(plain.stdout, /^ {2}npx floyo recommend \S+ --explain --home /m, plain.stdout);
  assert.doesNotMatch(plain.stdout, /FLOYO_MODELS_LOCATION/);

  // configured for another shop's exports and a shared registry, the demo still reads its own sample, and the
  // commands it suggests reach its registry: the one that needs the registry is told where it is
  const shared = join(home, 'shared-registry');
  const env = { FLOYO_MODELS_LOCATION: shared, FLOYO_INGEST_PRESET: 'shopify' };
  const human = await floyo(['demo', '--home', home, '-q'], { env });
  assert.equal(human.code, 0, human.stderr);
  const hint = new RegExp(`^ {2}FLOYO_MODELS_LOCATION=(\\S+) npx floyo (recommend \\S+ --explain --home \\S+) `, 'm').exec(human.stdout);
  assert.ok(hint, human.stdout);
  assert.equal(hint[1], join(home, 'demo', 'models'));
  const [command, ...rest] = hint[2].split(' ');
  const explained = await floyo([command, '-q', ...rest], { env: { ...env, FLOYO_MODELS_LOCATION: hint[1] } });
  assert.equal(explained.code, 0, explained.stderr);
  assert.ok(!existsSync(shared));
});

test('every command answers --help', async () => {
  for (const command of ['demo', 'train', 'score', 'ingest', 'features', 'generate', 'presets', 'config']) {
    const r = await floyo([command, '--help']);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: floyo ${command}`));
    assert.match(r.stdout, /--home <dir>/);
  }
  const top = await floyo(['--help']);
  assert.match(top.stdout, /ingest \[options\] <location\.\.\.>/);
});

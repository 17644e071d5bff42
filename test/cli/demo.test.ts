import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floyo, tempDir } from '../support/cli.js';
import type { IngestSummary } from '../../src/data/ingest.js';
import type { FeatureSummary } from '../../src/features/build.js';

interface DemoJson {
  generated: { rows: number } | null;
  ingest: IngestSummary;
  features: FeatureSummary;
}

test('floyo demo: generate, ingest and features on a small shop with nothing configured; a rerun reuses them', async () => {
  const home = tempDir();
  const args = ['demo', '--home', home, '--customers', '300', '--products', '200', '--orders', '2500', '--json', '-q'];
  const r = await floyo(args);
  assert.equal(r.code, 0, r.stderr);
  const out = r.json<DemoJson>();
  assert.ok(out.generated && out.generated.rows > 10_000);
  assert.equal(out.ingest.rowsRead, out.generated?.rows);
  assert.equal(out.ingest.rowsRead, out.ingest.rowsAccepted + out.ingest.rowsQuarantined + out.ingest.rowsExcluded);
  assert.ok(out.features.customers > 100);
  assert.ok(out.features.churned > 0 && out.features.churned < out.features.customers);
  const again = (await floyo(args)).json<DemoJson>();
  assert.equal(again.generated, null, 'the sample is reused');
  assert.equal(again.ingest.sources[0].status, 'already ingested');
  assert.deepEqual(again.features, out.features);
});

test('every command answers --help', async () => {
  for (const command of ['demo', 'ingest', 'features', 'generate', 'presets', 'config']) {
    const r = await floyo([command, '--help']);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: floyo ${command}`));
    assert.match(r.stdout, /--home <dir>/);
  }
  const top = await floyo(['--help']);
  assert.match(top.stdout, /ingest \[options\] <location\.\.\.>/);
});

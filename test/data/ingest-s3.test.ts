// `floyo ingest s3://...` end to end through the CLI, against the real S3 server (Ceph RGW) the test runner starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { assertErrorStdout, floyo, tempDir, FIXTURES } from '../support/cli.js';
import { freshBucket, putObjects, s3TestClient, s3TestCredentials, s3TestSettings } from '../support/s3.js';
import type { IngestSummary } from '../../src/data/ingest.js';

function env(overrides: Record<string, string> = {}): Record<string, string> {
  const { accessKeyId, secretAccessKey } = s3TestCredentials();
  return {
    FLOYO_S3_ENDPOINT: s3TestSettings().endpoint!, FLOYO_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: 'us-east-1', ...overrides,
  };
}

test('ingest an S3 prefix: every object, each accounted for; a second run downloads nothing and adds nothing', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'ingest');
  const csv = readFileSync(join(FIXTURES, 'online_retail_sample.csv'));
  const lines = csv.toString('utf8').trimEnd().split('\n');
  const header = lines[0];
  // split at an order boundary: an order is the unit of identity, so one cut in two would be replaced, not merged
  let half = Math.floor(lines.length / 2);
  while (lines[half].split(',')[0] === lines[half - 1].split(',')[0]) half++;
  await putObjects(client, bucket, [
    { key: 'sales/2011/part-1.csv', body: [header, ...lines.slice(1, half)].join('\n') + '\n' },
    { key: 'sales/2011/part-2.csv.gz', body: gzipSync([header, ...lines.slice(half)].join('\n') + '\n') },
    { key: 'sales/README.txt.bak', body: 'not data' },
    { key: 'other/ignored.csv', body: header + '\n' },
  ]);
  const home = tempDir();
  const first = await floyo(['ingest', `s3://${bucket}/sales/2011/`, '--home', home, '--json', '-q'], { env: env() });
  assert.equal(first.code, 0, first.stderr);
  const s = first.json<IngestSummary>();
  assert.deepEqual(s.sources.map((x) => [x.location, x.status, x.format]), [
    [`s3://${bucket}/sales/2011/part-1.csv`, 'ingested', 'csv'],
    [`s3://${bucket}/sales/2011/part-2.csv.gz`, 'ingested', 'csv.gz'],
  ]);
  assert.equal(s.rowsRead, 12303, 'the two parts hold the whole fixture');
  assert.equal(s.rowsRead, s.rowsAccepted + s.rowsQuarantined + s.rowsExcluded);
  assert.equal(s.ordersReplaced, 0);
  const local = await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', tempDir(), '--json', '-q']);
  assert.equal(s.warehouse.rows, local.json<IngestSummary>().warehouse.rows, 'the same rows as ingesting the file locally');

  const again = await floyo(['ingest', `s3://${bucket}/sales/2011/`, '--home', home, '--json', '-q'], { env: env() });
  const a = again.json<IngestSummary>();
  assert.deepEqual(a.sources.map((x) => x.status), ['already ingested', 'already ingested']);
  assert.equal(a.warehouse.rows, s.warehouse.rows);
});

test('S3 locations that do not exist or are not allowed get one clear line, no stack trace', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'errors');
  const home = tempDir();
  const missing = await floyo(['ingest', 's3://no-such-bucket-floyo-test/x/', '--home', home], { env: env() });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^floyo: bucket no-such-bucket-floyo-test does not exist/);
  const empty = await floyo(['ingest', `s3://${bucket}/nothing-here/`, '--home', home], { env: env() });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /^floyo: no objects under s3:\/\//);
  const denied = await floyo(['ingest', `s3://${bucket}/`, '--home', home], { env: env({ AWS_SECRET_ACCESS_KEY: 'wrong-secret' }) });
  assert.equal(denied.code, 2);
  assert.match(denied.stderr, /^floyo: access to s3:\/\/.* was refused/);
  for (const r of [missing, empty, denied]) assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('train with the registry under a bucket that does not exist stops before any work, naming the bucket', async () => {
  const home = tempDir();
  const missing = `floyo-missing-${Date.now()}`;
  const r = await floyo(['train', '--data', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '--json', '-q'], {
    env: env({ FLOYO_MODELS_LOCATION: `s3://${missing}/models` }),
  });
  assert.equal(r.code, 2, r.stderr);
  assertErrorStdout(r);
  assert.match(r.stderr, new RegExp(`^floyo: bucket ${missing} does not exist \\(s3://${missing}/models/[^)]*\\)[^\\n]*\\n$`));
  assert.ok(!existsSync(join(home, 'warehouse.duckdb')), 'nothing was ingested');
});

test('a Spark output prefix ingests its part files, not _SUCCESS or .crc; a prefix with only markers is refused', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'spark');
  const csv = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8');
  await putObjects(client, bucket, [
    { key: 'out/_SUCCESS', body: '' },
    { key: 'out/.part-00000.csv.crc', body: 'crc' },
    { key: 'out/part-00000.csv', body: csv },
    { key: 'markers/_SUCCESS', body: '' },
  ]);
  const home = tempDir();
  const r = await floyo(['ingest', `s3://${bucket}/out/`, '--home', home, '--json', '-q'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const s = r.json<IngestSummary>();
  assert.deepEqual(s.sources.map((x) => [x.location, x.status]), [[`s3://${bucket}/out/part-00000.csv`, 'ingested']]);
  assert.equal(s.rowsRead, 12303);
  const markers = await floyo(['ingest', `s3://${bucket}/markers/`, '--home', home], { env: env() });
  assert.equal(markers.code, 2);
  assert.match(markers.stderr, /^floyo: no data files under s3:\/\/.*\/markers\/ \(\.csv, .*\); skipped 1 other object: _SUCCESS\n$/);
});

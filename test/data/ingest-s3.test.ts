// `floyo ingest s3://...` end to end through the CLI, against the real S3 server (Ceph RGW) the test runner starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { rowRules } from '../../src/cli/ingest.js';
import { silentProgress, type ProgressFactory } from '../../src/cli/progress.js';
import { ConfigSchema } from '../../src/config.js';
import { ingest, type IngestRequest, type IngestSummary, type SourceSummary } from '../../src/data/ingest.js';
import { presetMapping } from '../../src/data/mapping.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { assertErrorStdout, floyo, tempDir, FIXTURES } from '../support/cli.js';
import { freshBucket, putObjects, s3TestClient, s3TestCredentials, s3TestSettings } from '../support/s3.js';

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

test('s3://bucket/name without a trailing slash is the folder name/: a sibling "folder" name.gz/ is not ingested, and what it passed over is reported', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'folder');
  const csv = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8');
  // the sibling holds the same orders with other quantities: ingested too, its lines replaced these orders
  const altered = csv.trimEnd().split('\n').map((line, i) => (i === 0 ? line : line.replace(/^([^,]*,[^,]*,"?[^"]*?"?,)(-?\d+)/, '$11$2'))).join('\n') + '\n';
  await putObjects(client, bucket, [
    { key: 'data/uci-csv.gz/online_retail.csv.gz', body: gzipSync(altered) },
    { key: 'data/uci-csv/online_retail.csv', body: csv },
    { key: 'data/uci-csv/online_retail.csv.bz2', body: 'BZh9' },
    { key: 'data/uci-csv/notes.xlsx', body: 'PK' },
    { key: 'data/uci-csv/_SUCCESS', body: '' },
  ]);
  const r = await floyo(['ingest', `s3://${bucket}/data/uci-csv`, '--home', tempDir(), '--json', '-q'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const s = r.json<IngestSummary>();
  assert.deepEqual(s.sources.map((x) => x.location), [`s3://${bucket}/data/uci-csv/online_retail.csv`]);
  assert.equal(s.ordersReplaced, 0);
  assert.equal(s.rowsRead, 12303);
  assert.deepEqual(s.filesNotRead, {
    unsupported: 2, byExtension: { '.xlsx': 1, '.bz2': 1 },
    examples: [`s3://${bucket}/data/uci-csv/notes.xlsx`, `s3://${bucket}/data/uci-csv/online_retail.csv.bz2`], sideFiles: 1,
  });
  assert.match(r.stderr, /^floyo: warning: skipped 2 files with no data extension \(\.xlsx 1, \.bz2 1\): s3:\/\/\S+\/notes\.xlsx, s3:\/\/\S+\/online_retail\.csv\.bz2; Floyo reads /);
});

/** The fixture's data lines grouped by order, in file order, and its header. */
function fixtureOrders(): { header: string; orders: string[][] } {
  const lines = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8').trimEnd().split('\n');
  const orders: string[][] = [];
  let last = '';
  for (const line of lines.slice(1)) {
    const id = line.split(',')[0];
    if (id !== last) orders.push([]);
    orders[orders.length - 1].push(line);
    last = id;
  }
  return { header: lines[0], orders };
}

/**
 * Objects under `prefix`: `count` small CSVs of whole orders (p00.csv, ...), one of them (the `bad`-th) a
 * gzip cut in half; in the middle, two keys with the same name under different prefixes (q/part.csv,
 * r/part.csv) that both hold one order, different lines of it: the one loaded last has the order.
 */
function manyObjects(prefix: string, count: number, bad: number): Array<{ key: string; body: string | Uint8Array }> {
  const { header, orders } = fixtureOrders();
  const split = orders.find((o) => o.length >= 4)!;
  const rest = orders.filter((o) => o !== split);
  const csv = (os: string[][]) => [header, ...os.flat()].join('\n') + '\n';
  const perObject = 4;
  const objects: Array<{ key: string; body: string | Uint8Array }> = [];
  for (let i = 0; i < count; i++) {
    const body = csv(rest.slice(i * perObject, (i + 1) * perObject));
    const name = `${i < count / 2 ? 'p' : 's'}${String(i).padStart(2, '0')}`;
    if (i === bad) {
      const gz = gzipSync(body);
      objects.push({ key: `${prefix}${name}.csv.gz`, body: gz.subarray(0, gz.length >> 1) });
    } else {
      objects.push({ key: `${prefix}${name}.csv`, body });
    }
    if (i === Math.floor(count / 2) - 1) {
      const more = rest.slice(count * perObject);
      const half = split.length >> 1;
      objects.push({ key: `${prefix}q/part.csv`, body: csv([...more.slice(0, 3), split.slice(0, half)]) });
      objects.push({ key: `${prefix}r/part.csv`, body: csv([...more.slice(3, 6), split.slice(half)]) });
    }
  }
  return objects;
}

/** What a summary says about its sources, wherever they were read from. */
function comparable(sources: SourceSummary[], base: string): unknown[] {
  return sources.map(({ timingsMs: _t, ...s }) => JSON.parse(JSON.stringify(s).replaceAll(base, '<base>/')));
}

/** Files of downloads (finished, or under way: .part) in a home's tmp. */
function downloadsIn(home: string): string[] {
  const tmp = join(home, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((f) => f.includes('download-')) : [];
}

test('many small objects download ahead of their load: the same summaries, in the same order, as the same files read locally; nothing left in tmp', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'many');
  const objects = manyObjects('many/', 24, 7);
  await putObjects(client, bucket, objects);
  const dir = tempDir();
  for (const o of objects) {
    mkdirSync(dirname(join(dir, o.key)), { recursive: true });
    writeFileSync(join(dir, o.key), o.body);
  }
  const home = tempDir();
  const r = await floyo(['ingest', `s3://${bucket}/many/`, '--home', home, '--json', '-q'], { env: env() });
  assert.equal(r.code, 2, `one source failed: ${r.stderr}`);
  const s = r.json<IngestSummary>();
  const local = (await floyo(['ingest', join(dir, 'many'), '--home', tempDir(), '--json', '-q'])).json<IngestSummary>();
  assert.deepEqual(comparable(s.sources, `s3://${bucket}/many/`), comparable(local.sources, `${join(dir, 'many')}/`));
  assert.deepEqual({ ...s.warehouse, path: '' }, { ...local.warehouse, path: '' });

  assert.equal(s.sources.length, 26);
  assert.deepEqual(s.sources.map((x) => x.location.slice(`s3://${bucket}/many/`.length)).slice(10, 14), ['p10.csv', 'p11.csv', 'q/part.csv', 'r/part.csv']);
  const failed = s.sources.filter((x) => x.status === 'failed');
  assert.deepEqual(failed.map((x) => x.location), [`s3://${bucket}/many/p07.csv.gz`]);
  assert.match(failed[0].error!, /p07\.csv\.gz/);
  assert.equal(s.sourcesIngested, 25);
  const [q, rr] = s.sources.slice(12, 14);
  assert.deepEqual([q.ordersReplaced, rr.ordersReplaced], [0, 1], 'r/part.csv, loaded after q/part.csv, replaces the order they share');
  assert.notEqual(q.fingerprint, rr.fingerprint, 'the two part.csv were downloaded to files of their own');
  assert.deepEqual(readdirSync(join(home, 'tmp')).filter((f) => f !== 'duckdb'), [], 'no download left in home/tmp');

  const again = (await floyo(['ingest', `s3://${bucket}/many/`, '--home', home, '--json', '-q'], { env: env() })).json<IngestSummary>();
  assert.deepEqual(
    again.sources.map((x) => x.status),
    s.sources.map((x) => (x.status === 'failed' ? 'failed' : 'already ingested')),
    'a re-run skips every object ingested before; the broken one fails again',
  );
  assert.deepEqual(again.sources.map((x) => x.fingerprint), s.sources.map((x) => x.fingerprint));
  assert.equal(again.warehouse.rows, s.warehouse.rows);
});

/** ingest() itself against the test server, in a fresh or given home; `progress` sees every bar's label. */
async function ingestS3(locations: string[], options: { home?: string; s3Prefetch?: IngestRequest['s3Prefetch']; progress?: ProgressFactory } = {}) {
  const home = options.home ?? tempDir();
  const { accessKeyId, secretAccessKey } = s3TestCredentials();
  // ingest() takes its credentials from the standard chain, as the CLI does
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
  const warehouse = await Warehouse.open(home, 'test');
  try {
    const summary = await ingest(warehouse, {
      locations, mapping: presetMapping('online-retail'), format: 'auto', s3: s3TestSettings(),
      rules: rowRules(ConfigSchema.parse({}).ingest),
      progress: options.progress ?? (() => silentProgress()), s3Prefetch: options.s3Prefetch,
    });
    return { home, summary };
  } finally {
    warehouse.close();
  }
}

test('downloads ahead keep to their bounds; one at a time gives the same summaries; a re-run downloads nothing; a stopped run leaves nothing behind', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'prefetch');
  const objects = manyObjects('d/', 12, 5);
  // one larger object: it is still downloading when the run below stops
  objects.push({ key: 'd/s08-all.csv', body: readFileSync(join(FIXTURES, 'online_retail_sample.csv')) });
  await putObjects(client, bucket, objects);
  const location = `s3://${bucket}/d/`;

  /** the downloads in tmp each time a source starts to load, and every bar's label */
  const watch = () => {
    const seen: number[] = [];
    const labels: string[] = [];
    let home = '';
    const progress: ProgressFactory = (label) => {
      labels.push(label);
      if (label.startsWith('ingest ')) seen.push(downloadsIn(home).length);
      return silentProgress();
    };
    return { seen, labels, progress, setHome: (h: string) => (home = h) };
  };
  const run = async (s3Prefetch?: IngestRequest['s3Prefetch']) => {
    const w = watch();
    const home = tempDir();
    w.setHome(home);
    const { summary } = await ingestS3([location], { home, s3Prefetch, progress: w.progress });
    assert.deepEqual(downloadsIn(home), [], 'no download left in tmp');
    return { home, summary, ...w };
  };

  const oneAtATime = await run({ concurrency: 1 });
  const ahead = await run();
  const alone = await run({ maxBytes: 1 });
  assert.deepEqual(oneAtATime.seen, oneAtATime.seen.map(() => 1), 'one at a time: only the loading source is downloaded');
  assert.deepEqual(alone.seen, alone.seen.map(() => 1), 'past the byte bound, nothing downloads ahead');
  assert.ok(Math.max(...ahead.seen) <= 8, `at most 2 × 4 objects held: ${ahead.seen}`);
  assert.ok(Math.max(...ahead.seen) > 1, `objects downloaded ahead: ${ahead.seen}`);
  assert.equal(ahead.summary.sourcesFailed, 1);
  for (const other of [oneAtATime, alone]) assert.deepEqual(comparable(ahead.summary.sources, location), comparable(other.summary.sources, location));
  assert.deepEqual(ahead.summary.warehouse.rows, oneAtATime.summary.warehouse.rows);

  // the broken object gone, a re-run skips everything without a download
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objects.find((o) => o.key.endsWith('.gz'))!.key }));
  const w = watch();
  w.setHome(ahead.home);
  const again = await ingestS3([location], { home: ahead.home, progress: w.progress });
  assert.ok(again.summary.sources.every((x) => x.status === 'already ingested'), 'all skipped');
  assert.deepEqual(w.labels.filter((l) => l.startsWith('download')), [], 'nothing downloaded');

  // a run that stops while downloads are under way (a bug, a warehouse that fails) stops them and removes their files
  const stop = watch();
  const home = tempDir();
  stop.setHome(home);
  let loads = 0;
  let atStop = 0;
  const failing: ProgressFactory = (label, unit) => {
    if (label.startsWith('ingest ') && ++loads === 9) {
      atStop = downloadsIn(home).length;
      throw new Error('stop here');
    }
    return stop.progress(label, unit);
  };
  await assert.rejects(ingestS3([location], { home, progress: failing }), /stop here/);
  assert.ok(atStop > 1, `objects were downloaded ahead when the run stopped: ${atStop}`);
  assert.deepEqual(downloadsIn(home), [], 'no download left in tmp');
  await sleep(500);
  assert.deepEqual(downloadsIn(home), [], 'no download still running');
});

test('a truncated Parquet object: the error names the object, not the temporary download', async () => {
  const client = s3TestClient();
  const bucket = await freshBucket(client, 'parquet');
  const dir = tempDir();
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  await db.run(`COPY (SELECT * FROM read_csv('${join(FIXTURES, 'online_retail_sample.csv')}', all_varchar=true)) TO '${join(dir, 'sales.parquet')}' (FORMAT parquet)`);
  db.closeSync();
  const whole = readFileSync(join(dir, 'sales.parquet'));
  await putObjects(client, bucket, [{ key: 'cut/sales.parquet', body: whole.subarray(0, whole.length >> 1) }]);
  const r = await floyo(['ingest', `s3://${bucket}/cut/`, '--home', tempDir(), '--json', '-q'], { env: env() });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.json<IngestSummary>().sources[0].error, `s3://${bucket}/cut/sales.parquet: not a readable Parquet file (No magic bytes found at end of file)`);
  assert.doesNotMatch(r.stderr, /download-|\/tmp\//);
});

test('a download that stalls or breaks: the progress bar ends as failed, not with a line that reads like success', async () => {
  // an S3 endpoint that lists one object of 1 MiB and hangs up after 64 KiB of it
  const server = createServer((request, response) => {
    if (new URL(request.url ?? '/', 'http://x').searchParams.get('list-type') === '2') {
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>sales</Name><IsTruncated>false</IsTruncated>' +
          '<Contents><Key>exports/a.csv</Key><Size>1048576</Size><ETag>"x"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>',
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'text/csv', 'content-length': String(1 << 20), etag: '"x"' });
    response.write(Buffer.alloc(64 * 1024, 0x61), () => response.socket?.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const ended: string[] = [];
  const progress: ProgressFactory = (label) => ({ update() {}, done: (summary) => void ended.push(`${label}: ${summary}`) });
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  const warehouse = await Warehouse.open(tempDir(), 'test');
  try {
    // listed twice: the first downloads ahead (the prefetcher's bar), the second in its turn (its own bar)
    const s = await ingest(warehouse, {
      locations: ['s3://sales/exports/', 's3://sales/exports/a.csv'], mapping: presetMapping('online-retail'), format: 'auto',
      s3: { region: 'us-east-1', endpoint, forcePathStyle: true }, rules: rowRules(ConfigSchema.parse({}).ingest), progress,
    });
    assert.deepEqual(s.sources.map((x) => x.status), ['failed', 'failed']);
    for (const x of s.sources) assert.match(x.error!, /^download of s3:\/\/sales\/exports\/a\.csv was cut short after \d+ of 1048576 bytes/);
    assert.equal(ended.length, 2, ended.join('\n'));
    assert.match(ended[0], /^download s3:\/\/sales\/exports\/a\.csv: failed: 1 of 1 object not downloaded \(\d+ of 1048576 bytes\)$/);
    assert.match(ended[1], /^download s3:\/\/sales\/exports\/a\.csv: failed: not downloaded \(\d+ of 1048576 bytes\)$/);
  } finally {
    warehouse.close();
    server.close();
  }
});

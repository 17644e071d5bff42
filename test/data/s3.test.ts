import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createS3Client, downloadS3Object, EndpointNotS3, listS3DataObjects, listS3Objects, parseS3Url } from '../../src/data/s3.js';
import type { S3ObjectInfo } from '../../src/data/s3.js';
import { FloyoError } from '../../src/errors.js';
import { assertErrorStdout, floyo, FIXTURES, tempDir } from '../support/cli.js';
import { freshBucket, putObjects, s3TestClient, s3TestCredentials, s3TestSettings } from '../support/s3.js';

const MiB = 1 << 20;

async function collect(objects: AsyncIterable<S3ObjectInfo>): Promise<S3ObjectInfo[]> {
  const all: S3ObjectInfo[] = [];
  for await (const object of objects) all.push(object);
  return all;
}

/** A FloyoError whose message matches, with no stack frames in the message. */
function floyoError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof FloyoError, `expected a FloyoError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n|\bat .*\.(js|ts):\d+/);
    return true;
  };
}

/** Counts the ListObjectsV2 requests a client sends, to see that listing really paged. */
function countListRequests(client: S3Client): { count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'ListObjectsV2Command') counter.count++;
      return next(args);
    },
    { step: 'initialize', name: 'countListRequests' },
  );
  return counter;
}

/** `size` bytes of deterministic, incompressible data in 1 MiB chunks, hashed as they are produced. */
function generatedStream(size: number): { stream: Readable; sha256: () => string } {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  let produced = 0;
  let index = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - produced)));
      chunk.writeUInt32LE(index++, 0); // every chunk differs, so a misplaced part changes the hash
      hash.update(chunk);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

describe('parseS3Url', () => {
  test('splits bucket and prefix, keeping the prefix literally', () => {
    assert.deepEqual(parseS3Url('s3://sales-data/exports/2024/'), { bucket: 'sales-data', prefix: 'exports/2024/' });
    assert.deepEqual(parseS3Url('s3://sales-data'), { bucket: 'sales-data', prefix: '' });
    assert.deepEqual(parseS3Url('s3://sales-data/'), { bucket: 'sales-data', prefix: '' });
    assert.deepEqual(parseS3Url('S3://my.bucket.1/a b/%20x?y#z'), { bucket: 'my.bucket.1', prefix: 'a b/%20x?y#z' });
  });

  test('refuses what is not an S3 location, saying what is expected', () => {
    for (const bad of ['sales-data/x.csv', 'http://sales-data/x', 's3:/sales-data/x', 's3:sales-data', '']) {
      assert.throws(() => parseS3Url(bad), floyoError(/not an S3 location: ".*" \(expected s3:\/\/bucket\/prefix\)/));
    }
    assert.throws(() => parseS3Url('s3://'), floyoError(/has no bucket name/));
    assert.throws(() => parseS3Url('s3:///x.csv'), floyoError(/has no bucket name/));
  });

  test('refuses invalid bucket names with the rule', () => {
    for (const bad of ['ab', 'Sales', 'sales_data', '-sales', 'sales-', 'a'.repeat(64), 'a..b', '192.168.1.1']) {
      assert.throws(() => parseS3Url(`s3://${bad}/x`), floyoError(/is not a valid bucket name \(3–63 characters: lowercase/));
    }
  });
});

describe('against a real S3 server (Ceph RADOS Gateway)', () => {
  let client: S3Client;
  let work: string;

  before(() => {
    client = s3TestClient();
    work = mkdtempSync(join(tmpdir(), 'floyo-s3-test-'));
  });
  after(() => {
    client.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('lists 1,100 objects over several pages, each key exactly once, skipping folder placeholders', async () => {
    const bucket = await freshBucket(client, 'paging');
    const keys = Array.from({ length: 1100 }, (_, i) => `exports/day-${String(i).padStart(5, '0')}.csv`);
    await putObjects(client, bucket, [
      ...keys.map((key, i) => ({ key, body: `order,qty\n${i},1\n` })),
      { key: 'exports/', body: '' },
      { key: 'exports/archive/', body: '' },
      { key: 'elsewhere/x.csv', body: 'not under the prefix' },
    ]);

    const lister = s3TestClient();
    const requests = countListRequests(lister);
    const listed = await collect(listS3Objects(lister, bucket, 'exports/'));
    lister.destroy();

    assert.ok(requests.count >= 2, `expected 2+ ListObjectsV2 pages, saw ${requests.count}`);
    const seen = new Map<string, number>();
    for (const o of listed) seen.set(o.key, (seen.get(o.key) ?? 0) + 1);
    assert.deepEqual([...seen.keys()].sort(), keys);
    assert.ok([...seen.values()].every((n) => n === 1), 'a key was listed twice');
    const first = listed.find((o) => o.key === keys[7])!;
    assert.equal(first.size, 'order,qty\n7,1\n'.length);
    assert.equal(first.etag, createHash('md5').update('order,qty\n7,1\n').digest('hex'));
    assert.ok(first.lastModified instanceof Date);
  });

  test('a large multipart object streams to disk with the right sha256 and size, in bounded memory', async (t) => {
    const bucket = await freshBucket(client, 'large');
    const size = 160 * MiB + 12345; // not a multiple of the part size
    const source = generatedStream(size);
    await new Upload({
      client,
      params: { Bucket: bucket, Key: 'big/orders.csv', Body: source.stream },
      partSize: 8 * MiB,
      queueSize: 4,
    }).done();
    const expected = source.sha256();

    const [info] = await collect(listS3Objects(client, bucket, 'big/'));
    assert.equal(info.size, size);
    assert.match(info.etag, /-\d+$/, 'a multipart ETag');

    const memory = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = memory();
    let peak = baseline;
    let calls = 0;
    let lastBytes = 0;
    let lastTotal = 0;
    const dest = join(work, 'orders.csv');
    const result = await downloadS3Object(client, bucket, 'big/orders.csv', dest, (bytes, total) => {
      assert.ok(bytes > lastBytes, 'progress only moves forward');
      calls++;
      lastBytes = bytes;
      lastTotal = total;
      if (calls % 16 === 0) peak = Math.max(peak, memory());
    });
    peak = Math.max(peak, memory());

    assert.equal(result.bytes, size);
    assert.equal(result.sha256, expected);
    assert.equal(statSync(dest).size, size);
    assert.ok(calls > 10, `progress called ${calls} times`);
    assert.equal(lastBytes, size);
    assert.equal(lastTotal, size);
    const growth = peak - baseline;
    t.diagnostic(`memory grew by ${(growth / MiB).toFixed(1)} MiB while streaming ${(size / MiB).toFixed(0)} MiB`);
    assert.ok(growth < 96 * MiB, `memory grew by ${(growth / MiB).toFixed(0)} MiB while downloading a ${(size / MiB).toFixed(0)} MiB object`);
    assert.deepEqual(readdirSync(work), ['orders.csv'], 'no temporary file is left behind');
  });

  test('a prefix that names one object is that object alone, not its longer-named neighbours', async () => {
    const bucket = await freshBucket(client, 'single');
    await putObjects(client, bucket, [
      { key: 'data/sales.csv', body: 'a,b\n1,2\n' },
      { key: 'data/sales.csv.bak', body: 'old' },
      { key: 'data/sales.csv2', body: 'other' },
    ]);
    const listed = await collect(listS3Objects(client, bucket, 'data/sales.csv'));
    assert.deepEqual(listed.map((o) => [o.key, o.size]), [['data/sales.csv', 8]]);

    const dest = join(work, 'sales.csv');
    const { bytes, sha256 } = await downloadS3Object(client, bucket, 'data/sales.csv', dest);
    assert.equal(bytes, 8);
    assert.equal(sha256, createHash('sha256').update('a,b\n1,2\n').digest('hex'));
    assert.equal(readFileSync(dest, 'utf8'), 'a,b\n1,2\n');

    // a name that is no object's is a folder: the keys that merely begin with it are not under it
    await assert.rejects(
      collect(listS3Objects(client, bucket, 'data/sales')),
      floyoError(new RegExp(`^no object s3://${bucket}/data/sales, and no objects under s3://${bucket}/data/sales/ \\(keys that only begin with its name, such as data/sales\\.csv, are not under it\\)$`)),
    );
  });

  test('a location that names no object is a folder: its sibling "folders" with longer names are not listed', async () => {
    const bucket = await freshBucket(client, 'folder');
    await putObjects(client, bucket, [
      { key: 'data/uci-csv-old/a.csv', body: 'old' },
      { key: 'data/uci-csv.gz/online_retail.csv.gz', body: 'gz' },
      { key: 'data/uci-csv/online_retail.csv', body: 'csv' },
      { key: 'data/uci-csv/2011/b.csv', body: 'csv' },
      { key: 'data/uci-csv2/c.csv', body: 'other' },
    ]);
    const expected = ['data/uci-csv/2011/b.csv', 'data/uci-csv/online_retail.csv'];
    for (const prefix of ['data/uci-csv', 'data/uci-csv/']) {
      assert.deepEqual((await collect(listS3Objects(client, bucket, prefix))).map((o) => o.key), expected, prefix);
      assert.deepEqual((await collect(listS3DataObjects(client, bucket, prefix))).map((o) => o.key), expected, prefix);
    }
  });

  test('a download that fails midway leaves no partial file', async () => {
    const bucket = await freshBucket(client, 'partial');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'two-mib.bin', Body: randomBytes(2 * MiB) }));
    const dir = mkdtempSync(join(work, 'partial-'));
    const stop = new Error('stopped by the progress callback');
    await assert.rejects(
      downloadS3Object(client, bucket, 'two-mib.bin', join(dir, 'two-mib.bin'), (bytes) => {
        if (bytes > 0) throw stop;
      }),
      (err) => err === stop,
    );
    assert.deepEqual(readdirSync(dir), []);

    await assert.rejects(
      downloadS3Object(client, bucket, 'missing.csv', join(dir, 'missing.csv')),
      floyoError(/^object s3:\/\/floyo-partial-.*\/missing\.csv does not exist$/),
    );
    assert.deepEqual(readdirSync(dir), []);

    await assert.rejects(
      downloadS3Object(client, bucket, 'two-mib.bin', join(dir, 'no-such-dir', 'x.bin')),
      floyoError(/^cannot write .*no-such-dir\/x\.bin \(downloading s3:\/\/.*\/two-mib\.bin\)/),
    );
  });

  test('a connection that breaks in the middle of the body: cut short, nothing left behind', async () => {
    // RGW cannot be told to drop a connection halfway, so this endpoint answers like S3 and then hangs up.
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(MiB), etag: '"x"' });
      response.write(Buffer.alloc(64 * 1024, 1), () => response.socket?.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const flaky = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true }, { credentials: s3TestCredentials() });
    const dir = mkdtempSync(join(work, 'broken-'));
    try {
      await assert.rejects(
        downloadS3Object(flaky, 'sales', 'orders.csv', join(dir, 'orders.csv')),
        floyoError(/^download of s3:\/\/sales\/orders\.csv was cut short after \d+ of 1048576 bytes \(.+\); try again$/),
      );
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      flaky.destroy();
      server.close();
    }
  });

  test('a bucket that does not exist', async () => {
    await assert.rejects(
      collect(listS3Objects(client, 'floyo-no-such-bucket', 'exports/')),
      floyoError(/^bucket floyo-no-such-bucket does not exist \(s3:\/\/floyo-no-such-bucket\/exports\/\)$/),
    );
  });

  test('wrong credentials: access refused, saying to check credentials', async () => {
    const bucket = await freshBucket(client, 'refused');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.csv', Body: 'x' }));
    const { accessKeyId } = s3TestCredentials();
    for (const credentials of [
      { accessKeyId, secretAccessKey: 'not-the-secret' },
      { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'whatever' },
    ]) {
      const wrong = createS3Client(s3TestSettings(), { credentials });
      await assert.rejects(
        collect(listS3Objects(wrong, bucket, '')),
        floyoError(/^access to s3:\/\/floyo-refused-\S+\/ was refused \((SignatureDoesNotMatch|InvalidAccessKeyId)\b.*check credentials \(AWS_ACCESS_KEY_ID/),
      );
      await assert.rejects(downloadS3Object(wrong, bucket, 'a.csv', join(work, 'refused.csv')), floyoError(/^access to s3:\/\/.*\/a\.csv was refused/));
      wrong.destroy();
    }
  });

  test('no credentials anywhere: says where credentials come from', async () => {
    const saved = Object.entries(process.env).filter(([name]) => name.startsWith('AWS_'));
    try {
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
        delete process.env[name];
      }
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(work, 'no-credentials');
      process.env.AWS_CONFIG_FILE = join(work, 'no-config');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      const anonymous = createS3Client(s3TestSettings());
      await assert.rejects(
        collect(listS3Objects(anonymous, 'floyo-any', '')),
        floyoError(/^no AWS credentials found for s3:\/\/floyo-any\/: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/),
      );
      anonymous.destroy();
    } finally {
      for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
      for (const [name, value] of saved) process.env[name] = value;
    }
  });

  test('an endpoint nothing listens on, and a host that does not resolve', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const dead = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true }, { credentials: s3TestCredentials() });
    await assert.rejects(
      collect(listS3Objects(dead, 'sales', 'exports/')),
      floyoError(new RegExp(`^cannot reach S3 endpoint http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) for s3://sales/exports/`)),
    );
    dead.destroy();

    const nowhere = createS3Client({ region: 'us-east-1', endpoint: 'http://floyo-test.invalid:7480', forcePathStyle: true }, { credentials: s3TestCredentials(), maxAttempts: 1 });
    await assert.rejects(
      downloadS3Object(nowhere, 'sales', 'a.csv', join(work, 'nowhere.csv')),
      floyoError(/^cannot reach S3 endpoint http:\/\/floyo-test\.invalid:7480 \((ENOTFOUND|EAI_AGAIN)\) for s3:\/\/sales\/a\.csv/),
    );
    nowhere.destroy();
  });

  test('an https:// endpoint on a plain-HTTP server: says the scheme is probably wrong, not OpenSSL\'s "wrong version number"', async () => {
    const server = createHttpServer((_request, response) => response.end('x'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const tls = createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true }, { credentials: s3TestCredentials() });
    try {
      await assert.rejects(
        collect(listS3Objects(tls, 'sales', 'exports/')),
        floyoError(new RegExp(`^S3 endpoint ${endpoint} did not answer in TLS for s3://sales/exports/ \\(it speaks plain HTTP\\?\\): the scheme of s3\\.endpoint is probably wrong; try http://$`)),
      );
    } finally {
      tls.destroy();
      server.close();
    }
  });

  test('an endpoint that accepts connections and never answers times out after 20 idle seconds, not minutes', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
    const mute = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true }, { credentials: s3TestCredentials(), maxAttempts: 1 });
    const started = Date.now();
    try {
      await assert.rejects(
        collect(listS3Objects(mute, 'sales', 'exports/')),
        floyoError(new RegExp(`^S3 endpoint http://127\\.0\\.0\\.1:${port} timed out for s3://sales/exports/`)),
      );
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds >= 19 && seconds < 40, `timed out after ${seconds} s`);
    } finally {
      mute.destroy();
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  test('an empty prefix, and a bucket with nothing but folder placeholders', async () => {
    const bucket = await freshBucket(client, 'empty');
    await assert.rejects(collect(listS3Objects(client, bucket, 'exports/')), floyoError(new RegExp(`^no objects under s3://${bucket}/exports/$`)));
    await putObjects(client, bucket, [{ key: 'exports/', body: '' }, { key: 'exports/2024/', body: '' }]);
    await assert.rejects(collect(listS3Objects(client, bucket, 'exports/')), floyoError(/^no objects under s3:\/\/.*\/exports\/$/));
    await assert.rejects(collect(listS3Objects(client, bucket, '')), floyoError(new RegExp(`^no objects under s3://${bucket}/$`)));
  });

  test('data objects: a Spark output prefix gives its part files, as a folder would, not its markers', async () => {
    const bucket = await freshBucket(client, 'spark');
    await putObjects(client, bucket, [
      { key: 'out/_SUCCESS', body: '' },
      { key: 'out/_committed_123', body: '{}' },
      { key: 'out/.part-00000.snappy.parquet.crc', body: 'crc' },
      { key: 'out/part-00000-abc.snappy.parquet', body: 'PAR1' },
      { key: 'out/part-00001-abc.csv.gz', body: 'gz' },
      { key: 'out/country=UK/part-00002.json', body: '[]' },
      { key: 'out/_temporary/0/part-00003.parquet', body: 'an unfinished attempt' },
      { key: 'out/notes.md', body: 'not data' },
      { key: 'out/raw.tsv', body: 'a\tb\n' },
    ]);
    assert.deepEqual((await collect(listS3DataObjects(client, bucket, 'out/'))).map((o) => o.key), [
      'out/country=UK/part-00002.json', 'out/part-00000-abc.snappy.parquet', 'out/part-00001-abc.csv.gz', 'out/raw.tsv',
    ]);
    // the folder without its trailing '/' is the same folder
    assert.deepEqual((await collect(listS3DataObjects(client, bucket, 'out'))).map((o) => o.key), [
      'out/country=UK/part-00002.json', 'out/part-00000-abc.snappy.parquet', 'out/part-00001-abc.csv.gz', 'out/raw.tsv',
    ]);
    // an object named by the whole location is taken as it is, like a local file
    assert.deepEqual((await collect(listS3DataObjects(client, bucket, 'out/notes.md'))).map((o) => o.key), ['out/notes.md']);
  });

  test('data objects: a prefix with objects but no data file is refused, naming what was skipped', async () => {
    const bucket = await freshBucket(client, 'nodata');
    await putObjects(client, bucket, [
      { key: 'out/_SUCCESS', body: '' },
      { key: 'out/.crc', body: '' },
      { key: 'out/readme.md', body: 'x' },
      { key: 'out/_temporary/0/part-0.parquet', body: 'x' },
    ]);
    await assert.rejects(
      collect(listS3DataObjects(client, bucket, 'out/')),
      floyoError(new RegExp(`^no data files under s3://${bucket}/out/ \\(\\.csv, \\.tsv, .*optionally \\.gz\\); skipped 4 other objects: \\.crc, _SUCCESS, _temporary/0/part-0\\.parquet, …$`)),
    );
    await assert.rejects(collect(listS3DataObjects(client, bucket, 'none/')), floyoError(new RegExp(`^no objects under s3://${bucket}/none/$`)));
  });
});

describe('a request the SDK tries again', () => {
  // An S3 endpoint that answers 503 SlowDown, as S3 does under throttling: always, except to a listing of
  // a prefix outside exports/, which fails twice and then lists one object.
  let server: Server;
  let endpoint: string;
  let requests = 0;
  const seen = new Map<string, number>();
  before(async () => {
    server = createHttpServer((request, response) => {
      requests++;
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      const prefix = query.get('prefix') ?? '';
      seen.set(prefix, (seen.get(prefix) ?? 0) + 1);
      if (query.get('list-type') !== '2' || prefix.startsWith('exports/') || seen.get(prefix)! <= 2) {
        response.writeHead(503, { 'content-type': 'application/xml' });
        response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
          `<Name>sales</Name><Prefix>${prefix}</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
          `<Contents><Key>${prefix}a.csv</Key><Size>3</Size><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  test('each request reports its own attempts: none when it succeeds at once, side by side when concurrent', async () => {
    const said: string[] = [];
    const client = createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true }, { credentials: s3TestCredentials(), onRetry: (m) => said.push(m) });
    const retried = (prefix: string) => [2, 3].map((n) => `S3 request for s3://sales/${prefix} failed: SlowDown: Please reduce your request rate. (HTTP 503); trying again (attempt ${n} of 3)`);
    assert.equal((await collect(listS3Objects(client, 'sales', 'a/'))).length, 1);
    assert.deepEqual(said, retried('a/'));
    said.length = 0;
    assert.equal((await collect(listS3Objects(client, 'sales', 'a/'))).length, 1, 'the same request again, answered at once');
    assert.equal(said.length, 0, `a request that did not fail reports nothing: ${said.join('; ')}`);
    await Promise.all(['b/', 'c/'].map((prefix) => collect(listS3Objects(client, 'sales', prefix))));
    assert.deepEqual(said.filter((m) => m.includes('/b/')), retried('b/'));
    assert.deepEqual(said.filter((m) => m.includes('/c/')), retried('c/'));
    assert.equal(said.length, 4);
    client.destroy();
  });

  test('is reported before each new attempt, with why the last one failed', async () => {
    const said: string[] = [];
    const client = createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true }, { credentials: s3TestCredentials(), onRetry: (m) => said.push(m) });
    const before = requests;
    await assert.rejects(collect(listS3Objects(client, 'sales', 'exports/')), floyoError(/^S3 request for s3:\/\/sales\/exports\/ failed: SlowDown/));
    client.destroy();
    assert.equal(requests - before, 3);
    assert.deepEqual(said, [2, 3].map((n) => `S3 request for s3://sales/exports/ failed: SlowDown: Please reduce your request rate. (HTTP 503); trying again (attempt ${n} of 3)`));
  });

  test('floyo ingest and floyo models list say so on stderr', async () => {
    const env = { FLOYO_S3_ENDPOINT: endpoint, FLOYO_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
    const home = tempDir();
    const [ingested, listed] = await Promise.all([
      floyo(['ingest', 's3://sales/exports/', '--home', home, '--json'], { env }),
      floyo(['models', 'list', '--home', home, '--json'], { env: { ...env, FLOYO_MODELS_LOCATION: 's3://models/shop/' } }),
    ]);
    for (const r of [ingested, listed]) {
      assert.equal(r.code, 2, r.stderr);
      // models list asks for the versions and CURRENT side by side: each request says so for itself
      const notices = r.stderr.split('\n').filter((line) => line.includes('trying again'));
      assert.ok(notices.length >= 2, r.stderr);
      for (const line of notices) assert.match(line, /^floyo: warning: S3 request for s3:\/\/\S+ failed: SlowDown: Please reduce your request rate\. \(HTTP 503\); trying again \(attempt [23] of 3\)$/);
      for (const n of [2, 3]) assert.ok(notices.some((line) => line.endsWith(`(attempt ${n} of 3)`)), r.stderr);
      assert.match(r.json<{ error: { message: string } }>().error.message, /SlowDown/);
    }
  });
});

describe('an endpoint that is not S3 (a web server answering 404 to everything)', () => {
  let server: Server;
  let endpoint: string;
  before(async () => {
    server = createHttpServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/html' });
      response.end('<html><body><h1>404 Not Found</h1></body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  const notS3 = (location: string) => (err: unknown) => {
    assert.ok(err instanceof EndpointNotS3, `expected EndpointNotS3, got ${String(err)}`);
    return floyoError(new RegExp(`^S3 endpoint ${endpoint} answered 404 Not Found for ${location} without an S3 error code \\(S3 says NoSuchBucket or NoSuchKey\\): ` +
      'it does not look like an S3 server, or its path is wrong; check s3.endpoint$'))(err);
  };

  test('listing and downloading say so, rather than "no such key" or a bare NotFound', async () => {
    const client = createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true }, { credentials: s3TestCredentials() });
    try {
      await assert.rejects(collect(listS3Objects(client, 'data', 'uci/')), notS3('s3://data/uci/'));
      await assert.rejects(downloadS3Object(client, 'data', 'uci/a.csv', join(mkdtempSync(join(tmpdir(), 'floyo-not-s3-')), 'a.csv')), notS3('s3://data/uci/a\\.csv'));
    } finally {
      client.destroy();
    }
  });

  test('floyo ingest fails at once; floyo train stops before ingesting or fitting, not at publish', async () => {
    const env = { FLOYO_S3_ENDPOINT: endpoint, FLOYO_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
    const home = tempDir();
    const ingested = await floyo(['ingest', 's3://data/uci-csv', '--home', home, '--json'], { env });
    assert.equal(ingested.code, 2, ingested.stderr);
    assertErrorStdout(ingested);
    assert.match(ingested.stderr, /^floyo: S3 endpoint \S+ answered 404 Not Found for s3:\/\/data\/uci-csv without an S3 error code .*check s3\.endpoint\n$/);
    const started = Date.now();
    const trainHome = tempDir();
    const trained = await floyo(['train', '--data', join(FIXTURES, 'online_retail_sample.csv'), '--home', trainHome, '--json', '-q'], {
      env: { ...env, FLOYO_MODELS_LOCATION: 's3://models/uci' },
    });
    assert.equal(trained.code, 2, trained.stderr);
    assert.match(trained.stderr, /^floyo: S3 endpoint \S+ answered 404 Not Found for s3:\/\/models\/uci\/CURRENT without an S3 error code .*check s3\.endpoint\n$/);
    assert.ok(Date.now() - started < 15_000, 'no fitting first');
    assert.deepEqual(readdirSync(trainHome).filter((f) => f.startsWith('warehouse')), [], 'nothing was ingested');
  });
});

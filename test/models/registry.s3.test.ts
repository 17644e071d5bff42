// The registry under an s3:// prefix, against the real S3 server (Ceph RADOS Gateway) the test runner starts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { listS3Objects } from '../../src/data/s3.js';
import { FloyoError } from '../../src/errors.js';
import { FORMAT_VERSION, openRegistry } from '../../src/models/registry.js';
import type { PublishInput, Registry, RegistryOptions, TypedArray } from '../../src/models/registry.js';
import { VERSION } from '../../src/version.js';
import { freshBucket, putObjects, s3TestClient, s3TestCredentials, s3TestSettings } from '../support/s3.js';

function floyoError(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof FloyoError, `expected a FloyoError, got ${String(err)}`);
    for (const pattern of patterns) assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

const escape = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

function everyDtype(): Record<string, TypedArray> {
  const shared = new Float32Array(new SharedArrayBuffer(4 * 4));
  shared.set([1, -2.5, NaN, -0]);
  return {
    'als.userFactors': new Float32Array(64 * 1000).map((_, i) => Math.sin(i)),
    'churn.coef': new Float64Array([0, -0, Math.PI, Number.MAX_VALUE, -Infinity, NaN]),
    'als.itemIndex': new Int32Array([0, -1, 2147483647, -2147483648]),
    'als.indptr': new Uint32Array([0, 1, 4294967295]),
    'segments.assignment': new Uint8Array([0, 1, 255]),
    'shared.f32': shared,
    'empty.i32': new Int32Array(0),
  };
}

function sampleInput(arrays: Record<string, TypedArray> = everyDtype()): PublishInput {
  return {
    models: {
      segmentation: { algorithm: 'kmeans++', params: { k: 5 }, metrics: { silhouette: 0.41 } },
      churn: { algorithm: 'logistic-l2', params: { C: 1 }, metrics: { rocAuc: 0.8, prAuc: null } },
    },
    data: { from: '2010-12-01', to: '2011-12-09' },
    report: { cutoff: '2011-09-10' },
    arrays,
    documents: { customerIndex: { '12346': 0, '12347': 1 }, segmentNames: ['champions', 'lost'] },
    gate: { passed: false, reasons: ['churn AUC 0.71 is 0.04 below the current 0.75'] },
  };
}

function sameBytes(actual: TypedArray, expected: TypedArray, name: string): void {
  assert.equal(Object.prototype.toString.call(actual), Object.prototype.toString.call(expected), `${name}: type`);
  assert.deepEqual(
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength),
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    `${name}: bytes`,
  );
}

function steppingClock(startIso: string, stepMs: number): () => Date {
  let t = Date.parse(startIso) - stepMs;
  return () => new Date((t += stepMs));
}

async function keys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const all: string[] = [];
  try {
    for await (const object of listS3Objects(client, bucket, prefix)) all.push(object.key);
  } catch (err) {
    if (err instanceof FloyoError && /^no objects under/.test(err.message)) return [];
    throw err;
  }
  return all.sort();
}

async function getBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

describe('model registry on S3 (Ceph RADOS Gateway)', () => {
  let client: S3Client;
  const opened: Registry[] = [];

  /** A registry that makes its own client from Floyo's settings, as `floyo train` will. */
  function open(url: string, options: RegistryOptions = {}): Registry {
    const registry = openRegistry(url, s3TestSettings(), { s3ClientOptions: { credentials: s3TestCredentials() }, ...options });
    opened.push(registry);
    return registry;
  }

  before(() => {
    client = s3TestClient();
  });
  after(() => {
    for (const registry of opened) registry.close();
    client.destroy();
  });

  test('round trip of every dtype: same layout as on disk, checksums match, arrays on their own buffers', async () => {
    const bucket = await freshBucket(client, 'registry-roundtrip');
    const registry = open(`s3://${bucket}/shop/models`);
    assert.equal(registry.location, `s3://${bucket}/shop/models/`);
    assert.deepEqual(await registry.list(), []);
    assert.equal(await registry.current(), null);

    const input = sampleInput();
    const published = await registry.publish(input, { promote: true });
    assert.equal(published.formatVersion, FORMAT_VERSION);
    assert.equal(published.floyoVersion, VERSION);
    const v = published.version;
    assert.deepEqual(
      await keys(client, bucket),
      [
        'shop/models/CURRENT',
        `shop/models/${v}/manifest.json`,
        ...Object.keys(input.arrays).map((n) => `shop/models/${v}/${n}.bin`),
        ...Object.keys(input.documents).map((n) => `shop/models/${v}/${n}.json`),
      ].sort(),
    );
    assert.deepEqual(JSON.parse((await getBytes(client, bucket, 'shop/models/CURRENT')).toString()), { version: v, history: [] });
    for (const entry of published.arrays) {
      const bytes = await getBytes(client, bucket, `shop/models/${v}/${entry.file}`);
      assert.equal(bytes.length, entry.bytes);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256);
    }
    const coef = await getBytes(client, bucket, `shop/models/${v}/churn.coef.bin`);
    assert.equal(coef.readDoubleLE(16), Math.PI, 'little-endian on S3 too');

    // a second registry (a new process, say) reads it back
    const loaded = await open(`s3://${bucket}/shop/models/`).load();
    assert.deepEqual(loaded.manifest, published);
    assert.deepEqual(loaded.documents, input.documents);
    for (const [name, expected] of Object.entries(input.arrays)) {
      const actual = loaded.arrays[name];
      sameBytes(actual, expected, name);
      assert.equal(actual.byteOffset, 0);
      assert.equal(actual.buffer.byteLength, actual.byteLength);
    }
    const [summary] = await registry.list();
    assert.deepEqual(summary.gate, input.gate);
    assert.equal(summary.current, true);
  });

  test('promote, rollback and list ordering', async () => {
    const bucket = await freshBucket(client, 'registry-promote');
    const url = `s3://${bucket}/models`;
    const registry = open(url, { now: steppingClock('2026-11-25T03:15:00Z', 250) });
    const small = (i: number) => sampleInput({ run: new Float64Array([i]) });
    const v1 = (await registry.publish(small(1), { promote: true })).version;
    const v2 = (await registry.publish(small(2), { promote: true })).version;
    const v3 = (await registry.publish(small(3), { promote: false })).version; // held back by the gate
    assert.equal(await registry.current(), v2);
    assert.deepEqual((await registry.list()).map((s) => [s.version, s.current, s.promoted]), [
      [v3, false, false],
      [v2, true, true],
      [v1, false, true],
    ]);

    await registry.promote(v3);
    assert.deepEqual(JSON.parse((await getBytes(client, bucket, 'models/CURRENT')).toString()), { version: v3, history: [v2, v1] });
    assert.equal(await registry.rollback(), v2);
    assert.equal(await registry.rollback(), v1);
    assert.equal(((await registry.load()).arrays.run as Float64Array)[0], 1);
    await assert.rejects(registry.rollback(), floyoError(escape(`cannot roll back in ${url}/: ${v1} is current and no version was current before it`)));
    await assert.rejects(registry.promote('20990101T000000Z-00000000'), floyoError(escape(`no model version 20990101T000000Z-00000000 in ${url}/; versions there, newest first: ${v3}, ${v2}, ${v1}`)));
  });

  test('prune removes every object of the old versions, keeps the current one and the rollback target; rollback passes over what it removed', async () => {
    const bucket = await freshBucket(client, 'registry-prune');
    const registry = open(`s3://${bucket}/models`, { now: steppingClock('2026-11-25T03:15:00Z', 60_000) });
    const small = (i: number) => sampleInput({ run: new Float64Array([i]) });
    const versions: string[] = [];
    for (let i = 1; i <= 4; i++) versions.push((await registry.publish(small(i), { promote: i <= 3 })).version);
    const [a, b, c, d] = versions; // current c, history [b, a]; d held back by the gate
    const r = await registry.prune(1);
    assert.deepEqual([r.removed, r.kept, r.rollbackTo], [[a], [d, c, b], b]);
    assert.ok(r.bytesRemoved > 0);
    const left = await keys(client, bucket, 'models/');
    assert.deepEqual([...new Set(left.map((k) => k.split('/')[1]))].sort(), [b, c, d, 'CURRENT'].sort(), 'no object of a removed version is left');
    assert.deepEqual(JSON.parse((await getBytes(client, bucket, 'models/CURRENT')).toString()), { version: c, history: [b, a] }, 'CURRENT is not written');
    assert.equal(await registry.rollback(), b);
    await assert.rejects(registry.rollback(), floyoError(/the versions current before it were removed/));
  });

  test('a failure mid-publish leaves the previous version current and no objects of the failed one', async () => {
    const bucket = await freshBucket(client, 'registry-atomic');
    let writes = -1;
    const registry = open(`s3://${bucket}/m/`, {
      beforeWrite: (file) => {
        if (writes >= 0 && ++writes === 4) throw new Error(`connection lost before ${file}`);
      },
    });
    const first = (await registry.publish(sampleInput({ run: new Float64Array([1]) }), { promote: true })).version;
    const before = await keys(client, bucket);
    writes = 0;
    await assert.rejects(registry.publish(sampleInput(), { promote: true }), /connection lost before/);
    assert.equal(await registry.current(), first);
    assert.deepEqual((await registry.list()).map((s) => s.version), [first]);
    assert.deepEqual(await keys(client, bucket), before, 'the partial upload was deleted');

    // what a crash (no cleanup) leaves: data objects without a manifest — not listed, not loadable
    const partial = '20991231T235959Z-0badf00d';
    await putObjects(client, bucket, [{ key: `m/${partial}/a.bin`, body: new Uint8Array(8) }]);
    assert.deepEqual((await registry.list()).map((s) => s.version), [first]);
    await assert.rejects(registry.load(partial), floyoError(escape(`model version ${partial} in s3://${bucket}/m/ is incomplete: manifest.json is missing`)));
    await assert.rejects(registry.promote(partial), floyoError(/is incomplete/));
    assert.equal(await registry.current(), first);

    // the next publish removes a killed publish's objects once a day old by their name, not younger ones
    const abandoned = '20200101T000000Z-0badc0de';
    await putObjects(client, bucket, [{ key: `m/${abandoned}/a.bin`, body: new Uint8Array(8) }, { key: `m/${abandoned}/b.bin`, body: new Uint8Array(8) }]);
    writes = -1;
    const third = (await registry.publish(sampleInput(), { promote: false })).version;
    const left = await keys(client, bucket, 'm/');
    assert.equal(left.some((k) => k.includes(abandoned)), false, 'two objects of 2020: removed');
    assert.ok(left.includes(`m/${partial}/a.bin`), 'a name dated later than now: kept');
    assert.ok(left.includes(`m/${third}/manifest.json`));
  });

  test('corrupted, truncated and missing objects are refused, naming version and object', async () => {
    const bucket = await freshBucket(client, 'registry-corrupt');
    const registry = open(`s3://${bucket}`); // the whole bucket
    assert.equal(registry.location, `s3://${bucket}/`);
    const { version } = await registry.publish(sampleInput(), { promote: true });
    const key = `${version}/als.userFactors.bin`;
    const original = await getBytes(client, bucket, key);
    const put = (body: Uint8Array) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength }));
    const prefix = escape(`model version ${version} in s3://${bucket}/: als.userFactors.bin `);

    const flipped = Buffer.from(original);
    flipped[1000] ^= 0x80;
    await put(flipped);
    await assert.rejects(registry.load(), floyoError(prefix, /is corrupted: its sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/));
    await put(original.subarray(0, original.length - 4));
    await assert.rejects(registry.load(), floyoError(prefix, /is truncated: 255996 bytes, the manifest says 256000 \(64000 float32 values\)/));
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await assert.rejects(registry.load(), floyoError(prefix, /is missing/));
    await put(original);
    await registry.load();

    await putObjects(client, bucket, [{ key: `${version}/manifest.json`, body: '{"formatVersion": 1, "arr' }]);
    await assert.rejects(registry.show(), floyoError(escape(`model version ${version} in s3://${bucket}/: manifest.json is not valid JSON`)));
  });

  test('S3 failures are FloyoErrors that name the location', async () => {
    const url = 's3://floyo-no-such-bucket-for-registry/models';
    const registry = open(url);
    await assert.rejects(registry.list(), floyoError(/bucket floyo-no-such-bucket-for-registry does not exist \(s3:\/\/floyo-no-such-bucket-for-registry\/models\//));
    await assert.rejects(registry.publish(sampleInput({}), { promote: true }), floyoError(/floyo-no-such-bucket-for-registry/));
    assert.throws(() => openRegistry('s3://Bad_Bucket/x', s3TestSettings()), floyoError(/"Bad_Bucket" is not a valid bucket name/));
  });

  test('a client passed in is used as is and not closed by close()', async () => {
    const bucket = await freshBucket(client, 'registry-client');
    const registry = openRegistry(`s3://${bucket}/m`, s3TestSettings(), { s3Client: client });
    const { version } = await registry.publish(sampleInput({ x: new Uint8Array([1, 2, 3]) }), { promote: true });
    registry.close();
    assert.equal(await openRegistry(`s3://${bucket}/m`, undefined, { s3Client: client }).current(), version);
  });
});

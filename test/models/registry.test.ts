import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FloyoError } from '../../src/errors.js';
import {
  defaultRegistryLocation,
  dtypeOf,
  FORMAT_VERSION,
  manifestFile,
  openRegistry,
  swapByteOrder,
  upgradeManifest,
} from '../../src/models/registry.js';
import type { PublishInput, Registry, RegistryOptions, TypedArray } from '../../src/models/registry.js';
import { VERSION } from '../../src/version.js';
import { tempDir as tempFolder } from '../support/cli.js';

const REGISTRY_MODULE = pathToFileURL(new URL('../../src/models/registry.ts', import.meta.url).pathname).href;

const tempDir = () => tempFolder('floyo-registry-');

/** A FloyoError whose one-line message matches every pattern. */
function floyoError(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof FloyoError, `expected a FloyoError, got ${String(err)}`);
    for (const pattern of patterns) assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

const escape = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** Every dtype, with the values that break careless serialisation: NaN payloads, -0, infinities, extremes. */
function everyDtype(): Record<string, TypedArray> {
  const f32 = new Float32Array([0, -0, 1.5, -3.25e-38, 3.4028234663852886e38, Infinity, -Infinity, NaN, 1e-45]);
  const f64 = new Float64Array([0, -0, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, NaN]);
  new Uint32Array(f64.buffer)[13] = 0x7ff80001; // a NaN with a payload must come back bit for bit
  return {
    'segments.centroids': f32,
    'churn.coef': f64,
    'als.itemIndex': new Int32Array([0, -1, 2147483647, -2147483648, 42]),
    'als.indptr': new Uint32Array([0, 1, 4294967295, 7]),
    'segments.assignment': new Uint8Array([0, 1, 255, 7, 3]),
    'empty.f64': new Float64Array(0),
  };
}

function sampleInput(arrays: Record<string, TypedArray> = everyDtype()): PublishInput {
  return {
    models: {
      segmentation: { algorithm: 'kmeans++', params: { k: 5, seed: 42 }, metrics: { silhouette: 0.41, inertia: 1234.5 } },
      churn: { algorithm: 'logistic-l2', params: { C: 1 }, metrics: { rocAuc: 0.8, prAuc: null } },
      recommendations: { algorithm: 'als', params: { factors: 64, alpha: 40 }, metrics: { precisionAt10: 0.05 } },
    },
    data: { from: '2010-12-01', to: '2011-12-09', fingerprint: 'abc123', customers: 4372 },
    report: { cutoff: '2011-09-10', horizonDays: 90 },
    arrays,
    documents: {
      customerIndex: { '12346': 0, '12347': 1, 'ü-ñ': 2 },
      segmentNames: ['champions', 'loyal', 'at risk'],
      threshold: 0.37,
    },
    gate: { passed: true, reasons: [] },
  };
}

function bitsEqual(actual: TypedArray, expected: TypedArray, name: string): void {
  assert.equal(Object.prototype.toString.call(actual), Object.prototype.toString.call(expected), `${name}: type`);
  assert.equal(actual.length, expected.length, `${name}: length`);
  assert.deepEqual(
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength),
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    `${name}: bytes`,
  );
}

/** A clock that moves `stepMs` per reading, so publishes get distinct, ordered times. */
function steppingClock(startIso: string, stepMs: number): () => Date {
  let t = Date.parse(startIso) - stepMs;
  return () => new Date((t += stepMs));
}

async function publishMany(registry: Registry, count: number, promote = true): Promise<string[]> {
  const versions: string[] = [];
  for (let i = 0; i < count; i++) {
    versions.push((await registry.publish(sampleInput({ run: new Float64Array([i]) }), { promote })).version);
  }
  return versions;
}

describe('publish and load', () => {
  test('every dtype comes back bit for bit, each array on its own aligned buffer, documents and manifest intact', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const input = sampleInput();
    // an unaligned view into a larger buffer and an array over shared memory publish like any other
    const backing = new Float32Array(10).fill(9);
    input.arrays['view.f32'] = backing.subarray(3, 7);
    const shared = new Float64Array(new SharedArrayBuffer(3 * 8));
    shared.set([1, 2, 3]);
    input.arrays['shared.f64'] = shared;

    const published = await registry.publish(input, { promote: true });
    assert.match(published.version, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.equal(published.formatVersion, FORMAT_VERSION);
    assert.equal(published.floyoVersion, VERSION);
    assert.equal(await registry.current(), published.version);

    const loaded = await registry.load();
    assert.deepEqual(loaded.manifest, published);
    assert.deepEqual(Object.keys(loaded.arrays).sort(), Object.keys(input.arrays).sort());
    for (const [name, expected] of Object.entries(input.arrays)) {
      const actual = loaded.arrays[name];
      bitsEqual(actual, expected, name);
      assert.equal(actual.byteOffset, 0, `${name} starts its buffer`);
      assert.equal(actual.buffer.byteLength, actual.byteLength, `${name} owns a buffer of exactly its size`);
      assert.ok(actual.buffer instanceof ArrayBuffer, `${name} is on a plain ArrayBuffer`);
    }
    assert.ok(new Set(Object.values(loaded.arrays).map((a) => a.buffer)).size === Object.keys(loaded.arrays).length, 'no two arrays share a buffer');
    assert.deepEqual(loaded.documents, input.documents);
    // one document alone, without the arrays; a name the version does not have is undefined
    for (const [name, doc] of Object.entries(input.documents)) assert.deepEqual(await registry.document(name, published.version), doc, name);
    assert.equal(await registry.document('no-such-document'), undefined);
    assert.deepEqual(loaded.manifest.models, input.models);
    assert.deepEqual(loaded.manifest.data, input.data);
    assert.deepEqual(loaded.manifest.report, input.report);
    assert.deepEqual(loaded.manifest.gate, input.gate);
    assert.deepEqual(await registry.show(published.version), published);
  });

  test('the files on disk: a manifest, little-endian .bin files with their sha256, JSON documents, CURRENT', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const input = sampleInput();
    const { version, arrays, documents } = await registry.publish(input, { promote: true });

    assert.deepEqual(readdirSync(dir).sort(), [version, 'CURRENT'].sort());
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')), { version, history: [] });
    const expectedFiles = ['manifest.json', ...Object.keys(input.arrays).map((n) => `${n}.bin`), ...Object.keys(input.documents).map((n) => `${n}.json`)];
    assert.deepEqual(readdirSync(join(dir, version)).sort(), expectedFiles.sort());
    assert.equal(JSON.parse(readFileSync(join(dir, version, 'manifest.json'), 'utf8')).version, version);

    for (const entry of arrays) {
      const bytes = readFileSync(join(dir, version, entry.file));
      assert.equal(entry.file, `${entry.name}.bin`);
      assert.equal(entry.dtype, dtypeOf(input.arrays[entry.name]));
      assert.equal(entry.length, input.arrays[entry.name].length);
      assert.equal(bytes.length, entry.bytes);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256);
    }
    // read back with explicit little-endian decoding, independent of the host's byte order
    const coef = readFileSync(join(dir, version, 'churn.coef.bin'));
    const view = new DataView(coef.buffer, coef.byteOffset, coef.byteLength);
    assert.equal(view.getFloat64(2 * 8, true), Math.PI);
    assert.equal(view.getUint32(13 * 4, true), 0x7ff80001);
    const index = readFileSync(join(dir, version, 'als.itemIndex.bin'));
    assert.equal(new DataView(index.buffer, index.byteOffset).getInt32(2 * 4, true), 2147483647);

    for (const entry of documents) {
      const bytes = readFileSync(join(dir, version, entry.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256);
      assert.deepEqual(JSON.parse(bytes.toString('utf8')), input.documents[entry.name]);
    }
  });

  test('on a big-endian host arrays are swapped to little-endian when written and back when read', async () => {
    const values = new Float64Array([Math.PI, -1, 2 ** 40]);
    const ints = new Int32Array([1, -2, 0x01020304]);
    const asBigEndianMemory = (array: TypedArray): TypedArray => {
      const copy = array.slice();
      swapByteOrder(new Uint8Array(copy.buffer), copy.BYTES_PER_ELEMENT);
      return copy;
    };
    const dir = tempDir();
    const bigEndian = openRegistry(dir, undefined, { hostEndianness: 'BE' });
    const { version } = await bigEndian.publish(
      { ...sampleInput({}), arrays: { values: asBigEndianMemory(values), ints: asBigEndianMemory(ints), bytes: new Uint8Array([1, 2, 3]) } },
      { promote: true },
    );
    // the file holds the values in little-endian order, as one written on a little-endian host would
    const file = readFileSync(join(dir, version, 'values.bin'));
    assert.deepEqual([0, 1, 2].map((i) => file.readDoubleLE(i * 8)), [...values]);
    assert.equal(readFileSync(join(dir, version, 'ints.bin')).readInt32LE(8), 0x01020304);
    // a little-endian host reads the plain values; a big-endian one gets big-endian memory
    bitsEqual((await openRegistry(dir).load()).arrays.values, values, 'values on LE');
    const onBigEndian = await bigEndian.load();
    bitsEqual(onBigEndian.arrays.values, asBigEndianMemory(values), 'values on BE');
    bitsEqual(onBigEndian.arrays.ints, asBigEndianMemory(ints), 'ints on BE');
    bitsEqual(onBigEndian.arrays.bytes, new Uint8Array([1, 2, 3]), 'bytes on BE');
  });

  test('swapByteOrder reverses each element', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapByteOrder(bytes, 4);
    assert.deepEqual([...bytes], [4, 3, 2, 1, 8, 7, 6, 5]);
    swapByteOrder(bytes, 8);
    assert.deepEqual([...bytes], [5, 6, 7, 8, 1, 2, 3, 4]);
    swapByteOrder(bytes, 1);
    assert.deepEqual([...bytes], [5, 6, 7, 8, 1, 2, 3, 4]);
  });

  test('refuses what it cannot store faithfully, before writing anything', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const bad: Array<[Partial<PublishInput>, RegExp]> = [
      [{ arrays: { x: new Int16Array(3) as unknown as TypedArray } }, /array "x" is a Int16Array; allowed: Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array/],
      [{ arrays: { x: [1, 2] as unknown as TypedArray } }, /array "x" is a Array; allowed/],
      [{ arrays: { '../escape': new Float32Array(1) } }, /array name "\.\.\/escape" is not allowed/],
      [{ arrays: { '': new Float32Array(1) } }, /array name "" is not allowed/],
      [{ documents: { manifest: {} } }, /document "manifest" would be stored as manifest\.json, which is taken/],
      [{ arrays: { a: new Float32Array(1), A: new Float32Array(1) } }, /array "A" would be stored as A\.bin, which is taken/],
      [{ documents: { big: { n: 1n } } }, /document "big" cannot be written as JSON: .*BigInt/],
      [{ documents: { nothing: undefined } }, /document "nothing" cannot be written as JSON \(it is undefined\)/],
      [{ models: { churn: { algorithm: 'logistic', params: {}, metrics: { auc: 'high' as unknown as number } } } }, /the manifest is invalid: models\.churn\.metrics\.auc/],
    ];
    for (const [change, pattern] of bad) {
      await assert.rejects(registry.publish({ ...sampleInput({}), documents: {}, ...change }, { promote: true }), floyoError(pattern, escape(dir)));
    }
    assert.equal(existsSync(dir) ? readdirSync(dir).length : 0, 0, 'nothing was written');
    assert.equal(await registry.current(), null);
  });

  test('non-finite metrics are stored as null, as JSON can say', async () => {
    const registry = openRegistry(tempDir());
    const input = sampleInput({});
    input.models.churn.metrics.rocAuc = NaN;
    const published = await registry.publish(input, { promote: false });
    assert.equal(published.models.churn.metrics.rocAuc, null);
    assert.equal((await registry.show(published.version)).models.churn.metrics.rocAuc, null);
  });

  test('an empty or missing registry folder: nothing listed, nothing current, and load says what to do', async () => {
    const registry = openRegistry(join(tempDir(), 'not-yet'));
    assert.deepEqual(await registry.list(), []);
    assert.equal(await registry.current(), null);
    await assert.rejects(registry.load(), floyoError(/no model version is current in .*not-yet: run floyo train, or floyo models promote <version>/));
    await assert.rejects(registry.show(), floyoError(/no model version is current/));
    await assert.rejects(registry.load('20250101T000000Z-00000000'), floyoError(/no model version 20250101T000000Z-00000000 in .*not-yet; it holds no versions/));
    await assert.rejects(registry.load('../etc'), floyoError(/"\.\.\/etc" is not a model version name/));
  });

  test('locations: a relative path resolves, file:// URLs work, the home default is <home>/models', async () => {
    const dir = tempDir();
    assert.equal(openRegistry(pathToFileURL(dir).href).location, dir);
    assert.equal(openRegistry('some/relative').location, join(process.cwd(), 'some/relative'));
    assert.equal(defaultRegistryLocation('/home/shop/.floyo'), '/home/shop/.floyo/models');
    assert.throws(() => openRegistry('  '), floyoError(/location is empty/));
  });
});

describe('corrupted and truncated artifacts are refused', () => {
  async function published(): Promise<{ dir: string; registry: Registry; version: string }> {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const { version } = await registry.publish(sampleInput(), { promote: true });
    return { dir, registry, version };
  }

  test('a flipped byte: checksum mismatch, naming the version and the file', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'churn.coef.bin');
    const bytes = readFileSync(path);
    bytes[17] ^= 0x01;
    writeFileSync(path, bytes);
    await assert.rejects(
      registry.load(),
      floyoError(escape(`model version ${version} in ${dir}: churn.coef.bin is corrupted: its sha256 is ${createHash('sha256').update(bytes).digest('hex')}, the manifest says `)),
    );
    await assert.rejects(registry.promote(version), floyoError(/churn\.coef\.bin is corrupted/), 'promote verifies too');
  });

  test('a truncated array, a too-long array, a missing array', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'segments.centroids.bin');
    const full = readFileSync(path);
    truncateSync(path, 20);
    await assert.rejects(
      registry.load(version),
      floyoError(escape(`model version ${version} in ${dir}: segments.centroids.bin is truncated: 20 bytes, the manifest says 36 (9 float32 values)`)),
    );
    writeFileSync(path, Buffer.concat([full, Buffer.from([0])]));
    await assert.rejects(registry.load(version), floyoError(/segments\.centroids\.bin is too long: 37 bytes, the manifest says 36/));
    rmSync(path);
    await assert.rejects(registry.load(version), floyoError(escape(`model version ${version} in ${dir}: segments.centroids.bin is missing`)));
  });

  test('a corrupted or truncated document', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'customerIndex.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.replace('12346', '12345'));
    await assert.rejects(registry.load(), floyoError(/customerIndex\.json is corrupted: its sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/));
    await assert.rejects(registry.document('customerIndex'), floyoError(/customerIndex\.json is corrupted/), 'read alone, a document is checked as in load');
    writeFileSync(path, text.slice(0, -3));
    await assert.rejects(registry.load(), floyoError(/customerIndex\.json is truncated: \d+ bytes, the manifest says \d+ \(JSON\)/));
  });

  test('an unparseable, invalid or misplaced manifest', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'manifest.json');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.slice(0, original.length / 2));
    const prefix = escape(`model version ${version} in ${dir}: manifest.json `);
    await assert.rejects(registry.load(), floyoError(prefix, /is not valid JSON \(/));
    await assert.rejects(registry.show(), floyoError(prefix, /is not valid JSON/));

    const manifest = JSON.parse(original);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- poking at arbitrary manifest fields
    const broken = (change: (m: Record<string, any>) => void) => {
      const copy = structuredClone(manifest);
      change(copy);
      writeFileSync(path, JSON.stringify(copy));
    };
    broken((m) => (m.arrays[0].sha256 = 'not-hex'));
    await assert.rejects(registry.load(), floyoError(prefix, /is invalid: arrays\.0\.sha256: must be 64 lowercase hex digits/));
    broken((m) => (m.arrays[1].file = '../../etc/passwd'));
    await assert.rejects(registry.load(), floyoError(/is invalid: arrays\.1\.file: must be a plain file name/));
    broken((m) => (m.arrays[0].bytes += 4));
    await assert.rejects(registry.load(), floyoError(/is invalid: arrays\.0 \("segments\.centroids"\) says 9 float32 values but 40 bytes/));
    broken((m) => (m.documents[0].file = 'manifest.json'));
    await assert.rejects(registry.load(), floyoError(/uses the file name "manifest\.json" twice or for the manifest/));
    broken((m) => delete m.formatVersion);
    await assert.rejects(registry.load(), floyoError(/has no valid formatVersion \(got nothing\)/));
    // a valid manifest of another version (a folder renamed by hand): resealed, so only the name is wrong
    writeFileSync(path, manifestFile({ ...manifest, version: '20000101T000000Z-ffffffff' }));
    await assert.rejects(registry.load(), floyoError(/belongs to version 20000101T000000Z-ffffffff, not to the folder it is in/));
    writeFileSync(path, original);
    await registry.load();
  });

  test('the manifest checks itself: a flipped digit in a metric, the data window or the checksum is refused', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'manifest.json');
    const original = readFileSync(path, 'utf8');
    const prefix = escape(`model version ${version} in ${dir}: manifest.json `);
    const manifest = JSON.parse(original);
    assert.match(manifest.manifestSha256, /^[0-9a-f]{64}$/);
    const flips: Array<[string, RegExp]> = [];
    // one bit of one character, leaving valid JSON: what a bad disk or a careless edit does
    const at = original.indexOf('"horizonDays": ') + '"horizonDays": '.length;
    flips.push([original.slice(0, at) + String.fromCharCode(original.charCodeAt(at) ^ 1) + original.slice(at + 1), /is corrupted: the sha256 of its content is [0-9a-f]{64}, it says/]);
    const hex = original.indexOf(manifest.manifestSha256);
    flips.push([original.slice(0, hex) + (original[hex] === 'a' ? 'b' : 'a') + original.slice(hex + 1), /is corrupted/]);
    // the format itself: 1 → 0 would otherwise drop the documents and read on as an old version
    const format = original.indexOf('"formatVersion": 1') + '"formatVersion": '.length;
    flips.push([original.slice(0, format) + '0' + original.slice(format + 1), /is corrupted/]);
    // 1 → 3: not a newer Floyo, since the sum does not match and the Floyo that wrote it writes format 1
    flips.push([original.slice(0, format) + '3' + original.slice(format + 1), /is corrupted: its content does not match its manifestSha256 \(it says format 3, which Floyo \d+\.\d+\.\d+ does not write\);/]);
    // said to come from a newer Floyo, a sum this one does not match may be that Floyo's other way of summing
    const newer = original.slice(0, format) + '3' + original.slice(format + 1).replace(/"floyoVersion": "[^"]*"/, '"floyoVersion": "99.0.0"');
    flips.push([newer, /is corrupted \(its content does not match its manifestSha256\), or was written by a newer Floyo \(format 3\), which this one cannot tell/]);
    // the field's name: then the manifest says it was written by a Floyo that writes one
    flips.push([original.replace('"manifestSha256"', '"manifestSha257"'), /is invalid: manifestSha256 is missing, and Floyo \d+\.\d+\.\d+ writes one/]);
    for (const [text, expected] of flips) {
      assert.notEqual(text, original);
      writeFileSync(path, text);
      await assert.rejects(registry.load(), floyoError(prefix, expected));
      await assert.rejects(registry.show(), floyoError(prefix, expected));
    }
    // the same content in other whitespace is the same manifest
    writeFileSync(path, JSON.stringify(manifest));
    await registry.load();
    // a manifest of a Floyo before 0.2.0 has no sum, and loads as it is; from 0.2.0 on (pre-releases and
    // builds too) one without a sum is refused
    const { manifestSha256: _, ...unsummed } = manifest;
    for (const floyoVersion of ['0.1.0', '0.1.5-rc.1', '0.1.0+build.7', '0.0.1']) {
      writeFileSync(path, JSON.stringify({ ...unsummed, floyoVersion }, null, 2));
      assert.equal((await registry.load()).manifest.manifestSha256, undefined, floyoVersion);
    }
    for (const floyoVersion of ['0.2.0', '0.2.0-beta', '0.10.0', '1.0.0', 'unknown']) {
      writeFileSync(path, JSON.stringify({ ...unsummed, floyoVersion }, null, 2));
      await assert.rejects(registry.load(), floyoError(/manifestSha256 is missing/), floyoVersion);
    }
  });

  test('a "format 2" manifest of the development builds before 0.2.0 (format 1 with its sum) loads as format 1', async () => {
    const { dir, registry, version } = await published();
    const path = join(dir, version, 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, manifestFile({ ...manifest, formatVersion: 2, floyoVersion: '0.1.0' }));
    const loaded = await registry.load();
    assert.equal(loaded.manifest.formatVersion, 1);
    assert.equal(loaded.manifest.upgradedFrom, 2);
    assert.equal((await registry.show()).floyoVersion, '0.1.0');
    // the same from a Floyo after 0.2.0 would be a newer format, and with a broken sum it is damage
    writeFileSync(path, manifestFile({ ...manifest, formatVersion: 2, floyoVersion: '0.3.0' }));
    await assert.rejects(registry.load(), /was written by a newer Floyo \(format 2\)/);
    writeFileSync(path, manifestFile({ ...manifest, formatVersion: 2, floyoVersion: '0.1.0' }).toString().replace(/("manifestSha256": ")(.)/, (_, k: string, c: string) => k + (c === 'a' ? 'b' : 'a')));
    await assert.rejects(registry.load(), /is corrupted/);
  });

  test('an unreadable CURRENT is reported, not taken for "nothing current"; list still lists and promote rewrites it', async () => {
    const { dir, registry, version } = await published();
    writeFileSync(join(dir, 'CURRENT'), '{"version": ');
    await assert.rejects(registry.current(), floyoError(escape(join(dir, 'CURRENT')), /is not valid JSON .*promote a version to rewrite it/));
    await assert.rejects(registry.rollback(), floyoError(/is not valid JSON .*promote a version to rewrite it/));
    writeFileSync(join(dir, 'CURRENT'), '{"version": "../x", "history": []}');
    await assert.rejects(registry.current(), floyoError(/CURRENT is invalid: expected \{ "version": "\.\.\.", "history": \[\.\.\.\] \}; promote a version to rewrite it/));
    assert.deepEqual(await registry.inspectCurrent(), { version: null, damaged: `${join(dir, 'CURRENT')} is invalid: expected { "version": "...", "history": [...] }`, gone: null });
    assert.deepEqual((await registry.list()).map((v) => [v.version, v.current]), [[version, false]]);
    await registry.promote(version);
    assert.equal(await registry.current(), version);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')), { version, history: [] });
  });

  test('list() still lists the other versions and says what is wrong with a broken one', async () => {
    const { dir, registry, version } = await published();
    const other = (await registry.publish(sampleInput(), { promote: false })).version;
    writeFileSync(join(dir, other, 'manifest.json'), 'garbage');
    const listed = await registry.list();
    assert.deepEqual(listed.map((v) => v.version), [version, other]);
    assert.match(listed[1].error ?? '', /manifest\.json is not valid JSON/);
    assert.equal(listed[0].error, undefined);
  });
});

describe('atomic publish', () => {
  async function twoVersions(options: RegistryOptions = {}) {
    const dir = tempDir();
    const registry = openRegistry(dir, undefined, options);
    const [first] = await publishMany(registry, 1);
    return { dir, registry, first };
  }

  test('a write that fails mid-publish leaves the previous version current, lists nothing new, leaves nothing behind', async () => {
    // fail at every write in turn: each data file, then the manifest
    const input = sampleInput();
    const dataFiles = Object.keys(input.arrays).length + Object.keys(input.documents).length;
    for (let failAt = 0; failAt <= dataFiles; failAt++) {
      let writes = -1;
      const failure = new Error(`disk full at write ${failAt}`);
      const dir = tempDir();
      const registry = openRegistry(dir, undefined, {
        beforeWrite: () => {
          if (writes >= 0 && writes++ === failAt) throw failure;
        },
      });
      const [first] = await publishMany(registry, 1);
      const before = await registry.list();
      writes = 0;
      await assert.rejects(registry.publish(input, { promote: true }), (err) => err === failure);
      assert.equal(await registry.current(), first, `failAt ${failAt}: current`);
      assert.deepEqual(await registry.list(), before, `failAt ${failAt}: list`);
      assert.deepEqual(readdirSync(dir).sort(), [first, 'CURRENT'].sort(), `failAt ${failAt}: the partial version was removed`);
      bitsEqual((await registry.load()).arrays.run, new Float64Array([0]), 'previous version loads');
    }
  });

  test('a failure writing CURRENT leaves the new version complete and listed, but the previous one current', async () => {
    let failCurrent = false;
    const { dir, registry, first } = await twoVersions({
      beforeWrite: (file) => {
        if (failCurrent && file === 'CURRENT') throw new Error('power cut');
      },
    });
    failCurrent = true;
    await assert.rejects(registry.publish(sampleInput(), { promote: true }), /power cut/);
    assert.equal(await registry.current(), first);
    const listed = await registry.list();
    assert.equal(listed.length, 2);
    assert.deepEqual(listed.map((v) => [v.current, v.promoted]), [[false, false], [true, true]]);
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('.')).length, 0, 'no temporary file left');
    failCurrent = false;
    await registry.promote(listed[0].version);
    assert.equal(await registry.current(), listed[0].version);
  });

  test('a process killed at any point of a publish leaves the previous version current and loadable', async () => {
    // the real thing: a child process publishes and is SIGKILLed just before its Nth write
    const base = tempDir();
    const { version: first } = await openRegistry(base).publish(sampleInput(), { promote: true });
    // the script writes 3 arrays and 2 documents (writes 0–4), its manifest (5), CURRENT (6); one process
    // per kill point is slow to start, so kill before the first, a middle and the last data file, the
    // manifest and CURRENT (the in-process test above fails at every write)
    const killPoints = [0, 2, 4, 5, 6];
    const script = join(tempDir(), 'crash.mjs');
    writeFileSync(
      script,
      `import { openRegistry } from ${JSON.stringify(REGISTRY_MODULE)};
const [dir, killAt] = process.argv.slice(2);
let writes = 0;
const registry = openRegistry(dir, undefined, { beforeWrite: () => { if (writes++ === Number(killAt)) process.kill(process.pid, 'SIGKILL'); } });
const f32 = new Float32Array(1 << 16).fill(1.25);
await registry.publish({ models: {}, data: {}, report: {}, arrays: { a: f32, b: new Float64Array(8), c: new Int32Array(3) }, documents: { d: { x: 1 }, e: [1] } }, { promote: true });
console.log('published');
`,
    );
    const crashes = killPoints.map(async (killAt) => {
      const dir = join(tempDir(), `crash-${killAt}`);
      cpSync(base, dir, { recursive: true });
      const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(killAt)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const signal = await new Promise((resolve) => child.on('close', (code, sig) => resolve(sig ?? code)));
      return { killAt, dir, signal, stderr };
    });
    for (const { killAt, dir, signal, stderr } of await Promise.all(crashes)) {
      const registry = openRegistry(dir);
      const listed = await registry.list();
      if (killAt < 6) {
        // killed before one of the data files or the manifest
        assert.equal(signal, 'SIGKILL', `killAt ${killAt}: ${stderr}`);
        assert.equal(await registry.current(), first, `killAt ${killAt}: current`);
        assert.deepEqual(listed.map((v) => v.version), [first], `killAt ${killAt}: list`);
        await registry.load();
        const partial = readdirSync(dir).filter((name) => name !== 'CURRENT' && name !== first);
        assert.equal(partial.length, 1, 'the killed publish left its partial folder (no cleanup runs on SIGKILL)');
        assert.equal(existsSync(join(dir, partial[0], 'manifest.json')), false);
        await assert.rejects(registry.load(partial[0]), floyoError(/is incomplete: manifest\.json is missing \(a publish was interrupted/));
        await assert.rejects(registry.promote(partial[0]), floyoError(/is incomplete/));
      } else {
        // killed just before CURRENT: the new version is complete but not current
        assert.equal(signal, 'SIGKILL', stderr);
        assert.equal(await registry.current(), first);
        assert.equal(listed.length, 2);
        assert.equal(listed[0].current, false);
        const loaded = await registry.load(listed[0].version);
        assert.equal(loaded.arrays.a.length, 1 << 16);
      }
    }
  });
});

test('a publish cleans up what publishes killed more than a day earlier left, never one under way', async () => {
  const dir = tempDir();
  const registry = openRegistry(dir, undefined, { now: steppingClock('2026-12-07T12:00:00Z', 1000) });
  // as a killed publish leaves them: data files, no manifest
  for (const name of ['20261205T120000Z-0badc0de', '20261207T110000Z-0badbeef']) {
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'als.userFactors.bin'), Buffer.alloc(64));
  }
  const { version } = await registry.publish(sampleInput(), { promote: true });
  assert.deepEqual(readdirSync(dir).sort(), ['20261207T110000Z-0badbeef', version, 'CURRENT'].sort(),
    'two days old: removed; an hour old (maybe a publish in another home): kept');
});

describe('promote, rollback, list', () => {
  test('list is newest first (also within one second), marks current and promoted, carries gate and metrics', async () => {
    const registry = openRegistry(tempDir(), undefined, { now: steppingClock('2026-11-25T03:15:00.100Z', 200) });
    const [a, b, c, d] = await publishMany(registry, 4, false);
    for (const v of [a, b, c, d]) assert.match(v, /^20261125T031500Z-[0-9a-f]{8}$/); // all in the same second
    await registry.promote(a);
    await registry.promote(c);
    const listed = await registry.list();
    assert.deepEqual(listed.map((v) => v.version), [d, c, b, a]);
    assert.deepEqual(listed.map((v) => v.createdAt), ['2026-11-25T03:15:00.700Z', '2026-11-25T03:15:00.500Z', '2026-11-25T03:15:00.300Z', '2026-11-25T03:15:00.100Z']);
    assert.deepEqual(listed.map((v) => v.current), [false, true, false, false]);
    assert.deepEqual(listed.map((v) => v.promoted), [false, true, false, true]);
    assert.deepEqual(listed[0].gate, { passed: true, reasons: [] });
    assert.deepEqual(listed[0].models.churn, { algorithm: 'logistic-l2', metrics: { rocAuc: 0.8, prAuc: null } });
    assert.equal('params' in listed[0].models.churn, false);
  });

  test('a publish expecting the version its gate compared with is not made current when another process changed CURRENT meanwhile', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const other = openRegistry(dir); // another home's process on the same registry
    const [, b] = await publishMany(registry, 2);
    // compared with b, which is current: promoted
    const c = (await registry.publish(sampleInput(), { promote: true, expectCurrent: b })).version;
    assert.equal(await registry.current(), c);
    // compared with c, but the other process rolls back to b while this version is being written
    const error = await registry.publish(sampleInput(), { promote: true, expectCurrent: c, beforeCurrent: () => other.rollback().then(() => undefined) }).then(
      () => assert.fail('published as current'),
      (err: unknown) => err as FloyoError,
    );
    assert.equal(error.exitCode, 3);
    assert.match(error.message, new RegExp(`^model version (\\S+) was published to .* but not made current: ${b} became current meanwhile \\(another Floyo process using this registry\\), and this one was compared with ${c}\\. floyo models list shows both; floyo models promote \\1 serves this one$`));
    assert.equal(await registry.current(), b, "the other process's choice stands");
    assert.equal((await registry.list()).length, 4, 'the version is complete and listed');
    // a first version expects nothing current
    const fresh = openRegistry(tempDir());
    await fresh.publish(sampleInput(), { promote: true, expectCurrent: null });
    assert.notEqual(await fresh.current(), null);
  });

  test('promote remembers the previous versions; rollback walks back through them; errors say why', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir, undefined, { now: steppingClock('2026-01-01T00:00:00Z', 60_000) });
    await assert.rejects(registry.rollback(), floyoError(/nothing to roll back in .*: no version has been promoted/));
    const [v1, v2, v3] = await publishMany(registry, 3, true);
    const v4 = (await registry.publish(sampleInput(), { promote: false })).version;
    assert.equal(await registry.current(), v3);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')), { version: v3, history: [v2, v1] });

    await registry.promote(v4);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')), { version: v4, history: [v3, v2, v1] });
    await registry.promote(v4); // already current: nothing changes
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')).history, [v3, v2, v1]);

    assert.equal(await registry.rollback(), v3);
    assert.equal(await registry.current(), v3);
    assert.deepEqual((await registry.list()).map((v) => [v.version, v.current, v.promoted]), [
      [v4, false, false],
      [v3, true, true],
      [v2, false, true],
      [v1, false, true],
    ]);
    // promoting one from the history moves it to the front, once
    await registry.promote(v1);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'CURRENT'), 'utf8')), { version: v1, history: [v3, v2] });
    assert.equal(await registry.rollback(), v3);
    assert.equal(await registry.rollback(), v2);
    bitsEqual((await registry.load()).arrays.run, new Float64Array([1]), 'v2 data');
    await assert.rejects(registry.rollback(), floyoError(escape(`cannot roll back in ${dir}: ${v2} is current and no version was current before it`)));

    await assert.rejects(registry.promote('20990101T000000Z-deadbeef'), floyoError(escape(`no model version 20990101T000000Z-deadbeef in ${dir}; versions there, newest first: ${v4}, ${v3}, ${v2}, ${v1}`)));
    await assert.rejects(registry.promote('nope/../x'), floyoError(/is not a model version name/));
    assert.equal(await registry.current(), v2);
  });

  test('rollback refuses a previous version that no longer loads, and changes nothing', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir);
    const [v1, v2] = await publishMany(registry, 2, true);
    rmSync(join(dir, v1, 'run.bin'));
    await assert.rejects(registry.rollback(), floyoError(escape(`cannot roll back to ${v1}: model version ${v1} in ${dir}: run.bin is missing`)));
    assert.equal(await registry.current(), v2);
  });
});

describe('prune', () => {
  test('keeps the newest N, the current one and the one rollback returns to; never rewrites CURRENT; --dry-run changes nothing', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir, undefined, { now: steppingClock('2026-03-01T00:00:00Z', 60_000) });
    const [v1, v2, v3, v4, v5] = await publishMany(registry, 5, true);
    assert.equal(await registry.rollback(), v4);
    assert.equal(await registry.rollback(), v3); // current: v3, history [v2, v1]; v5 and v4 are newer
    // what a publish killed days ago (or a removal cut short) left: no manifest
    const leftover = '20260225T000000Z-0badbeef';
    mkdirSync(join(dir, leftover));
    writeFileSync(join(dir, leftover, 'run.bin'), 'x');
    const before = readFileSync(join(dir, 'CURRENT'), 'utf8');
    const size = (await registry.list()).find((v) => v.version === v1)!.bytes;
    assert.ok(size > 0);

    const planned = await registry.prune(2, { dryRun: true });
    assert.deepEqual(planned, { keep: 2, removed: [v1], bytesRemoved: size, kept: [v5, v4, v3, v2], unreadable: [], rollbackTo: v2 });
    assert.equal((await registry.list()).length, 5);
    assert.ok(existsSync(join(dir, leftover)), 'a dry run removes nothing');

    assert.deepEqual(await registry.prune(2), planned);
    assert.deepEqual(readdirSync(dir).sort(), [v2, v3, v4, v5, 'CURRENT'].sort());
    assert.equal(readFileSync(join(dir, 'CURRENT'), 'utf8'), before, 'CURRENT is not written: a promote elsewhere is never undone');
    assert.deepEqual((await registry.prune(2)).removed, [], 'nothing more to do');
    // rollback passes over the removed version
    assert.equal(await registry.rollback(), v2);
    bitsEqual((await registry.load()).arrays.run, new Float64Array([1]), 'v2 loads');
    await assert.rejects(registry.rollback(), floyoError(escape(`cannot roll back in ${dir}: ${v2} is current and the versions current before it were removed (floyo models prune)`)));
  });

  test('a version kept back by the gate counts among the newest; an unreadable one is left alone, and rollback does not pass over it', async () => {
    const dir = tempDir();
    const registry = openRegistry(dir, undefined, { now: steppingClock('2026-03-01T00:00:00Z', 60_000) });
    const [v1, v2, v3, v4] = await publishMany(registry, 4, true); // current v4, history [v3, v2, v1]
    const v5 = (await registry.publish(sampleInput(), { promote: false })).version; // kept back by its gate
    writeFileSync(join(dir, v1, 'manifest.json'), '{ not json');
    const r = await registry.prune(1);
    assert.deepEqual(r.removed, [v2]);
    assert.deepEqual(r.kept, [v5, v4, v3]);
    assert.deepEqual(r.unreadable.map((u) => u.version), [v1]);
    assert.match(r.unreadable[0].error, /manifest\.json is not valid JSON/);
    assert.equal(r.rollbackTo, v3);
    assert.ok(existsSync(join(dir, v1, 'run.bin')));
    assert.equal(await registry.rollback(), v3);
    // past the removed v2 is v1, damaged: refused by name, not passed over
    await assert.rejects(registry.rollback(), floyoError(escape(`cannot roll back to ${v1}:`), /not valid JSON/));

    await assert.rejects(registry.prune(0), floyoError(/whole number of at least 1, got 0/));
    writeFileSync(join(dir, 'CURRENT'), 'garbage');
    await assert.rejects(registry.prune(1), floyoError(/CURRENT is not valid JSON/));
    assert.deepEqual(readdirSync(dir).sort(), [v1, v3, v4, v5, 'CURRENT'].sort(), 'a damaged CURRENT: nothing removed');
  });
});

describe('older and newer formats', () => {
  // A version as Floyo 0.0.1 wrote it (format 0: arrays only, no documents, no gate), kept byte for byte.
  const OLD_VERSION = '20240301T120000Z-0a1b2c3d';
  const OLD_FILES: Record<string, Buffer> = {
    'weights.bin': Buffer.from('000000000000f83f00000000000000c0000000000000d03f', 'hex'), // float64 [1.5, -2, 0.25]
    'index.bin': Buffer.from('07000000ffffffff00000100', 'hex'), // int32 [7, -1, 65536]
  };
  const OLD_MANIFEST = {
    formatVersion: 0,
    floyoVersion: '0.0.1',
    version: OLD_VERSION,
    createdAt: '2024-03-01T12:00:00.000Z',
    models: { churn: { algorithm: 'logistic-l2', params: { C: 1 }, metrics: { rocAuc: 0.77 } } },
    data: { from: '2023-01-01', to: '2024-02-29' },
    report: {},
    arrays: [
      { name: 'weights', dtype: 'float64', length: 3, bytes: 24, sha256: 'b33514c4483c8e88cbb58b9f60fab3ab5ed240e986a213346888c9a53d63c4d5', file: 'weights.bin' },
      { name: 'index', dtype: 'int32', length: 3, bytes: 12, sha256: 'da63b660388147bfa8d38cf4e3939166d9d1186008bd1da3cb24028cb99787c3', file: 'index.bin' },
    ],
  };

  function writeOldVersion(dir: string, manifest: object = OLD_MANIFEST): void {
    mkdirSync(join(dir, OLD_VERSION), { recursive: true });
    for (const [file, bytes] of Object.entries(OLD_FILES)) writeFileSync(join(dir, OLD_VERSION, file), bytes);
    writeFileSync(join(dir, OLD_VERSION, 'manifest.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(dir, 'CURRENT'), JSON.stringify({ version: OLD_VERSION, history: [] }));
  }

  test('a format-0 version written by an older Floyo loads, upgraded, and can be rolled back to', async () => {
    const dir = tempDir();
    writeOldVersion(dir);
    const registry = openRegistry(dir);
    const loaded = await registry.load();
    assert.deepEqual([...(loaded.arrays.weights as Float64Array)], [1.5, -2, 0.25]);
    assert.deepEqual([...(loaded.arrays.index as Int32Array)], [7, -1, 65536]);
    assert.deepEqual(loaded.documents, {});
    assert.equal(loaded.manifest.formatVersion, FORMAT_VERSION);
    assert.equal(loaded.manifest.upgradedFrom, 0);
    assert.deepEqual(loaded.manifest.documents, []);
    assert.equal(loaded.manifest.gate, undefined);
    assert.equal(loaded.manifest.floyoVersion, '0.0.1');

    const { version } = await registry.publish(sampleInput(), { promote: true });
    assert.deepEqual((await registry.list()).map((v) => v.version), [version, OLD_VERSION]);
    assert.equal(await registry.rollback(), OLD_VERSION);
    assert.equal((await registry.show()).upgradedFrom, 0);
  });

  test('upgradeManifest checks a format-0 manifest against format 0', () => {
    const withoutArrays: Record<string, unknown> = { ...OLD_MANIFEST };
    delete withoutArrays.arrays;
    assert.throws(() => upgradeManifest(withoutArrays), floyoError(/is invalid: arrays: /));
    assert.equal(upgradeManifest(structuredClone(OLD_MANIFEST)).upgradedFrom, 0);
  });

  test('a version written by a newer Floyo is refused, saying so', async () => {
    const dir = tempDir();
    writeOldVersion(dir, { ...OLD_MANIFEST, formatVersion: FORMAT_VERSION + 1, somethingNew: true });
    const registry = openRegistry(dir);
    const message = escape(
      `model version ${OLD_VERSION} in ${dir}: manifest.json was written by a newer Floyo (format ${FORMAT_VERSION + 1}); this Floyo reads up to ${FORMAT_VERSION}`,
    );
    await assert.rejects(registry.load(), floyoError(message));
    await assert.rejects(registry.show(OLD_VERSION), floyoError(message));
    await assert.rejects(registry.promote(OLD_VERSION), floyoError(message));
    const [listed] = await registry.list();
    assert.equal(listed.version, OLD_VERSION);
    assert.match(listed.error ?? '', /written by a newer Floyo/);
  });
});

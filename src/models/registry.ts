// The registry of model versions: where `floyo train` publishes and everything that scores reads.
//
// Layout (a local folder or an s3://bucket/prefix, the same either way):
//   <location>/<version>/manifest.json   what the version holds, with a sha256 and length per file;
//                                         its presence marks the version complete
//   <location>/<version>/<name>.bin       one typed array, little-endian, nothing else in the file
//   <location>/<version>/<name>.json      one JSON document (id → index maps, segment names, ...)
//   <location>/CURRENT                    { version, history }: the version served, and the ones
//                                         served before it (most recent first) for rollback
//
// Publishing writes the data files, then the manifest, then CURRENT, each step only after the one
// before succeeded. A crash at any point leaves CURRENT naming the previous version, and a version
// whose manifest never got written is invisible. Reading verifies the manifest against its own sha256
// and every file against the manifest, so a corrupted or truncated artifact is refused instead of
// silently serving wrong numbers.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createS3Client, formatS3Url, listS3Objects, parseS3Url, s3Error } from '../data/s3.js';
import type { S3ClientOptions, S3Settings } from '../data/s3.js';
import { BUSY_EXIT, CurrentVersionDamaged, CurrentVersionGone, FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { VERSION } from '../version.js';

/**
 * The manifest format this Floyo writes and the newest it reads.
 *   0: arrays only (no `documents`, no `gate`)
 *   1: adds `documents` (JSON files beside the arrays) and the optional quality `gate`; from Floyo 0.2.0
 *      also `manifestSha256`, the sha256 of the manifest's own content, so that a flipped metric, data
 *      window or checksum in it is refused like a flipped array (older releases ignore the field, so a
 *      registry shared with them keeps working: no new format)
 */
export const FORMAT_VERSION = 1;

/** The first Floyo that writes `manifestSha256`: a manifest it (or a later one) wrote without one is damaged. */
const CHECKSUMMED_SINCE = [0, 2, 0];

export type ArrayDtype = 'float32' | 'float64' | 'int32' | 'uint32' | 'uint8';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

export interface ArrayEntry {
  name: string;
  dtype: ArrayDtype;
  /** number of elements */
  length: number;
  /** size of the file: length × bytes per element */
  bytes: number;
  /** of the file's bytes (little-endian), hex */
  sha256: string;
  /** file name inside the version's folder */
  file: string;
}

export interface DocumentEntry {
  name: string;
  bytes: number;
  sha256: string;
  file: string;
}

export interface ModelInfo {
  algorithm: string;
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
}

export interface Manifest {
  formatVersion: number;
  floyoVersion: string;
  /** sortable by time: `20261125T031500Z-1a2b3c4d` (UTC second, then 8 random hex digits) */
  version: string;
  /** ISO 8601 with milliseconds; orders versions published within the same second */
  createdAt: string;
  models: Record<string, ModelInfo>;
  data: Record<string, unknown>;
  report: Record<string, unknown>;
  arrays: ArrayEntry[];
  documents: DocumentEntry[];
  /** reasons: why it failed; notes: what it could not compare, and why (e.g. a different churn horizon) */
  gate?: { passed: boolean; reasons: string[]; notes?: string[] };
  /** sha256 of the manifest file's content without this field (Floyo 0.2.0 on); absent in older manifests */
  manifestSha256?: string;
  /** set when reading a manifest stored in an older format (never written): the format on disk */
  upgradedFrom?: number;
}

export interface PublishOptions {
  promote: boolean;
  /** with promote: what CURRENT must still name (null: nothing), else the version is left listed, not current (exit 3) */
  expectCurrent?: string | null;
  /** with promote: run after the version is complete, before CURRENT is written */
  beforeCurrent?: (version: string) => Promise<void>;
}

export interface PublishInput {
  models: Manifest['models'];
  data: Manifest['data'];
  report: Manifest['report'];
  arrays: Record<string, TypedArray>;
  documents: Record<string, unknown>;
  gate?: Manifest['gate'];
}

export interface LoadedModels {
  manifest: Manifest;
  /** each backed by its own, exactly sized ArrayBuffer (byteOffset 0) */
  arrays: Record<string, TypedArray>;
  documents: Record<string, unknown>;
}

export interface VersionSummary {
  version: string;
  createdAt: string;
  /** CURRENT names this version */
  current: boolean;
  /** on the promotion chain: current, or in CURRENT's history (where rollback can return to) */
  promoted: boolean;
  /** in CURRENT's history: how many rollbacks return to it (1: the next one); null when it is not */
  rollbacksAway: number | null;
  gate?: Manifest['gate'];
  models: Record<string, { algorithm: string; metrics: Record<string, number | null> }>;
  /** the size of its arrays and documents (0 when the manifest cannot be read) */
  bytes: number;
  /** why the manifest could not be read (unparseable, invalid, newer format); the other fields are then empty */
  error?: string;
}

export interface Registry {
  /** a resolved local folder, or s3://bucket/prefix/ */
  readonly location: string;
  /**
   * Writes a new version atomically; with `promote`, makes it current, running `beforeCurrent` first
   * (once the version is complete). Returns its manifest.
   */
  publish(input: PublishInput, options: PublishOptions): Promise<Manifest>;
  /** Complete versions (those with a manifest), newest first. */
  list(): Promise<VersionSummary[]>;
  /** The version CURRENT names, or null when nothing was promoted yet; a damaged CURRENT is refused. */
  current(): Promise<string | null>;
  /**
   * As current(), but a damaged CURRENT is said (`damaged`: what is wrong) rather than thrown: list and
   * promote work around it. `gone`: CURRENT names a version without a manifest. Each says what to do.
   */
  inspectCurrent(): Promise<{ version: string | null; damaged: string | null; gone: string | null }>;
  /** Reads a version (default: the current one), verifying every file's length and checksum. */
  load(version?: string): Promise<LoadedModels>;
  /** A version's manifest (default: the current one), without reading its files. */
  show(version?: string): Promise<Manifest>;
  /**
   * One JSON document of a version (default: the current one), checked like load; undefined when the
   * version has none of that name. Cheaper than load when the arrays (ALS factors) are not needed.
   */
  document(name: string, version?: string): Promise<unknown>;
  /**
   * Verifies the version, then makes it current; the previous current goes to the history. `usable` may
   * refuse a version that loads but its reader cannot use (serving: what it reads); it runs last before
   * CURRENT changes.
   */
  promote(version: string, usable?: (loaded: LoadedModels) => void | Promise<void>): Promise<void>;
  /** Makes the version that was current before the current one current again (checked as promote does); returns it. */
  rollback(usable?: (loaded: LoadedModels) => void | Promise<void>): Promise<string>;
  /**
   * Removes every version but the `keep` newest, the current one and the one rollback returns to. A
   * version whose manifest cannot be read (damaged, or written by a newer Floyo) is left alone: what it is
   * is unknown. CURRENT is not written (rollback passes over removed versions), so a promote in another
   * home sharing the registry is never undone. With `dryRun`, says what it would remove.
   */
  prune(keep: number, options?: { dryRun?: boolean }): Promise<PruneResult>;
  /** Releases the S3 client the registry created (no-op for a local folder or a client passed in). */
  close(): void;
}

export interface PruneResult {
  keep: number;
  /** removed (with dryRun: to be removed), newest first */
  removed: string[];
  /** what the removed versions' files took */
  bytesRemoved: number;
  /** the versions left, newest first: the `keep` newest, and the current one */
  kept: string[];
  /** versions whose manifest cannot be read, left alone, with why */
  unreadable: Array<{ version: string; error: string }>;
  /** the version floyo models rollback returns to, always kept (null: none) */
  rollbackTo: string | null;
}

export interface RegistryOptions {
  /** an S3 client to use instead of creating one from the settings (it is not closed by close()) */
  s3Client?: S3Client;
  /** options for the client created from the settings (e.g. fixed credentials) */
  s3ClientOptions?: S3ClientOptions;
  /** the clock for version names and createdAt */
  now?: () => Date;
  /**
   * Called before each file is written, with its path relative to the location
   * (`<version>/<file>` or `CURRENT`). Throwing stops the write, as a crash or full disk would:
   * tests use it to check that publishing is atomic.
   */
  beforeWrite?: (file: string) => void | Promise<void>;
  /** the byte order of typed arrays in memory; default os.endianness() (tests simulate a big-endian host) */
  hostEndianness?: 'LE' | 'BE';
}

/** Where models live when no location is configured: `<home>/models`. */
export function defaultRegistryLocation(home: string): string {
  return join(home, 'models');
}

// ---------------------------------------------------------------------------------------------
// dtypes and byte order

const DTYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  uint8: Uint8Array,
} as const;

const DTYPE_OF_TAG: Record<string, ArrayDtype> = {
  '[object Float32Array]': 'float32',
  '[object Float64Array]': 'float64',
  '[object Int32Array]': 'int32',
  '[object Uint32Array]': 'uint32',
  '[object Uint8Array]': 'uint8',
};

/** The dtype of a supported typed array (by its tag, so arrays from another realm count too), or undefined. */
export function dtypeOf(value: unknown): ArrayDtype | undefined {
  return DTYPE_OF_TAG[Object.prototype.toString.call(value)];
}

function bytesPerElement(dtype: ArrayDtype): number {
  return DTYPES[dtype].BYTES_PER_ELEMENT;
}

/** Reverses the byte order of every `width`-byte element, in place. */
export function swapByteOrder(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function bytesOf(array: TypedArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

// ---------------------------------------------------------------------------------------------
// manifest schema, validation and upgrades

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const fileName = z.string().regex(NAME, 'must be a plain file name (letters, digits, ".", "_", "-")');
const count = z.number().int().nonnegative();
const sha256 = z.string().regex(SHA256, 'must be 64 lowercase hex digits');
const arrayEntry = z.object({
  name: fileName,
  dtype: z.enum(['float32', 'float64', 'int32', 'uint32', 'uint8']),
  length: count,
  bytes: count,
  sha256,
  file: fileName,
});
const documentEntry = z.object({ name: fileName, bytes: count, sha256, file: fileName });
// loose: a model may carry more than these (kept as written)
const modelInfo = z.looseObject({
  algorithm: z.string(),
  params: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.number().nullable()),
});
const manifestV0 = z.object({
  formatVersion: z.literal(0),
  floyoVersion: z.string(),
  version: z.string(),
  createdAt: z.string(),
  models: z.record(z.string(), modelInfo),
  data: z.record(z.string(), z.unknown()),
  report: z.record(z.string(), z.unknown()),
  arrays: z.array(arrayEntry),
});
const manifestV1 = manifestV0.extend({
  formatVersion: z.literal(1),
  documents: z.array(documentEntry),
  gate: z.object({ passed: z.boolean(), reasons: z.array(z.string()), notes: z.array(z.string()).optional() }).optional(),
  manifestSha256: sha256.optional(),
});

type ManifestV0 = z.infer<typeof manifestV0>;

/** One step per older format: format N → N + 1. */
const UPGRADES: Record<number, { schema: z.ZodType; upgrade: (manifest: never) => unknown }> = {
  0: {
    schema: manifestV0,
    upgrade: (m: ManifestV0) => ({ ...m, formatVersion: 1, documents: [] }),
  },
};

/** The text of a manifest file: its content, then the sha256 of that content as `manifestSha256`. */
export function manifestFile(content: object): Buffer {
  const { manifestSha256: _, ...rest } = content as Record<string, unknown>;
  return Buffer.from(manifestText({ ...rest, manifestSha256: contentSum(rest) }));
}

const manifestText = (content: object): string => JSON.stringify(content, null, 2) + '\n';

/**
 * A parsed manifest of any format this Floyo reads → the current format. `problem` builds the error
 * for what is wrong (the caller knows the version and the file).
 */
export function upgradeManifest(raw: unknown, problem: (what: string) => FloyoError = (what) => new FloyoError(what)): Manifest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw problem('is not a JSON object');
  const format = (raw as { formatVersion?: unknown }).formatVersion;
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 0) {
    throw problem(`has no valid formatVersion (got ${JSON.stringify(format) ?? 'nothing'})`);
  }
  // development builds between 0.1.0 and 0.2.0 wrote format 1 with its manifestSha256 as "format 2"; that
  // name went back to 1 before 0.2.0, so an intact format 2 of a Floyo no newer than 0.2.0 is format 1
  if (format === 2 && isDevFormat2(raw as Record<string, unknown>)) {
    const current = parseWith(manifestV1, { ...raw, formatVersion: 1 }, problem) as Manifest;
    checkEntries(current, problem);
    return { ...current, upgradedFrom: 2 };
  }
  if (format > FORMAT_VERSION) {
    // a flipped digit of the format itself is damage, not a newer Floyo: its sum says which (a newer format
    // that sums its content another way is called corrupted too, and the message says it may be that)
    const damaged = typeof (raw as { manifestSha256?: unknown }).manifestSha256 === 'string' && !ownSumMatches(raw as Record<string, unknown>);
    // and a Floyo no newer than this one cannot have written a newer format: its damage is only damage
    const writer = releaseOf((raw as { floyoVersion?: unknown }).floyoVersion);
    if (damaged && writer && compareRelease(writer, releaseOf(VERSION)!) <= 0) {
      throw problem(`is corrupted: its content does not match its manifestSha256 (it says format ${format}, which Floyo ${String((raw as { floyoVersion?: unknown }).floyoVersion)} does not write)`);
    }
    // perhaps a newer Floyo's: not called damage, whose remedies (roll back, promote another) would undo its work
    const { message, context } = problem(damaged
      ? `is corrupted (its content does not match its manifestSha256), or was written by a newer Floyo (format ${format}), which this one cannot tell`
      : `was written by a newer Floyo (format ${format}); this Floyo reads up to ${FORMAT_VERSION}: upgrade Floyo to read it`);
    throw new FloyoError(message, context);
  }
  let manifest: unknown = raw;
  for (let from = format; from < FORMAT_VERSION; from++) {
    const step = UPGRADES[from];
    manifest = step.upgrade(parseWith(step.schema, manifest, problem) as never);
  }
  const current = parseWith(manifestV1, manifest, problem) as Manifest;
  checkEntries(current, problem);
  checkOwnSum(raw as Record<string, unknown>, problem);
  if (format < FORMAT_VERSION) current.upgradedFrom = format;
  return current;
}

/**
 * A manifest that carries its sha256 must match it, whatever else a flip changed (its format included); one
 * that carries none must come from a Floyo older than 0.2.0 (so a flip in the field's name is caught too).
 * The content as written: JSON round-trips it exactly. Checked last, so a malformed field is named first.
 */
function checkOwnSum(raw: Record<string, unknown>, problem: (what: string) => FloyoError): void {
  if (raw.manifestSha256 === undefined) {
    const release = releaseOf(raw.floyoVersion);
    const older = release !== null && compareRelease(release, CHECKSUMMED_SINCE) < 0;
    if (!older) throw problem(`is invalid: manifestSha256 is missing, and Floyo ${String(raw.floyoVersion)} writes one`);
    return;
  }
  if (!ownSumMatches(raw)) throw problem(`is corrupted: the sha256 of its content is ${contentSum(raw)}, it says ${String(raw.manifestSha256)}`);
}

/** An intact "format 2" manifest from a Floyo no newer than 0.2.0 (see upgradeManifest). */
function isDevFormat2(raw: Record<string, unknown>): boolean {
  const writer = releaseOf(raw.floyoVersion);
  return typeof raw.manifestSha256 === 'string' && ownSumMatches(raw) && writer !== null && compareRelease(writer, CHECKSUMMED_SINCE) <= 0;
}

/** x.y.z of a Floyo version, with any pre-release or build suffix dropped (0.2.0-beta is 0.2.0: its builds write sums). */
function releaseOf(version: unknown): number[] | null {
  const m = typeof version === 'string' ? /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version) : null;
  return m ? m.slice(1, 4).map(Number) : null;
}

const compareRelease = (a: number[], b: number[]): number => a.reduce((cmp, part, i) => cmp || part - b[i], 0);

/** The sha256 of a manifest's content as written, without its manifestSha256 (JSON round-trips it exactly). */
function contentSum(raw: Record<string, unknown>): string {
  const { manifestSha256: _, ...content } = raw;
  return sha256Of(Buffer.from(manifestText(content)));
}

const ownSumMatches = (raw: Record<string, unknown>): boolean => contentSum(raw) === raw.manifestSha256;

function parseWith(schema: z.ZodType, value: unknown, problem: (what: string) => FloyoError): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
  const more = result.error.issues.length > 3 ? ` (and ${result.error.issues.length - 3} more)` : '';
  throw problem(`is invalid: ${issues.join('; ')}${more}`);
}

function checkEntries(manifest: Manifest, problem: (what: string) => FloyoError): void {
  const files = new Set<string>();
  const claim = (file: string, where: string) => {
    // case-insensitively, so the version can be copied to a case-insensitive file system
    const key = file.toLowerCase();
    if (key === 'manifest.json' || files.has(key)) throw problem(`is invalid: ${where} uses the file name "${file}" twice or for the manifest`);
    files.add(key);
  };
  const arrayNames = new Set<string>();
  manifest.arrays.forEach((entry, i) => {
    if (arrayNames.has(entry.name)) throw problem(`is invalid: two arrays are named "${entry.name}"`);
    arrayNames.add(entry.name);
    if (entry.bytes !== entry.length * bytesPerElement(entry.dtype)) {
      throw problem(`is invalid: arrays.${i} ("${entry.name}") says ${entry.length} ${entry.dtype} values but ${entry.bytes} bytes`);
    }
    claim(entry.file, `arrays.${i}`);
  });
  const documentNames = new Set<string>();
  manifest.documents.forEach((entry, i) => {
    if (documentNames.has(entry.name)) throw problem(`is invalid: two documents are named "${entry.name}"`);
    documentNames.add(entry.name);
    claim(entry.file, `documents.${i}`);
  });
}

// ---------------------------------------------------------------------------------------------
// storage: a local folder or an S3 prefix, behind one small interface

type ReadResult = { kind: 'ok'; bytes: Uint8Array<ArrayBuffer> } | { kind: 'missing' } | { kind: 'size'; actual: number };

interface Store {
  readonly location: string;
  /** files go one at a time (local disk) or several in flight (S3, where each request waits on the network) */
  readonly concurrency: number;
  /** the full path or URL of a file, for messages */
  where(file: string): string;
  /** a whole (small) file, or null when it does not exist */
  read(file: string): Promise<Buffer | null>;
  /** a file that must be exactly `bytes` long, into a fresh ArrayBuffer of that size; a wrong size is reported before reading */
  readExact(file: string, bytes: number): Promise<ReadResult>;
  /** makes room for a new version; false when the name is taken */
  createVersion(version: string): Promise<boolean>;
  /** a data file of a version being published (nothing refers to it yet) */
  write(file: string, data: Uint8Array): Promise<void>;
  /** a file that readers must never see half-written (manifest, CURRENT) */
  writeAtomic(file: string, data: Uint8Array): Promise<void>;
  /** names of the versions whose manifest exists */
  versions(): Promise<string[]>;
  /** names of the versions with files but no manifest: a publish under way, or one that was killed */
  incomplete(): Promise<string[]>;
  /** anything stored under the version (complete or not) */
  exists(version: string): Promise<boolean>;
  /** removes one file (none there: nothing to do) */
  remove(file: string): Promise<void>;
  /** removes everything stored under a version (what a failed publish left behind, or a version pruned) */
  removeVersion(version: string): Promise<void>;
  close(): void;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

class LocalStore implements Store {
  readonly concurrency = 1;
  constructor(readonly location: string) {}

  where(file: string): string {
    return join(this.location, file);
  }

  private ioError(action: string, file: string, err: unknown): Error {
    if (err instanceof FloyoError) return err;
    if (!errnoCode(err)) return err as Error;
    return new FloyoError(`cannot ${action} ${this.where(file)}: ${(err as Error).message}`, { file: this.where(file) });
  }

  async read(file: string): Promise<Buffer | null> {
    let handle;
    try {
      handle = await open(this.where(file), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
      throw this.ioError('read', file, err);
    }
    try {
      return await handle.readFile();
    } catch (err) {
      throw this.ioError('read', file, err);
    } finally {
      await handle.close();
    }
  }

  async readExact(file: string, bytes: number): Promise<ReadResult> {
    let handle;
    try {
      handle = await open(this.where(file), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { kind: 'missing' };
      throw this.ioError('read', file, err);
    }
    try {
      const { size } = await handle.stat();
      if (size !== bytes) return { kind: 'size', actual: size };
      const target = new Uint8Array(new ArrayBuffer(bytes));
      let offset = 0;
      while (offset < bytes) {
        const { bytesRead } = await handle.read(target, offset, bytes - offset, offset);
        if (bytesRead === 0) return { kind: 'size', actual: offset }; // shrank while we read
        offset += bytesRead;
      }
      return { kind: 'ok', bytes: target };
    } catch (err) {
      throw this.ioError('read', file, err);
    } finally {
      await handle.close();
    }
  }

  async createVersion(version: string): Promise<boolean> {
    try {
      await mkdir(this.location, { recursive: true });
      await mkdir(this.where(version));
      return true;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw this.ioError('create', version, err);
    }
  }

  async write(file: string, data: Uint8Array): Promise<void> {
    await this.writeDurably(this.where(file), file, data);
  }

  async writeAtomic(file: string, data: Uint8Array): Promise<void> {
    const path = this.where(file);
    const dir = dirname(path);
    const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      await this.writeDurably(temp, file, data);
      await rename(temp, path);
      await syncDirectory(dir);
    } catch (err) {
      await rm(temp, { force: true });
      throw this.ioError('write', file, err);
    }
  }

  /** written and flushed to the disk before the caller goes on, so a later rename never points at lost data */
  private async writeDurably(path: string, file: string, data: Uint8Array): Promise<void> {
    let handle;
    try {
      handle = await open(path, 'wx');
      await handle.writeFile(data);
      await handle.datasync();
    } catch (err) {
      throw this.ioError('write', file, err);
    } finally {
      await handle?.close();
    }
  }

  async versions(): Promise<string[]> {
    return (await this.scan()).complete;
  }

  async incomplete(): Promise<string[]> {
    return (await this.scan()).incomplete;
  }

  /**
   * The version-named folders (none when the registry folder does not exist yet), by whether they hold
   * a manifest, in one listing.
   */
  private async scan(): Promise<{ complete: string[]; incomplete: string[] }> {
    let names: string[];
    try {
      names = (await readdir(this.location)).filter((name) => VERSION_NAME.test(name));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { complete: [], incomplete: [] };
      throw this.ioError('list', '', err);
    }
    const complete: string[] = [], incomplete: string[] = [];
    for (const name of names) {
      try {
        ((await stat(join(this.location, name, MANIFEST))).isFile() ? complete : incomplete).push(name);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') incomplete.push(name); // a folder with no manifest (yet)
        else if (errnoCode(err) !== 'ENOTDIR') throw this.ioError('read', join(name, MANIFEST), err); // ENOTDIR: a file, not a version
      }
    }
    return { complete, incomplete };
  }

  async exists(version: string): Promise<boolean> {
    try {
      return (await stat(this.where(version))).isDirectory();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
      throw this.ioError('read', version, err);
    }
  }

  async remove(file: string): Promise<void> {
    try {
      await rm(this.where(file), { force: true });
    } catch (err) {
      throw this.ioError('remove', file, err);
    }
  }

  async removeVersion(version: string): Promise<void> {
    try {
      await rm(this.where(version), { recursive: true, force: true });
    } catch (err) {
      throw this.ioError('remove', version, err);
    }
  }

  close(): void {}
}

async function syncDirectory(dir: string): Promise<void> {
  // makes the rename itself durable; some file systems cannot fsync a directory, and that is all right
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}

class S3Store implements Store {
  readonly concurrency = 4;
  readonly location: string;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    prefix: string,
    private readonly ownsClient: boolean,
  ) {
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.location = formatS3Url(bucket, this.prefix);
  }

  private key(file: string): string {
    return this.prefix + file;
  }

  where(file: string): string {
    return formatS3Url(this.bucket, this.key(file));
  }

  private error(err: unknown, file: string): Error {
    return s3Error(err, { bucket: this.bucket, key: this.key(file), client: this.client });
  }

  private async get(file: string): Promise<{ body: Readable; length: number | undefined } | null> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(file) }));
      const body = response.Body as Readable | undefined;
      if (!body) throw new FloyoError(`S3 returned no content for ${this.where(file)}`, { file: this.where(file) });
      return { body, length: response.ContentLength };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // a missing bucket is a 404 too, but not a missing file: nothing could ever be published there
      if (e?.name !== 'NoSuchBucket' && (e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404)) return null;
      throw this.error(err, file);
    }
  }

  async read(file: string): Promise<Buffer | null> {
    const object = await this.get(file);
    if (!object) return null;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of object.body) chunks.push(chunk as Buffer);
    } catch (err) {
      throw this.error(err, file);
    }
    return Buffer.concat(chunks);
  }

  async readExact(file: string, bytes: number): Promise<ReadResult> {
    const object = await this.get(file);
    if (!object) return { kind: 'missing' };
    const { body, length } = object;
    if (length !== undefined && length !== bytes) {
      body.destroy();
      return { kind: 'size', actual: length };
    }
    const target = new Uint8Array(new ArrayBuffer(bytes));
    let offset = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        if (offset + chunk.byteLength > bytes) {
          body.destroy();
          return { kind: 'size', actual: offset + chunk.byteLength };
        }
        target.set(chunk, offset);
        offset += chunk.byteLength;
      }
    } catch (err) {
      throw this.error(err, file);
    }
    // the object has the right size and the body ended early: the transfer failed, the file may be fine
    if (length !== undefined && offset < bytes) throw this.error(new Error(`the transfer ended after ${offset} of ${bytes} bytes`), file);
    return offset === bytes ? { kind: 'ok', bytes: target } : { kind: 'size', actual: offset };
  }

  private async keysUnder(prefix: string, limit = Infinity): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of listS3Objects(this.client, this.bucket, prefix, { allowEmpty: true })) {
      keys.push(object.key);
      if (keys.length >= limit) break;
    }
    return keys;
  }

  async createVersion(version: string): Promise<boolean> {
    return (await this.keysUnder(this.key(`${version}/`), 1)).length === 0;
  }

  async write(file: string, data: Uint8Array): Promise<void> {
    // a view over the same memory (a SharedArrayBuffer too); the SDK sends it as is
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(file),
          Body: body,
          ContentLength: data.byteLength,
          ContentType: file.endsWith('.json') || file === 'CURRENT' ? 'application/json' : 'application/octet-stream',
        }),
      );
    } catch (err) {
      throw this.error(err, file);
    }
  }

  writeAtomic(file: string, data: Uint8Array): Promise<void> {
    // one PutObject replaces an object atomically: readers see the old or the new, never a mix
    return this.write(file, data);
  }

  async versions(): Promise<string[]> {
    return (await this.scan()).complete;
  }

  async incomplete(): Promise<string[]> {
    return (await this.scan()).incomplete;
  }

  /** The version-named "folders" under the prefix, in key order, by whether they hold a manifest. */
  private async scan(): Promise<{ complete: string[]; incomplete: string[] }> {
    const manifest = new Map<string, boolean>();
    for (const key of await this.keysUnder(this.prefix)) {
      const rest = key.slice(this.prefix.length);
      const slash = rest.indexOf('/');
      const name = rest.slice(0, slash);
      if (slash <= 0 || !VERSION_NAME.test(name)) continue;
      manifest.set(name, manifest.get(name) === true || rest.slice(slash + 1) === MANIFEST);
    }
    const names = [...manifest.keys()];
    return { complete: names.filter((n) => manifest.get(n)), incomplete: names.filter((n) => !manifest.get(n)) };
  }

  async exists(version: string): Promise<boolean> {
    return (await this.keysUnder(this.key(`${version}/`), 1)).length > 0;
  }

  async remove(file: string): Promise<void> {
    try {
      // S3 answers a delete of a missing key with success too
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(file) }));
    } catch (err) {
      throw this.error(err, file);
    }
  }

  async removeVersion(version: string): Promise<void> {
    for (const key of await this.keysUnder(this.key(`${version}/`))) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      } catch (err) {
        throw this.error(err, key.slice(this.prefix.length));
      }
    }
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// the registry

interface CurrentFile {
  version: string;
  /** versions that were current before, most recent first */
  history: string[];
}

const CURRENT = 'CURRENT';
const MANIFEST = 'manifest.json';

/** A local folder (a path or file:// URL), or s3://bucket/prefix with Floyo's s3 settings. */
export function openRegistry(location: string, s3?: S3Settings, options: RegistryOptions = {}): Registry {
  if (/^s3:\/\//i.test(location.trim())) {
    const { bucket, prefix } = parseS3Url(location);
    const client = options.s3Client ?? createS3Client(s3 ?? { region: 'us-east-1', forcePathStyle: false }, options.s3ClientOptions);
    return new ModelRegistry(new S3Store(client, bucket, prefix, !options.s3Client), options);
  }
  if (location.trim() === '') throw new FloyoError('the model registry location is empty (expected a folder or s3://bucket/prefix)');
  const path = /^file:\/\//i.test(location) ? fileURLToPath(location) : location;
  return new ModelRegistry(new LocalStore(isAbsolute(path) ? path : resolve(path)), options);
}

class ModelRegistry implements Registry {
  readonly location: string;
  private readonly now: () => Date;
  private readonly bigEndianHost: boolean;

  constructor(
    private readonly store: Store,
    private readonly options: RegistryOptions,
  ) {
    this.location = store.location;
    this.now = options.now ?? (() => new Date());
    this.bigEndianHost = (options.hostEndianness ?? endianness()) === 'BE';
  }

  close(): void {
    this.store.close();
  }

  // -- publishing

  async publish(input: PublishInput, options: PublishOptions): Promise<Manifest> {
    const files = this.prepareFiles(input);
    const createdAt = this.now();
    const manifestFor = (version: string) => {
      const manifest: Manifest = {
        formatVersion: FORMAT_VERSION,
        floyoVersion: VERSION,
        version,
        createdAt: createdAt.toISOString(),
        models: input.models,
        data: input.data,
        report: input.report,
        arrays: files.arrays.map(({ entry }) => entry),
        documents: files.documents.map(({ entry }) => entry),
        ...(input.gate ? { gate: input.gate } : {}),
      };
      const bytes = manifestFile(manifest);
      // what readers will see (JSON turns NaN into null, drops undefined), checked before anything is written
      const written = upgradeManifest(JSON.parse(bytes.toString('utf8')), (what) =>
        new FloyoError(`cannot publish to ${this.location}: the manifest ${what}`, { file: this.location }),
      );
      return { bytes, written };
    };

    let version = versionName(createdAt);
    let manifest = manifestFor(version);
    for (let attempt = 1; !(await this.store.createVersion(version)); attempt++) {
      // the same second and the same 32 random bits: practically never, but never overwrite a version
      if (attempt === 5) throw new FloyoError(`could not find a free version name in ${this.location}`, { file: this.location });
      version = versionName(createdAt);
      manifest = manifestFor(version);
    }

    await this.removeAbandoned(createdAt);
    try {
      const writes = [...files.arrays, ...files.documents].map(({ entry, bytes }) => () => this.write(`${version}/${entry.file}`, bytes));
      await inParallel(writes, this.store.concurrency);
      await this.write(`${version}/${MANIFEST}`, manifest.bytes, true);
    } catch (err) {
      // a crash would leave these behind too, invisible without a manifest; tidy up when we can
      await this.store.removeVersion(version).catch(() => undefined);
      throw err;
    }
    // from here the version is complete: a failure to promote leaves it listed but not current
    if (options.promote) {
      await options.beforeCurrent?.(version);
      await this.makeCurrent(version, options.expectCurrent);
    }
    return manifest.written;
  }

  /**
   * Removes the files of publishes that were killed before their manifest (never listed, never loaded,
   * but taking space) once their name says they began more than a day ago: a publish under way in another
   * home sharing the registry is never touched. Best effort: a failure leaves them to the next publish.
   */
  private async removeAbandoned(now: Date): Promise<void> {
    const names = await this.store.incomplete().catch(() => [] as string[]);
    for (const name of names) {
      const began = startedAt(name);
      if (began !== null && now.getTime() - began > ABANDONED_AFTER_MS) await this.store.removeVersion(name).catch(() => undefined);
    }
  }

  private prepareFiles(input: PublishInput): {
    arrays: Array<{ entry: ArrayEntry; bytes: Uint8Array }>;
    documents: Array<{ entry: DocumentEntry; bytes: Uint8Array }>;
  } {
    const refuse = (what: string) => new FloyoError(`cannot publish to ${this.location}: ${what}`, { file: this.location });
    const taken = new Set<string>([MANIFEST]);
    const claim = (name: string, extension: string, kind: string) => {
      if (!NAME.test(name)) {
        throw refuse(`${kind} name "${name}" is not allowed (1–128 letters, digits, ".", "_" or "-", starting with a letter or digit)`);
      }
      const file = `${name}${extension}`;
      if (taken.has(file.toLowerCase())) throw refuse(`${kind} "${name}" would be stored as ${file}, which is taken`);
      taken.add(file.toLowerCase());
      return file;
    };
    const arrays = Object.entries(input.arrays).map(([name, array]) => {
      const dtype = dtypeOf(array);
      if (!dtype) {
        const got = Object.prototype.toString.call(array).slice(8, -1);
        throw refuse(`array "${name}" is a ${got}; allowed: Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array`);
      }
      const file = claim(name, '.bin', 'array');
      let bytes = bytesOf(array);
      if (this.bigEndianHost && array.BYTES_PER_ELEMENT > 1) {
        bytes = bytes.slice();
        swapByteOrder(bytes, array.BYTES_PER_ELEMENT);
      }
      const entry: ArrayEntry = { name, dtype, length: array.length, bytes: bytes.byteLength, sha256: sha256Of(bytes), file };
      return { entry, bytes };
    });
    const documents = Object.entries(input.documents).map(([name, value]) => {
      const file = claim(name, '.json', 'document');
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (err) {
        throw refuse(`document "${name}" cannot be written as JSON: ${(err as Error).message}`);
      }
      if (text === undefined) throw refuse(`document "${name}" cannot be written as JSON (it is ${typeof value})`);
      const bytes = Buffer.from(text);
      const entry: DocumentEntry = { name, bytes: bytes.byteLength, sha256: sha256Of(bytes), file };
      return { entry, bytes };
    });
    return { arrays, documents };
  }

  private async write(file: string, bytes: Uint8Array, atomic = false): Promise<void> {
    await this.options.beforeWrite?.(file);
    await (atomic ? this.store.writeAtomic(file, bytes) : this.store.write(file, bytes));
  }

  // -- CURRENT

  private async readCurrent(): Promise<CurrentFile | null> {
    const { current, damage } = await this.readCurrentOrDamage();
    if (damage) throw new FloyoError(`${damage}; promote a version to rewrite it`, { file: this.store.where(CURRENT) });
    return current;
  }

  /** CURRENT, or what is wrong with its content (I/O trouble throws): promote rewrites it. */
  private async readCurrentOrDamage(): Promise<{ current: CurrentFile | null; damage: string | null }> {
    const bytes = await this.store.read(CURRENT);
    if (bytes === null) return { current: null, damage: null };
    const damaged = (what: string) => ({ current: null, damage: `${this.store.where(CURRENT)} ${what}` });
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      return damaged(`is not valid JSON (${(err as Error).message})`);
    }
    const p = parsed as Partial<CurrentFile> | null;
    if (
      !p ||
      typeof p.version !== 'string' ||
      !VERSION_NAME.test(p.version) ||
      !Array.isArray(p.history) ||
      !p.history.every((v) => typeof v === 'string' && VERSION_NAME.test(v))
    ) {
      return damaged('is invalid: expected { "version": "...", "history": [...] }');
    }
    return { current: { version: p.version, history: p.history }, damage: null };
  }

  private async writeCurrent(current: CurrentFile): Promise<void> {
    await this.write(CURRENT, Buffer.from(JSON.stringify(current, null, 2) + '\n'), true);
  }

  private async makeCurrent(version: string, expect?: string | null): Promise<void> {
    // a damaged CURRENT is what promote repairs: its history is lost with it (train reads CURRENT before it
    // publishes, so it refuses a damaged one rather than repair it here)
    const { current: before } = await this.readCurrentOrDamage();
    if (before?.version === version) return;
    const now = before?.version ?? null;
    if (expect !== undefined && now !== expect) {
      // read and written without a lock (S3 has none to share): another process's change in between is said, not undone
      throw new FloyoError(
        `model version ${version} was published to ${this.location} but not made current: ${now ?? 'no version'} became current meanwhile ` +
          `(another Floyo process using this registry), and this one was compared with ${expect ?? 'no version'}. ` +
          `floyo models list shows both; floyo models promote ${version} serves this one`,
        { file: this.location },
        BUSY_EXIT,
      );
    }
    const history = before ? [before.version, ...before.history.filter((v) => v !== version)] : [];
    await this.writeCurrent({ version, history });
  }

  async current(): Promise<string | null> {
    return (await this.readCurrent())?.version ?? null;
  }

  async inspectCurrent(): Promise<{ version: string | null; damaged: string | null; gone: string | null }> {
    const { current, damage } = await this.readCurrentOrDamage();
    if (!current) return { version: null, damaged: damage, gone: null };
    const manifest = await this.store.read(`${current.version}/${MANIFEST}`);
    return { version: current.version, damaged: null, gone: manifest === null ? this.currentGone(current, await this.store.exists(current.version)) : null };
  }

  async promote(version: string, usable: (loaded: LoadedModels) => void | Promise<void> = () => undefined): Promise<void> {
    this.checkVersionName(version);
    await usable(await this.load(version)); // never make a version current that would not load
    await this.makeCurrent(version);
  }

  async rollback(usable: (loaded: LoadedModels) => void | Promise<void> = () => undefined): Promise<string> {
    const current = await this.readCurrent();
    if (!current) throw new FloyoError(`nothing to roll back in ${this.location}: no version has been promoted`, { file: this.location });
    const at = await this.rollbackIndex(current);
    if (at < 0) {
      const why = current.history.length ? 'the versions current before it were removed (floyo models prune)' : 'no version was current before it';
      throw new FloyoError(`cannot roll back in ${this.location}: ${current.version} is current and ${why}`, { file: this.store.where(CURRENT) });
    }
    const previous = current.history[at];
    try {
      await usable(await this.load(previous));
    } catch (err) {
      if (!(err instanceof FloyoError)) throw err;
      throw new FloyoError(`cannot roll back to ${previous}: ${err.message}`, err.context);
    }
    await this.writeCurrent({ version: previous, history: current.history.slice(at + 1) });
    return previous;
  }

  /**
   * Where in CURRENT's history rollback goes: the most recent version whose manifest is still there
   * (prune removes versions without rewriting CURRENT); -1 when none is. A damaged one is not passed over.
   */
  private async rollbackIndex(current: CurrentFile): Promise<number> {
    for (const [i, version] of current.history.entries()) {
      if ((await this.store.read(`${version}/${MANIFEST}`)) !== null) return i;
    }
    return -1;
  }

  // -- reading

  private checkVersionName(version: string): void {
    if (!VERSION_NAME.test(version)) {
      throw new FloyoError(`"${version}" is not a model version name (expected something like 20261125T031500Z-1a2b3c4d)`, { file: this.location });
    }
  }

  private async resolveVersion(version: string | undefined): Promise<string> {
    if (version !== undefined) {
      this.checkVersionName(version);
      return version;
    }
    const current = await this.current();
    if (current === null) {
      throw new FloyoError(`no model version is current in ${this.location}: run floyo train, or floyo models promote <version>`, {
        file: this.location,
      }, NOT_FOUND_EXIT);
    }
    return current;
  }

  /**
   * `read` of a version, or of the current one when `version` is undefined. When the version read is the
   * current one, its damage says what to do about it, for every command that serves from it; and a CURRENT
   * naming a version that is gone is CURRENT's damage, not an unknown version the user asked for.
   */
  private async ofVersion<T>(version: string | undefined, read: (name: string) => Promise<T>): Promise<T> {
    const name = await this.resolveVersion(version);
    try {
      return await read(name);
    } catch (err) {
      if (!(err instanceof MissingVersionError || err instanceof DamagedVersionError)) throw err;
      // read only on failure (the commands name the current version they resolved themselves); trouble
      // reading it leaves the version's own error to be said
      const current = await this.readCurrentOrDamage().then((c) => c.current, () => null);
      if (current?.version !== name) throw err instanceof MissingVersionError ? await this.withVersionsThere(err) : err;
      if (err instanceof MissingVersionError) throw new CurrentVersionGone(this.currentGone(current, false), { file: this.store.where(CURRENT) });
      throw new CurrentVersionDamaged(err, this.remedy(current));
    }
  }

  /** An unknown version's error, with the versions there (read only now: on S3, list() reads every manifest). */
  private async withVersionsThere(err: MissingVersionError): Promise<FloyoError> {
    // list() orders by createdAt, which also orders versions published within the same second
    const known = (await this.list()).slice(0, 5).map((v) => v.version);
    const hint = known.length ? `; versions there, newest first: ${known.join(', ')}` : '; it holds no versions';
    return new FloyoError(err.message + hint, err.context, err.exitCode);
  }

  /** What a CURRENT naming a version without a manifest says: deleted, or a publish that never finished. */
  private currentGone(current: CurrentFile, folderLeft: boolean): string {
    const what = folderLeft ? `whose ${MANIFEST} is missing (a publish was interrupted, or the file was deleted)` : `which is not in ${this.location} (was it deleted?)`;
    return `${this.store.where(CURRENT)} names model version ${current.version}, ${what}; ${this.remedy(current)}`;
  }

  /** What to do when the current version cannot be used: roll back only where there is a version to go back to. */
  private remedy(current: CurrentFile): string {
    return current.history.length
      ? 'roll back to the version before it (floyo models rollback), promote another (floyo models promote <version>) or train a new one'
      : 'promote another version (floyo models promote <version>) or train a new one';
  }

  private async readManifest(version: string): Promise<Manifest> {
    const file = `${version}/${MANIFEST}`;
    const where = this.store.where(file);
    const bytes = await this.store.read(file);
    if (bytes === null) {
      if (await this.store.exists(version)) {
        throw new DamagedVersionError(
          `model version ${version} in ${this.location} is incomplete: ${MANIFEST} is missing (a publish was interrupted, or the file was deleted)`,
          { file: where },
        );
      }
      throw new MissingVersionError(`no model version ${version} in ${this.location}`, { file: this.location }, NOT_FOUND_EXIT);
    }
    const problem = (what: string) => new DamagedVersionError(`model version ${version} in ${this.location}: ${MANIFEST} ${what}`, { file: where });
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw problem(`is not valid JSON (${(err as Error).message})`);
    }
    const manifest = upgradeManifest(raw, problem);
    if (manifest.version !== version) throw problem(`belongs to version ${manifest.version}, not to the folder it is in`);
    return manifest;
  }

  async show(version?: string): Promise<Manifest> {
    return this.ofVersion(version, (name) => this.readManifest(name));
  }

  private broken(version: string, file: string, what: string): FloyoError {
    return new DamagedVersionError(`model version ${version} in ${this.location}: ${file} ${what}`, { file: this.store.where(`${version}/${file}`) });
  }

  /** A file of a version, checked against the manifest's size and sha256. */
  private async readVerified(version: string, file: string, bytes: number, sha256: string, describe: string): Promise<Uint8Array<ArrayBuffer>> {
    const result = await this.store.readExact(`${version}/${file}`, bytes);
    if (result.kind === 'missing') throw this.broken(version, file, 'is missing');
    if (result.kind === 'size') {
      throw this.broken(version, file, `${result.actual < bytes ? 'is truncated' : 'is too long'}: ${result.actual} bytes, the manifest says ${bytes} (${describe})`);
    }
    const actual = sha256Of(result.bytes);
    if (actual !== sha256) throw this.broken(version, file, `is corrupted: its sha256 is ${actual}, the manifest says ${sha256}`);
    return result.bytes;
  }

  private async readDocument(version: string, entry: DocumentEntry): Promise<unknown> {
    const bytes = await this.readVerified(version, entry.file, entry.bytes, entry.sha256, 'JSON');
    try {
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown;
    } catch (err) {
      throw this.broken(version, entry.file, `is not valid JSON (${(err as Error).message})`);
    }
  }

  async document(name: string, version?: string): Promise<unknown> {
    return this.ofVersion(version, async (v) => {
      const entry = (await this.readManifest(v)).documents.find((d) => d.name === name);
      return entry === undefined ? undefined : this.readDocument(v, entry);
    });
  }

  load(version?: string): Promise<LoadedModels> {
    return this.ofVersion(version, (name) => this.loadVersion(name));
  }

  private async loadVersion(name: string): Promise<LoadedModels> {
    const manifest = await this.readManifest(name);
    const loadedArrays = await mapLimited(manifest.arrays, this.store.concurrency, async (entry) => {
      const bytes = await this.readVerified(name, entry.file, entry.bytes, entry.sha256, `${entry.length} ${entry.dtype} values`);
      if (this.bigEndianHost) swapByteOrder(bytes, bytesPerElement(entry.dtype));
      return new DTYPES[entry.dtype](bytes.buffer, 0, entry.length);
    });
    const loadedDocuments = await mapLimited(manifest.documents, this.store.concurrency, (entry) => this.readDocument(name, entry));
    const arrays: Record<string, TypedArray> = {};
    manifest.arrays.forEach((entry, i) => (arrays[entry.name] = loadedArrays[i]));
    const documents: Record<string, unknown> = {};
    manifest.documents.forEach((entry, i) => (documents[entry.name] = loadedDocuments[i]));
    return { manifest, arrays, documents };
  }

  async list(): Promise<VersionSummary[]> {
    // One after the other: side by side, a failure of one left the other retrying, and printing so, after the error.
    const { current } = await this.readCurrentOrDamage(); // listed all the same: the versions are what promote needs
    const names = await this.store.versions();
    const onChain = new Set(current ? [current.version, ...current.history] : []);
    // rollback passes over versions no longer there (pruned), so they are not counted
    const listed = new Set(names);
    const away = new Map((current?.history ?? []).filter((v) => listed.has(v)).map((v, i) => [v, i + 1]));
    const summaries = await mapLimited(names, 8, async (version): Promise<VersionSummary> => {
      const base = { version, current: current?.version === version, promoted: onChain.has(version), rollbacksAway: away.get(version) ?? null };
      try {
        const m = await this.readManifest(version);
        const models = Object.fromEntries(Object.entries(m.models).map(([k, v]) => [k, { algorithm: v.algorithm, metrics: v.metrics }]));
        const bytes = [...m.arrays, ...m.documents].reduce((n, f) => n + f.bytes, 0);
        return { ...base, createdAt: m.createdAt, models, bytes, ...(m.gate ? { gate: m.gate } : {}) };
      } catch (err) {
        if (!(err instanceof FloyoError)) throw err;
        return { ...base, createdAt: '', models: {}, bytes: 0, error: err.message };
      }
    });
    // newest first by creation time; versions whose manifest cannot be read go last
    return summaries.sort((a, b) => compareDesc(a.createdAt, b.createdAt) || compareDesc(a.version, b.version));
  }

  // -- housekeeping

  async prune(keep: number, options: { dryRun?: boolean } = {}): Promise<PruneResult> {
    if (!Number.isInteger(keep) || keep < 1) throw new FloyoError(`the number of versions to keep must be a whole number of at least 1, got ${keep}`);
    // a damaged CURRENT is refused: which versions must stay is then unknown
    const current = await this.readCurrent();
    const versions = await this.list();
    const rollbackAt = current ? await this.rollbackIndex(current) : -1;
    const rollbackTo = rollbackAt < 0 ? null : current!.history[rollbackAt];
    const readable = versions.filter((v) => !v.error);
    const keeping = new Set(readable.slice(0, keep).map((v) => v.version));
    for (const v of [current?.version, rollbackTo]) if (v) keeping.add(v);
    const doomed = readable.filter((v) => !keeping.has(v.version));
    const removed: typeof doomed = [];
    if (options.dryRun) removed.push(...doomed);
    else {
      // what killed publishes, and removals cut short, left: their names say they are more than a day old
      await this.removeAbandoned(this.now());
      try {
        for (const v of doomed) {
          // a registry shared by several homes: one may have promoted or rolled back to it since the listing
          if ((await this.readCurrent())?.version === v.version) {
            keeping.add(v.version);
            continue;
          }
          // the manifest first: from then on the version is not listed, loaded or rolled back to
          await this.store.remove(`${v.version}/${MANIFEST}`);
          removed.push(v);
          await this.store.removeVersion(v.version);
        }
      } catch (err) {
        if (!(err instanceof FloyoError)) throw err;
        const done = removed.map((v) => v.version);
        throw new FloyoError(
          `pruning ${this.location} stopped after removing ${done.length} of ${doomed.length} versions${done.length ? ` (${done.join(', ')})` : ''}: ${err.message}`,
          err.context,
        );
      }
    }
    return {
      keep,
      removed: removed.map((v) => v.version),
      bytesRemoved: removed.reduce((n, v) => n + v.bytes, 0),
      kept: readable.filter((v) => keeping.has(v.version)).map((v) => v.version),
      unreadable: versions.filter((v) => v.error).map((v) => ({ version: v.version, error: v.error! })),
      rollbackTo,
    };
  }
}

/** A version's files are damaged or incomplete: it cannot be loaded (the others can). */
class DamagedVersionError extends FloyoError {}
/** No version of that name in the registry. */
class MissingVersionError extends FloyoError {}

function compareDesc(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

/** A publish whose version has no manifest this long after its name's time was killed. */
const ABANDONED_AFTER_MS = 24 * 3_600_000;

/** The time a Floyo version name was made at (epoch ms), or null for a name in another form. */
function startedAt(name: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]{8}$/.exec(name);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : null;
}

function versionName(at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function inParallel(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  await mapLimited(tasks, limit, (task) => task());
}

/** Like Promise.all over `items.map(fn)` with at most `limit` in flight; stops starting new ones after a failure. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

// The s3:// location: list the objects under a prefix and stream each one to a local file.
// DuckDB cannot read S3 here (httpfs is not installable offline), so objects are downloaded to a
// file first and read locally; the download hashes as it streams, so the fingerprint costs no extra pass.
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FloyoError } from '../errors.js';
import { DATA_FILE_KINDS, fileKind, FilesNotRead } from './locations.js';

/** Floyo's `s3.*` settings (see src/config.ts). Credentials never live in config: the standard AWS chain finds them. */
export interface S3Settings {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
}

export interface S3ObjectInfo {
  key: string;
  size: number;
  /** the ETag without its surrounding quotes ("…-N" for multipart uploads) */
  etag: string;
  lastModified?: Date;
}

export interface S3ClientOptions {
  /** fixed credentials instead of the standard chain (tests against a local server; tools that hold a key) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** attempts per request, including the first (SDK default 3) */
  maxAttempts?: number;
  /**
   * Told when a request failed and the SDK tries it again, with why and which attempt comes next: a
   * stalled endpoint otherwise spends a minute on its attempts with nothing shown.
   */
  onRetry?: (message: string) => void;
}

const SCHEME = /^s3:\/\//i;
// The endpoint override of each client made by createS3Client, for error messages.
const ENDPOINTS = new WeakMap<S3Client, string>();
// AWS's rules for bucket names; S3-compatible servers follow them too.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function formatS3Url(bucket: string, prefix = ''): string {
  return `s3://${bucket}/${prefix}`;
}

/**
 * `s3://bucket/prefix` → { bucket, prefix }. The prefix is taken literally (S3 keys may hold any
 * character, so nothing is percent-decoded); it may be empty (the whole bucket).
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const text = url.trim();
  if (!SCHEME.test(text)) {
    throw new FloyoError(`not an S3 location: "${url}" (expected s3://bucket/prefix)`, { file: url });
  }
  const rest = text.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1);
  if (bucket === '') {
    throw new FloyoError(`S3 location "${url}" has no bucket name (expected s3://bucket/prefix)`, { file: url });
  }
  if (!BUCKET.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    throw new FloyoError(
      `S3 location "${url}": "${bucket}" is not a valid bucket name ` +
        '(3–63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)',
      { file: url },
    );
  }
  return { bucket, prefix };
}

/**
 * An S3 client for Floyo's settings. Credentials come from the standard chain (environment,
 * AWS_PROFILE / shared files, SSO, container or instance role) unless `options.credentials` is given.
 */
export function createS3Client(settings: S3Settings, options: S3ClientOptions = {}): S3Client {
  // The SDK warns on every run under Node < 22 that its releases after January 2027 will need Node 22. The
  // version package-lock.json pins supports Node 20, which Floyo supports; the multi-line warning on every
  // S3 command told users nothing they could act on. An explicit setting of the variable still wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    // The SDK's default (aws-chunked bodies with trailing CRC32) is not understood by S3-compatible
    // servers: RGW rejects streamed uploads with MissingContentLength, s3rver stores the framing.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A silent endpoint (firewall, wrong host) fails in seconds instead of the OS's two minutes; a
    // server that accepts and never answers, or a stalled transfer, is cut after 20 idle seconds (with the
    // SDK's 3 attempts, a minute: at two minutes it held the home for six, saying nothing). Neither limits
    // how long a large download takes while bytes flow.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 20_000 },
  });
  if (settings.endpoint) ENDPOINTS.set(client, settings.endpoint);
  if (options.onRetry) reportRetries(client, options.onRetry);
  refuseNonS3NotFound(client);
  return client;
}

/**
 * A 404 that names no S3 error code: what a web server that is not S3 (or an endpoint with a wrong path)
 * answers to everything. S3 names what is missing (NoSuchKey, NoSuchBucket), except to HEAD requests,
 * which have no body.
 */
export class EndpointNotS3 extends FloyoError {}

function isCodelessNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.$metadata?.httpStatusCode === 404 && e.name === 'NotFound' && e.Code === undefined;
}

/**
 * Turns a code-less 404 into EndpointNotS3 before any caller sees it. Callers read a 404 as "no such key"
 * (the registry reads CURRENT that way, as "no version yet"): against an endpoint that is not S3, train
 * then fitted for its whole run and failed only at publish, and an ingest failed with a bare NotFound.
 */
function refuseNonS3NotFound(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if (context.commandName?.startsWith('Head') || !isCodelessNotFound(err)) throw err;
        const input = args.input as AttemptArgs['input'];
        throw s3Error(err, { bucket: input.Bucket ?? '', key: input.Key ?? input.Prefix, client });
      }
    },
    { step: 'initialize', name: 'floyoEndpointNotS3' },
  );
}

type Middleware = Parameters<S3Client['middlewareStack']['addRelativeTo']>[0];
interface AttemptArgs {
  input: { Bucket?: string; Key?: string; Prefix?: string };
  /** the HTTP request; the retry loop sets `amz-sdk-request: attempt=N; max=M` on it before each attempt */
  request?: { headers?: Record<string, string> };
}

/**
 * Sits inside the SDK's retry loop, so it runs once per attempt of a request. The loop passes the same
 * request object to every attempt and numbers it in a header; the attempt's error is kept against that
 * object, and reported as the reason when the next attempt comes. Nothing is counted per client (the
 * SDK may reuse a middleware chain across requests), so concurrent requests each report their own.
 */
function reportRetries(client: S3Client, onRetry: (message: string) => void): void {
  const failures = new WeakMap<object, unknown>();
  const middleware = (next: (args: AttemptArgs) => Promise<unknown>) => async (args: AttemptArgs) => {
    const key = args.request ?? args;
    const header = /attempt=(\d+); max=(\d+)/.exec(args.request?.headers?.['amz-sdk-request'] ?? '');
    if (header && Number(header[1]) > 1 && failures.has(key)) {
      const where = { bucket: args.input.Bucket ?? '', key: args.input.Key ?? args.input.Prefix, client };
      onRetry(`${s3Error(failures.get(key), where).message}; trying again (attempt ${header[1]} of ${header[2]})`);
    }
    try {
      return await next(args);
    } catch (err) {
      failures.set(key, err);
      throw err;
    }
  };
  // the SDK's middleware types are a union over its steps; this one is a finalizeRequest middleware
  client.middlewareStack.addRelativeTo(middleware as unknown as Middleware, { relation: 'after', toMiddleware: 'retryMiddleware', name: 'floyoRetryNotice' });
}

/**
 * The "folder" a location names when it names no object: the prefix and a '/' (as `aws s3 sync` and
 * Spark read it), so `s3://b/sales` never takes `sales.gz/…` or `sales-old/…`. The bucket's root stays ''.
 */
export function folderPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * The objects a location names, page by page (ListObjectsV2 with continuation tokens), in key order.
 * When the prefix is itself the key of an object, that object alone is the location (so
 * `s3://b/data/sales.csv` does not also pick up `data/sales.csv.bak`); otherwise it is a folder, and
 * every object under `folderPrefix(prefix)` is listed. "Folder" placeholders (keys ending in '/') are
 * skipped. Throws a FloyoError when nothing is there, unless `allowEmpty` (the registry: nothing yet).
 */
export async function* listS3Objects(client: S3Client, bucket: string, prefix: string, { allowEmpty = false } = {}): AsyncIterable<S3ObjectInfo> {
  const list = async (input: { Prefix: string; MaxKeys?: number; ContinuationToken?: string }) => {
    try {
      return await client.send(new ListObjectsV2Command({ Bucket: bucket, ...input, Prefix: input.Prefix === '' ? undefined : input.Prefix }));
    } catch (err) {
      throw s3Error(err, { bucket, prefix: input.Prefix, client });
    }
  };
  const folder = folderPrefix(prefix);
  // Keys are listed in byte order, so an object named exactly `prefix` comes first. Its longer-named
  // neighbours (`sales.csv.bak`, `sales-old/…`) are not the location either way.
  let neighbour: string | undefined;
  if (folder !== prefix) {
    const first = (await list({ Prefix: prefix, MaxKeys: 1 })).Contents?.[0];
    if (first?.Key === prefix) {
      yield toInfo(first);
      return;
    }
    if (first?.Key && !first.Key.startsWith(folder)) neighbour = first.Key;
  }
  const location = formatS3Url(bucket, folder);
  let token: string | undefined;
  let found = 0;
  const seenTokens = new Set<string>();
  do {
    const page = await list({ Prefix: folder, ContinuationToken: token });
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue;
      found++;
      yield toInfo(object);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && !token) {
      throw new FloyoError(`listing ${location} stopped: the server said there is more but gave no continuation token`, { file: location });
    }
    if (token !== undefined) {
      if (seenTokens.has(token)) {
        throw new FloyoError(`listing ${location} stopped: the server repeated a continuation token`, { file: location });
      }
      seenTokens.add(token);
    }
  } while (token !== undefined);
  if (found === 0 && !allowEmpty) {
    if (folder === prefix) throw new FloyoError(`no objects under ${location}`, { file: location });
    const hint = neighbour ? ` (keys that only begin with its name, such as ${neighbour}, are not under it)` : '';
    throw new FloyoError(`no object ${formatS3Url(bucket, prefix)}, and no objects under ${location}${hint}`, { file: formatS3Url(bucket, prefix) });
  }
}

/**
 * The data files a location names, as a local folder gives them (see fileKind): a Spark or Hadoop output
 * prefix holds _SUCCESS, .crc and _committed_* files beside its part files, and a key without a data
 * extension would fail the ingest; the objects passed over are told to `notRead`. An object named by the
 * whole location is taken whatever its name, like a local file. Throws a FloyoError when no data file
 * is there, naming what was skipped.
 */
export async function* listS3DataObjects(
  client: S3Client, bucket: string, prefix: string, notRead = new FilesNotRead(),
): AsyncIterable<S3ObjectInfo> {
  // keys are judged by their path below the folder
  const base = folderPrefix(prefix);
  let found = 0;
  const skipped: string[] = [];
  let skippedCount = 0;
  for await (const object of listS3Objects(client, bucket, prefix)) {
    const kind = object.key === prefix ? 'data' : fileKind(object.key.slice(base.length));
    if (kind === 'data') {
      found++;
      yield object;
    } else {
      notRead.add(kind, formatS3Url(bucket, object.key));
      skippedCount++;
      if (skipped.length < 3) skipped.push(object.key.slice(base.length));
    }
  }
  if (found === 0) {
    const location = formatS3Url(bucket, base);
    throw new FloyoError(
      `no data files under ${location} (${DATA_FILE_KINDS}); skipped ${skippedCount} other object${skippedCount === 1 ? '' : 's'}: ` +
        `${skipped.join(', ')}${skippedCount > skipped.length ? ', …' : ''}`,
      { file: location },
    );
  }
}

function toInfo(object: { Key?: string; Size?: number; ETag?: string; LastModified?: Date }): S3ObjectInfo {
  return {
    key: object.Key ?? '',
    size: object.Size ?? 0,
    etag: (object.ETag ?? '').replace(/^"|"$/g, ''),
    ...(object.LastModified ? { lastModified: object.LastModified } : {}),
  };
}

/**
 * Streams one object to `destPath`, hashing the raw bytes (sha256, hex) on the way; memory use does
 * not depend on the object's size. The bytes go to a temporary file beside `destPath` that is renamed
 * into place only when complete, so a failed download leaves nothing behind. `onProgress` gets the
 * bytes so far and the object's size (0 when the server did not say); an error thrown by it aborts
 * the download and is passed through unchanged. `signal` aborts the request or the transfer: the promise
 * then rejects with the signal's reason once the partial file is removed.
 */
export async function downloadS3Object(
  client: S3Client,
  bucket: string,
  key: string,
  destPath: string,
  onProgress?: (bytes: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ bytes: number; sha256: string }> {
  const location = formatS3Url(bucket, key);
  const temp = join(dirname(destPath), `.${basename(destPath)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  signal?.throwIfAborted();
  let response;
  try {
    response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw s3Error(err, { bucket, key, client });
  }
  const total = response.ContentLength ?? 0;
  const body = response.Body as Readable | undefined;
  if (!body) throw new FloyoError(`S3 returned no content for ${location}`, { file: location });

  const hash = createHash('sha256');
  let bytes = 0;
  let callbackError: unknown;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      if (onProgress) {
        try {
          onProgress(bytes, total);
        } catch (err) {
          callbackError = err;
          callback(err as Error);
          return;
        }
      }
      callback(null, chunk);
    },
  });
  if (signal?.aborted) {
    body.destroy();
    throw signal.reason;
  }
  const file = createWriteStream(temp, { flags: 'wx' });
  // pipeline passes the first error to every stream, so remember which side failed first
  let failedSide: 'network' | 'disk' | undefined;
  body.once('error', () => (failedSide ??= 'network'));
  file.once('error', () => (failedSide ??= 'disk'));
  try {
    await pipeline(body, meter, file, signal ? { signal } : {});
    if (total > 0 && bytes !== total) {
      throw new FloyoError(`download of ${location} was cut short: got ${bytes} of ${total} bytes`, { file: location });
    }
  } catch (err) {
    await rm(temp, { force: true });
    if (signal?.aborted) throw signal.reason;
    if (err === callbackError || err instanceof FloyoError) throw err;
    if (failedSide === 'disk') {
      throw new FloyoError(`cannot write ${destPath} (downloading ${location}): ${(err as Error).message}`, { file: destPath });
    }
    const reason = networkCode(err) ?? (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new FloyoError(`download of ${location} was cut short after ${bytes} of ${total} bytes (${reason}); try again`, { file: location });
  }
  try {
    await rename(temp, destPath);
  } catch (err) {
    await rm(temp, { force: true });
    throw new FloyoError(`cannot write ${destPath} (downloading ${location}): ${(err as Error).message}`, { file: destPath });
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** One object for S3Prefetcher: where it is, its size as listed (what the byte bound counts) and the file it goes to. */
export interface PrefetchObject {
  bucket: string;
  key: string;
  bytes: number;
  dest: string;
}

export interface PrefetchOptions {
  /** downloads at once, at most; 1 (or less) downloads each object only when it is asked for, nothing ahead */
  concurrency: number;
  /**
   * No download starts ahead while the objects started and not yet released hold this many bytes (as
   * listed), so that several large objects never fill the disk at once; an object larger than this is
   * downloaded alone, once every earlier one is released.
   */
  maxBytes: number;
  /** bytes received by any of the downloads since the last call (one progress bar for them all) */
  onBytes?: (bytes: number) => void;
  /** one object's download ended, either way: `failed` when it did not complete (an error, or stopped) */
  onSettled?: (object: PrefetchObject, failed: boolean) => void;
}

export interface Downloaded {
  /** the object's file (PrefetchObject.dest) */
  path: string;
  bytes: number;
  sha256: string;
}

interface PrefetchSlot {
  object: PrefetchObject;
  abort: AbortController;
  download?: Promise<Downloaded>;
  /** started and not yet released: its file is (or will be) on disk */
  held: boolean;
  settled: boolean;
}

/**
 * Downloads objects ahead of their use. The caller takes them strictly in order: get(i) for object i's
 * download (a FloyoError rejection fails that object alone), release(i) once it is done with the file.
 * While it works on one, up to `concurrency` of the next ones download, at most 2 × concurrency objects
 * are held at once (started, not released), and the byte bound holds (see PrefetchOptions). close()
 * stops every download still running, waits for them to end and removes every file not yet released.
 */
export class S3Prefetcher {
  private readonly slots: PrefetchSlot[];
  private readonly window: number;
  private next = 0;
  private inFlight = 0;
  private held = 0;
  private heldBytes = 0;
  private closed = false;

  constructor(
    private readonly client: S3Client,
    objects: PrefetchObject[],
    private readonly options: PrefetchOptions,
  ) {
    this.slots = objects.map((object) => ({ object, abort: new AbortController(), held: false, settled: false }));
    this.window = options.concurrency > 1 ? 2 * options.concurrency : 1;
    this.pump();
  }

  /** Object i's download, started now if it was not yet (its turn has come, whatever the bounds). */
  get(i: number): Promise<Downloaded> {
    if (this.closed) throw new Error('S3Prefetcher: get after close');
    while (this.next <= i) this.start(this.next++);
    return this.slots[i].download!;
  }

  /** The caller is done with object i: its file goes (after its download ends, if it is still running), and the next may start. */
  release(i: number): void {
    const slot = this.slots[i];
    if (!slot.held) return;
    slot.held = false;
    this.held--;
    this.heldBytes -= slot.object.bytes;
    if (slot.settled) {
      rmSync(slot.object.dest, { force: true });
    } else {
      slot.abort.abort(new Error('download no longer needed'));
      slot.download!.finally(() => rmSync(slot.object.dest, { force: true })).catch(() => undefined);
    }
    this.pump();
  }

  /** Stops the downloads still running, waits for them to end and removes every downloaded file. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) if (!slot.settled) slot.abort.abort(new Error('download stopped: the ingest ended'));
    await Promise.allSettled(this.slots.map((slot) => slot.download));
    for (const slot of this.slots) if (slot.download) rmSync(slot.object.dest, { force: true });
  }

  private pump(): void {
    if (this.options.concurrency <= 1) return;
    while (!this.closed && this.next < this.slots.length && this.inFlight < this.options.concurrency && this.held < this.window) {
      if (this.held > 0 && this.heldBytes + this.slots[this.next].object.bytes > this.options.maxBytes) break;
      this.start(this.next++);
    }
  }

  private start(i: number): void {
    const slot = this.slots[i];
    const { object } = slot;
    slot.held = true;
    this.held++;
    this.heldBytes += object.bytes;
    this.inFlight++;
    let reported = 0;
    const onProgress = this.options.onBytes
      ? (bytes: number) => {
          this.options.onBytes!(bytes - reported);
          reported = bytes;
        }
      : undefined;
    let failed = false;
    slot.download = downloadS3Object(this.client, object.bucket, object.key, object.dest, onProgress, slot.abort.signal).then(
      (result) => ({ path: object.dest, ...result }),
      (err: unknown) => {
        failed = true;
        throw err;
      },
    ).finally(() => {
      slot.settled = true;
      this.inFlight--;
      this.options.onSettled?.(object, failed);
      this.pump();
    });
    // get() hands the outcome over; a download nobody asks for any more (the run stopped) ends unseen
    slot.download.catch(() => undefined);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

const ACCESS_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled']);

interface Where {
  bucket: string;
  prefix?: string;
  key?: string;
  client?: S3Client;
}

/**
 * Any failure of an S3 call → a FloyoError with one line that names the location and says what to do.
 * Errors that are not about S3 (a bug) are returned unchanged.
 */
export function s3Error(err: unknown, where: Where): Error {
  if (err instanceof FloyoError) return err;
  const location = formatS3Url(where.bucket, where.key ?? where.prefix ?? '');
  const context = { file: location };
  const e = err as { name?: string; message?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? '';
  const message = (e?.message ?? '').split('\n')[0];

  if (name === 'CredentialsProviderError') {
    return new FloyoError(
      `no AWS credentials found for ${location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, ` +
        'or run where a container or instance role is available',
      context,
    );
  }
  if (causes(err).some((c) => /wrong version number/i.test(c.message ?? '') || c.code === 'ERR_SSL_WRONG_VERSION_NUMBER')) {
    // OpenSSL read a reply that is not TLS: a plain-HTTP server behind an https:// endpoint
    return new FloyoError(
      `S3 endpoint ${endpointOf(where.client, err)} did not answer in TLS for ${location} (it speaks plain HTTP?): ` +
        'the scheme of s3.endpoint is probably wrong; try http://',
      context,
    );
  }
  const network = networkCode(err);
  if (network) {
    return new FloyoError(`cannot reach S3 endpoint ${endpointOf(where.client, err)} (${network}) for ${location}; check s3.endpoint and that the server is up`, context);
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return new FloyoError(`S3 endpoint ${endpointOf(where.client, err)} timed out for ${location}: ${message}`, context);
  }
  if (err instanceof S3ServiceException || e?.$metadata !== undefined) {
    const code = e.Code ?? name;
    const status = e.$metadata?.httpStatusCode;
    const detail = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
    if (isCodelessNotFound(err)) {
      return new EndpointNotS3(
        `S3 endpoint ${endpointOf(where.client, err)} answered 404 Not Found for ${location} without an S3 error code ` +
          '(S3 says NoSuchBucket or NoSuchKey): it does not look like an S3 server, or its path is wrong; check s3.endpoint',
        context,
      );
    }
    if (code === 'NoSuchBucket') return new FloyoError(`bucket ${where.bucket} does not exist (${location})`, context);
    if (code === 'NoSuchKey') return new FloyoError(`object ${location} does not exist`, context);
    if (ACCESS_CODES.has(code) || status === 403) {
      return new FloyoError(
        `access to ${location} was refused (${detail}); check credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) ` +
          'and that they may read this bucket',
        context,
      );
    }
    if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) {
      return new FloyoError(`bucket ${where.bucket} is in another region than the configured s3.region (${detail}) for ${location}`, context);
    }
    return new FloyoError(`S3 request for ${location} failed: ${detail}${status ? ` (HTTP ${status})` : ''}`, context);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** The error and every error it wraps (causes, and the attempts of an AggregateError). */
function causes(err: unknown): Array<{ code?: string; message?: string }> {
  const e = err as { code?: string; message?: string; errors?: unknown[]; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return [];
  return [e, ...(e.errors ?? []).flatMap(causes), ...causes(e.cause)];
}

function networkCode(err: unknown): string | undefined {
  const e = err as { code?: string; errors?: unknown[]; cause?: unknown } | undefined;
  if (!e) return undefined;
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  // Node's happy-eyeballs connect reports an AggregateError with one error per address tried.
  for (const inner of e.errors ?? []) {
    const code = networkCode(inner);
    if (code) return code;
  }
  return e.cause ? networkCode(e.cause) : undefined;
}

function endpointOf(client: S3Client | undefined, err: unknown): string {
  const fromError = (e: unknown): string | undefined => {
    const x = e as { address?: string; port?: number; hostname?: string; errors?: unknown[]; cause?: unknown } | undefined;
    if (!x) return undefined;
    if (x.hostname) return x.hostname;
    if (x.address) return x.port ? `${x.address}:${x.port}` : x.address;
    for (const inner of x.errors ?? []) {
      const found = fromError(inner);
      if (found) return found;
    }
    return fromError(x.cause);
  };
  return (client && ENDPOINTS.get(client)) ?? fromError(err) ?? '(the AWS default for the region)';
}

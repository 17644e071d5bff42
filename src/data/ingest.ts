// Ingestion: locations → sources (identified by content) → records → canonical lines → the warehouse.
// Every source is all-or-nothing, and its counts reconcile: read = accepted + quarantined + excluded.
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Progress, ProgressFactory } from '../cli/progress.js';
import { FloyoError } from '../errors.js';
import { onInterrupt, settleBeforeStop } from '../interrupt.js';
import { FilesNotRead, resolveLocalLocation, isS3, type NotRead, type SourceRef } from './locations.js';
import { mappedColumns, mappingLabel, type Mapping } from './mapping.js';
import { detectFormat, openRecords, type Format } from './records.js';
import { createRowMapper, requireColumns, type CanonicalLine, type Quarantined, type RowRules } from './rows.js';
import type * as S3Module from './s3.js';
import type { PrefetchOptions, S3Prefetcher, S3Settings } from './s3.js';
import { roundMoney } from './values.js';
import { sqlString, type Warehouse } from './warehouse.js';

export interface IngestRequest {
  locations: string[];
  mapping: Mapping;
  /** 'auto' or a format name; the mapping's own format is used when this is 'auto' */
  format: string;
  s3: S3Settings;
  rules: RowRules;
  progress: ProgressFactory;
  /** told when an S3 request failed and is tried again (see S3ClientOptions.onRetry) */
  onS3Retry?: (message: string) => void;
  cwd?: string;
  /** ingest sources again even when their content was ingested before, replacing that earlier ingest (after a mapping fix) */
  replace?: boolean;
  /** S3 downloads ahead of the load (defaults: S3_PREFETCH). Internal, for benchmarks and tests: not a setting. */
  s3Prefetch?: Partial<S3PrefetchOptions>;
}

export type S3PrefetchOptions = Pick<PrefetchOptions, 'concurrency' | 'maxBytes'>;

/**
 * While one source loads, the next S3 objects download: a thousand small objects spent two thirds of
 * their time waiting on round trips to S3, one at a time. A few at once hide the latency; the byte bound
 * keeps several multi-GB objects from filling the home's disk together (one larger than it comes alone).
 */
export const S3_PREFETCH: S3PrefetchOptions = { concurrency: 4, maxBytes: 256 * 2 ** 20 };

/** What happened to the rows: read = accepted + quarantined + excluded, always. */
export interface RowCounts {
  rowsRead: number;
  rowsAccepted: number;
  rowsQuarantined: number;
  rowsExcluded: number;
  quarantinedByReason: Record<string, number>;
  excludedByReason: Record<string, number>;
  ordersReplaced: number;
  linesReplaced: number;
  /**
   * With a mapping that reads an order's refunded amount: the orders refunded more than the value of their
   * lines kept (shipping, tax, lines a rule excluded), and by how much in all; that part is no goods spend.
   */
  refundsBeyondLines?: { orders: number; amount: number };
}

export interface SourceSummary extends RowCounts {
  location: string;
  fingerprint: string | null;
  format: string | null;
  bytes: number;
  status: 'ingested' | 'already ingested' | 'failed';
  error?: string;
  /** where the time went: reading and mapping the rows, and loading them into the warehouse */
  timingsMs?: { read: number; load: number };
  /** the name said another format than the content (gzip or Parquet magic bytes), and the content was read */
  formatNote?: string;
  /** for 'already ingested': the location it was first ingested from */
  firstIngestedFrom?: string;
  /** with replace: the same content had been ingested before, and that ingest's lines were replaced */
  reingested?: boolean;
  /**
   * The location was ingested before with other content (an export corrected in place, a file name reused):
   * those earlier sources, and their orders still in the warehouse (orders the new content does not hold).
   */
  earlierContent?: { sources: number; ordersKept: number };
}

export interface IngestSummary extends RowCounts {
  quarantineFile: string | null;
  sourcesIngested: number;
  sourcesSkipped: number;
  sourcesFailed: number;
  sources: SourceSummary[];
  /** files and objects the folders, globs and prefixes held besides the data read: said, so none is skipped unseen */
  filesNotRead: NotRead;
  warehouse: WarehouseTotals;
  seconds: number;
}

export interface WarehouseTotals {
  path: string;
  rows: number;
  orders: number;
  customers: number;
  products: number;
  from: string | null;
  to: string | null;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

const NEEDS_QUOTES = /[\t\n\r"]/;

/**
 * Text for the staged TSV that DuckDB bulk-loads: quoted only when needed, \N for NULL. Lines end in
 * '\n' only; a '\r' or '\n' inside a value is quoted and read back as it is (see STAGED_CSV_OPTIONS).
 */
function cell(value: string | null): string {
  if (value === null) return '\\N';
  if (value === '\\N' || NEEDS_QUOTES.test(value)) return `"${value.replace(/"/g, '""')}"`;
  return value;
}

/** Lines per staged part: big enough for DuckDB's parallel reader, small enough to overlap with parsing. */
const PART_LINES = 65_536;

/** DuckDB settings while a source loads (reset afterwards). */
const LOAD_SETTINGS = {
  // The load runs beside this thread's parsing, so DuckDB gets the other cores: on two cores, a second
  // DuckDB thread only competed with the parser (0.9 s more CPU in all, no faster load, a slower commit).
  threads: Math.max(1, availableParallelism() - 1),
  // Each row group is compressed and written as soon as it is full, while parsing goes on, rather than
  // five at a time (0.5 s in one go, late in the load or at the commit, with nothing to overlap it).
  write_buffer_row_group_count: 1,
};

const STAGED_COLUMNS =
  "{'row_number':'BIGINT','order_id':'VARCHAR','customer_id':'VARCHAR','product_id':'VARCHAR','product_name':'VARCHAR'," +
  "'quantity':'DOUBLE','unit_price':'DOUBLE','refunded':'DOUBLE','is_return':'BOOLEAN','ts_ms':'BIGINT','country':'VARCHAR','currency':'VARCHAR'}";

// new_line is set because the staged lines always end in '\n': left unset, DuckDB's strict mode takes a
// '\r' inside a quoted value (a CRLF or a lone CR in a description) for a second line-end style and
// fails the whole load ("The CSV Parser state machine reached an invalid state").
const STAGED_CSV_OPTIONS =
  `delim='\t', new_line='\\n', header=false, quote='"', escape='"', nullstr='\\N', allow_quoted_nulls=false, auto_detect=false, columns=${STAGED_COLUMNS}`;

export async function ingest(warehouse: Warehouse, request: IngestRequest): Promise<IngestSummary> {
  const started = Date.now();
  const tmp = join(warehouse.home, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const quarantineFile = join(warehouse.home, 'quarantine', `ingest-${runId}.ndjson`);

  // Resolve every location first: a typo in the third location should not leave two ingested.
  const refs: SourceRef[] = [];
  const notRead = new FilesNotRead();
  let s3: S3 | null = null;
  for (const location of request.locations) {
    if (isS3(location)) {
      // loaded on demand: the AWS SDK adds noticeable start-up time to purely local ingests
      s3 ??= await loadS3(request.s3, request.onS3Retry);
      const { parseS3Url, listS3DataObjects, client: s3client } = s3;
      const { bucket, prefix } = parseS3Url(location);
      // listS3DataObjects throws when nothing under the prefix is data, naming what it skipped
      for await (const obj of listS3DataObjects(s3client, bucket, prefix, notRead)) {
        refs.push({ kind: 's3', location: `s3://${bucket}/${obj.key}`, bucket, key: obj.key, bytes: obj.size, etag: obj.etag });
      }
    } else {
      refs.push(...resolveLocalLocation(location, request.cwd, notRead));
    }
  }

  // S3 objects are planned before any download: those ingested before are skipped without one, the
  // others download ahead of their turn. Everything that touches the warehouse stays one source at a
  // time, in the order of the locations, so the outcome is the same as downloading each in its turn.
  const plans = await planS3(warehouse, refs, request);
  const prefetched = plans.filter((p): p is Extract<S3Plan, { kind: 'prefetch' }> => p?.kind === 'prefetch');
  let prefetcher: S3Prefetcher | null = null;
  let downloadBar: Progress | null = null;
  if (prefetched.length) {
    const options = { ...S3_PREFETCH, ...request.s3Prefetch };
    const objects = prefetched.map(({ ref, slot }) => ({
      bucket: ref.bucket, key: ref.key, bytes: ref.bytes,
      // the slot keeps two keys with the same name under different prefixes apart
      dest: join(tmp, `download-${process.pid}-${slot}-${basename(ref.key).replace(/[^\w.-]/g, '_')}`),
    }));
    // one bar for all the downloads: they run side by side, and each source's load has its own
    const totalBytes = objects.reduce((n, o) => n + o.bytes, 0);
    const bar = request.progress(objects.length === 1 ? `download ${prefetched[0].ref.location}` : `download ${objects.length.toLocaleString('en-US')} S3 objects`, 'bytes');
    downloadBar = bar;
    let bytes = 0;
    let settled = 0;
    let failed = 0;
    const count = (n: number) => `${n.toLocaleString('en-US')} object${n === 1 ? '' : 's'}`;
    prefetcher = new s3!.S3Prefetcher(s3!.client, objects, {
      ...options,
      onBytes: (b) => bar.update((bytes += b), totalBytes, `${settled}/${objects.length} objects`),
      onSettled: (_object, didFail) => {
        if (didFail) failed++;
        if (++settled === objects.length) {
          // the bar's last line must not read as success before the failure is reported
          bar.done(failed
            ? `failed: ${failed.toLocaleString('en-US')} of ${count(objects.length)} not downloaded (${bytes} of ${totalBytes} bytes)`
            : `${count(objects.length)}, ${bytes} bytes`);
          downloadBar = null;
        } else bar.update(bytes, totalBytes, `${settled}/${objects.length} objects`);
      },
    });
  }

  const sources: SourceSummary[] = [];
  try {
    for (const [i, ref] of refs.entries()) {
      sources.push(await ingestSource(warehouse, ref, request, { tmp, quarantineFile, s3, prefetcher }, plans[i]));
    }
  } finally {
    // a run that stops early leaves no download running and no downloaded file behind
    await prefetcher?.close();
    downloadBar?.done('stopped');
  }

  const total: IngestSummary = {
    rowsRead: 0, rowsAccepted: 0, rowsQuarantined: 0, rowsExcluded: 0,
    quarantinedByReason: {}, excludedByReason: {}, ordersReplaced: 0, linesReplaced: 0,
    ...refundCounts(request.mapping),
    quarantineFile: existsSync(quarantineFile) ? quarantineFile : null,
    sourcesIngested: sources.filter((s) => s.status === 'ingested').length,
    sourcesSkipped: sources.filter((s) => s.status === 'already ingested').length,
    sourcesFailed: sources.filter((s) => s.status === 'failed').length,
    sources,
    filesNotRead: notRead.summary(),
    warehouse: await warehouseTotals(warehouse),
    seconds: (Date.now() - started) / 1000,
  };
  for (const s of sources) {
    if (s.status !== 'ingested') continue;
    total.rowsRead += s.rowsRead;
    total.rowsAccepted += s.rowsAccepted;
    total.rowsQuarantined += s.rowsQuarantined;
    total.rowsExcluded += s.rowsExcluded;
    total.ordersReplaced += s.ordersReplaced;
    total.linesReplaced += s.linesReplaced;
    if (s.refundsBeyondLines && total.refundsBeyondLines) {
      total.refundsBeyondLines.orders += s.refundsBeyondLines.orders;
      total.refundsBeyondLines.amount = roundMoney(total.refundsBeyondLines.amount + s.refundsBeyondLines.amount);
    }
    addCounts(total.quarantinedByReason, s.quarantinedByReason);
    addCounts(total.excludedByReason, s.excludedByReason);
  }
  return total;
}

type S3Functions = typeof S3Module;
interface S3 extends S3Functions {
  client: ReturnType<S3Functions['createS3Client']>;
}

async function loadS3(settings: S3Settings, onRetry?: (message: string) => void): Promise<S3> {
  const mod = await import('./s3.js');
  return { ...mod, client: mod.createS3Client(settings, { onRetry }) };
}

interface RunPaths {
  tmp: string;
  quarantineFile: string;
  s3: S3 | null;
  prefetcher: S3Prefetcher | null;
}

type S3Ref = Extract<SourceRef, { kind: 's3' }>;

/**
 * What to do with an S3 object, decided before any download: `known`, ingested before from this key with
 * this ETag and size (sha256 of that ingest): skipped without a download; `prefetch`: downloaded ahead,
 * the prefetcher's object `slot`; `check` (a key listed again in this run, which an earlier turn of
 * this run may ingest): checked and downloaded in its turn, as each object once was. Null for local files.
 */
type S3Plan = { kind: 'known'; sha256: string } | { kind: 'prefetch'; ref: S3Ref; slot: number } | { kind: 'check' } | null;

async function planS3(warehouse: Warehouse, refs: SourceRef[], request: IngestRequest): Promise<S3Plan[]> {
  const s3refs = refs.filter((r): r is S3Ref => r.kind === 's3');
  const known = new Map<string, string>();
  const id = (location: string, etag: string, bytes: number) => JSON.stringify([location, etag, bytes]);
  if (!request.replace && s3refs.length) {
    // one query per thousand keys, where each object cost one before its download
    const locations = [...new Set(s3refs.map((r) => r.location))];
    for (let i = 0; i < locations.length; i += 1000) {
      const rows = await warehouse.query<{ location: string; etag: string; bytes: number; sha256: string }>(
        `SELECT location, etag, bytes, sha256 FROM sources WHERE etag IS NOT NULL AND location IN (${locations.slice(i, i + 1000).map(sqlString).join(', ')})`,
      );
      for (const r of rows) {
        const key = id(r.location, r.etag, Number(r.bytes));
        if (!known.has(key)) known.set(key, r.sha256);
      }
    }
  }
  const listed = new Set<string>();
  let slot = 0;
  return refs.map((ref): S3Plan => {
    if (ref.kind !== 's3') return null;
    const again = listed.has(ref.location);
    listed.add(ref.location);
    if (again) return { kind: 'check' };
    const sha256 = known.get(id(ref.location, ref.etag, ref.bytes));
    return sha256 !== undefined ? { kind: 'known', sha256 } : { kind: 'prefetch', ref, slot: slot++ };
  });
}

/** refundsBeyondLines at zero, for a mapping that reads refunds (the key is there only then). */
function refundCounts(mapping: Mapping): Pick<RowCounts, 'refundsBeyondLines'> {
  return mapping.columns.refundedAmount !== undefined ? { refundsBeyondLines: { orders: 0, amount: 0 } } : {};
}

async function ingestSource(warehouse: Warehouse, ref: SourceRef, request: IngestRequest, run: RunPaths, plan: S3Plan): Promise<SourceSummary> {
  const summary: SourceSummary = {
    location: ref.location, fingerprint: null, format: null, bytes: ref.bytes, status: 'failed',
    rowsRead: 0, rowsAccepted: 0, rowsQuarantined: 0, rowsExcluded: 0,
    quarantinedByReason: {}, excludedByReason: {}, ordersReplaced: 0, linesReplaced: 0,
    ...refundCounts(request.mapping),
  };
  let downloaded: string | null = null;
  try {
    let path: string;
    let sha256: string;
    if (ref.kind === 's3' && plan?.kind === 'prefetch') {
      // downloaded ahead, or now if its turn came first; the file goes once this source is done (finally)
      const result = await run.prefetcher!.get(plan.slot);
      path = result.path;
      sha256 = result.sha256;
      summary.bytes = result.bytes;
    } else if (ref.kind === 's3') {
      // An object already ingested under the same key, size and ETag is not downloaded again (unless replacing).
      const known = plan?.kind === 'known' ? [{ sha256: plan.sha256 }] : request.replace ? [] : await warehouse.query<{ sha256: string }>(
        `SELECT sha256 FROM sources WHERE location = ${sqlString(ref.location)} AND etag = ${sqlString(ref.etag)} AND bytes = ${ref.bytes} LIMIT 1`,
      );
      if (known.length) {
        summary.fingerprint = known[0].sha256.slice(0, 16);
        summary.status = 'already ingested';
        summary.firstIngestedFrom = ref.location;
        return summary;
      }
      downloaded = join(run.tmp, `download-${process.pid}-again-${basename(ref.key).replace(/[^\w.-]/g, '_')}`);
      const bar = request.progress(`download ${ref.location}`, 'bytes');
      let received = 0;
      const result = await run.s3!.downloadS3Object(run.s3!.client, ref.bucket, ref.key, downloaded, (b, t) => bar.update((received = b), t)).catch((err: unknown) => {
        bar.done(`failed: not downloaded (${received} of ${ref.bytes} bytes)`);
        throw err;
      });
      bar.done(`${result.bytes} bytes`);
      path = downloaded;
      sha256 = result.sha256;
      summary.bytes = result.bytes;
    } else {
      path = ref.path;
      sha256 = await sha256File(path);
    }
    const fingerprint = sha256.slice(0, 16);
    summary.fingerprint = fingerprint;
    const seen = await warehouse.query<{ location: string }>(`SELECT location FROM sources WHERE sha256 = ${sqlString(sha256)}`);
    summary.reingested = seen.length > 0 && request.replace === true;
    if (seen.length && !summary.reingested) {
      summary.status = 'already ingested';
      summary.firstIngestedFrom = seen[0].location;
      if (ref.kind === 's3') {
        // remember this key's ETag too, so the next run skips it without a download
        await warehouse.run(`UPDATE sources SET etag = ${sqlString(ref.etag)} WHERE sha256 = ${sqlString(sha256)} AND location = ${sqlString(ref.location)}`);
      }
      return summary;
    }
    if (summary.bytes === 0) throw new FloyoError(`${ref.location}: the file is empty (0 bytes)`, { file: ref.location });

    const { format, note } = detectFormat(path, ref.location, request.format !== 'auto' ? request.format : (request.mapping.format ?? 'auto'));
    summary.format = format;
    if (note) summary.formatNote = note;
    await loadSource(warehouse, path, format, ref, sha256, request, run, summary);
    summary.status = 'ingested';
    // Orders, not files, are the unit of identity: an export corrected in place replaces the orders it
    // holds, while an order it dropped keeps its earlier lines. Said, since that is rarely what was meant.
    // The transactions are read only when there is an earlier content: a thousand new objects would each scan them.
    const earlier = await warehouse.query<{ fingerprint: string }>(
      `SELECT fingerprint FROM sources WHERE location = ${sqlString(ref.location)} AND sha256 <> ${sqlString(sha256)}`,
    );
    if (earlier.length) {
      const [{ orders }] = await warehouse.query<{ orders: number }>(
        `SELECT count(DISTINCT order_id)::BIGINT AS orders FROM transactions WHERE source IN (${earlier.map((e) => sqlString(e.fingerprint)).join(', ')})`,
      );
      summary.earlierContent = { sources: earlier.length, ordersKept: orders };
    }
    return summary;
  } catch (err) {
    if (!(err instanceof FloyoError)) throw err;
    summary.status = 'failed';
    summary.error = err.message;
    // A source read to its end whose rows were all unusable keeps its counts (its quarantined rows are in
    // the quarantine file, to show what was wrong); any other failure stopped part-way: nothing to count.
    if (!(err instanceof NoRowUsable)) {
      summary.rowsRead = summary.rowsAccepted = summary.rowsQuarantined = summary.rowsExcluded = 0;
      summary.quarantinedByReason = {};
      summary.excludedByReason = {};
      Object.assign(summary, refundCounts(request.mapping));
    }
    // the transaction that replaced anything was rolled back: the earlier ingest stands
    summary.ordersReplaced = summary.linesReplaced = 0;
    summary.reingested = false;
    return summary;
  } finally {
    if (downloaded) rmSync(downloaded, { force: true });
    if (plan?.kind === 'prefetch') run.prefetcher!.release(plan.slot);
  }
}

async function loadSource(
  warehouse: Warehouse, path: string, format: Format, ref: SourceRef, sha256: string,
  request: IngestRequest, run: RunPaths, summary: SourceSummary,
): Promise<void> {
  const fingerprint = sha256.slice(0, 16);
  const quarantined = join(run.tmp, `quarantine-${process.pid}-${fingerprint}.ndjson`);
  const readStart = performance.now();
  const bar = request.progress(`ingest ${ref.location}`, 'bytes');
  const reader = await openRecords(path, format, {
    name: ref.location,
    delimiter: request.mapping.csv.delimiter,
    quote: request.mapping.csv.quote,
    encoding: request.mapping.csv.encoding,
    ndjsonColumns: mappedColumns(request.mapping),
    onBytes: (b, t) => bar.update(b, t),
    connection: warehouse.connection,
  });

  // Accepted lines are staged in parts of PART_LINES; DuckDB loads part N (see LOAD_SETTINGS) while this
  // thread parses part N+1, all inside one transaction. Lines are joined and written 1,024 at a time:
  // short-lived strings keep the young generation cheap to collect (1 MiB batches cost 4x the GC time).
  // A line is its cells joined with tabs: one flat string, where a template literal builds a tree of
  // partial strings per line (a third more time, most of it collecting them).
  // Parquet rows are read through the same DuckDB connection, so they load in one part after reading.
  const partLines = format === 'parquet' ? Infinity : PART_LINES;
  const db = warehouse;
  const parts: string[] = [];
  let began = false;
  let takeBackQuarantine: (() => void) | null = null;
  const begin = async () => {
    for (const [setting, value] of Object.entries(LOAD_SETTINGS)) await db.run(`SET ${setting} = ${value}`);
    await db.run('BEGIN TRANSACTION');
    began = true;
    if (summary.reingested) {
      // the earlier ingest of this content goes, in the same transaction, before its new lines arrive
      const [old] = await db.query<{ orders: number; lines: number }>(
        `SELECT count(DISTINCT order_id)::BIGINT AS orders, count(*)::BIGINT AS lines FROM transactions WHERE source = ${sqlString(fingerprint)}`,
      );
      summary.ordersReplaced += old.orders;
      summary.linesReplaced += old.lines;
      await db.run(`DELETE FROM transactions WHERE source = ${sqlString(fingerprint)}`);
      await db.run(`DELETE FROM sources WHERE fingerprint = ${sqlString(fingerprint)}`);
    }
  };
  let loading: Promise<void> = Promise.resolve();
  let loadError: unknown = null;
  let loadMs = 0;
  const loadPart = (file: string) => {
    loading = loading.then(async () => {
      if (loadError) return;
      const t0 = performance.now();
      try {
        if (!began) await begin();
        await db.run(
          `INSERT INTO transactions SELECT ${sqlString(fingerprint)}, row_number, order_id, customer_id, product_id, product_name, quantity, unit_price, ` +
            `quantity * unit_price, refunded, is_return, epoch_ms(ts_ms), country, currency ` +
            `FROM read_csv(${sqlString(file)}, ${STAGED_CSV_OPTIONS})`,
        );
      } catch (err) {
        loadError = err;
      } finally {
        rmSync(file, { force: true });
        loadMs += performance.now() - t0;
      }
    });
  };
  let stageFd: number | null = null;
  let partCount = 0;
  let qFd: number | null = null;
  let lines: string[] = [];
  const cells: Array<string | number> = new Array(12);
  let qLines: string[] = [];
  // orders with an excluded line: counted among the orders this source carries, so an order whose
  // lines were all excluded here (voided since) replaces its earlier lines too; with the first row,
  // customer and time of those lines, so that such an order is checked for a reused id like any other
  const excludedOrders = new Map<string, { row: number; customer: string | null; ts: number }>();
  // per quarantine reason, the first value seen: the error when a whole source is quarantined quotes it
  const examples = new Map<string, string | null>();
  const flush = (endOfPart: boolean) => {
    if (lines.length) {
      if (stageFd === null) {
        const file = join(run.tmp, `stage-${process.pid}-${fingerprint}-${parts.length}.tsv`);
        parts.push(file);
        stageFd = openSync(file, 'w');
      }
      lines.push(''); // the last line's end
      writeSync(stageFd, lines.join('\n'));
      lines = [];
    }
    if (endOfPart && stageFd !== null) {
      closeSync(stageFd);
      stageFd = null;
      partCount = 0;
      loadPart(parts[parts.length - 1]);
    }
    if (qLines.length) {
      qFd ??= openSync(quarantined, 'w');
      writeSync(qFd, qLines.join(''));
      qLines = [];
    }
  };
  const sink = {
    accept(l: CanonicalLine) {
      summary.rowsAccepted++;
      cells[0] = l.row;
      cells[1] = cell(l.orderId);
      cells[2] = cell(l.customerId);
      cells[3] = cell(l.productId);
      cells[4] = cell(l.productName);
      cells[5] = l.quantity;
      cells[6] = l.unitPrice;
      cells[7] = l.refunded;
      cells[8] = l.isReturn ? 1 : 0;
      cells[9] = l.ts;
      cells[10] = cell(l.country);
      cells[11] = cell(l.currency);
      lines.push(cells.join('\t'));
      if (lines.length >= 1024) flush(++partCount * 1024 >= partLines);
    },
    quarantine(q: Quarantined) {
      summary.rowsQuarantined++;
      const key = q.field ? `${q.reason}: ${q.field}` : q.reason;
      summary.quarantinedByReason[key] = (summary.quarantinedByReason[key] ?? 0) + 1;
      if (!examples.has(key)) examples.set(key, q.value);
      qLines.push(JSON.stringify({ source: ref.location, fingerprint, row: q.row, line: q.line, field: q.field, reason: q.reason, value: q.value, raw: q.raw ?? null }) + '\n');
      if (qLines.length >= 1024) flush(false);
    },
    exclude(reason: string, row: number, orderId: string, customerId: string, ts: number) {
      summary.rowsExcluded++;
      const seen = excludedOrders.get(orderId);
      if (seen === undefined) excludedOrders.set(orderId, { row, customer: customerId || null, ts });
      else {
        seen.customer ??= customerId || null;
        if (Number.isFinite(ts) && !(ts >= seen.ts)) seen.ts = ts;
      }
      summary.excludedByReason[reason] = (summary.excludedByReason[reason] ?? 0) + 1;
    },
    refundBeyondLines(excess: number) {
      summary.refundsBeyondLines!.orders++;
      summary.refundsBeyondLines!.amount = roundMoney(summary.refundsBeyondLines!.amount + excess);
    },
  };
  try {
    try {
      const mapper = createRowMapper(request.mapping, reader.columns, ref.location, request.rules, sink);
      for await (const batch of reader.batches) {
        summary.rowsRead += batch.length;
        for (const rec of batch) mapper.push(rec);
        if (loadError) break;
      }
      mapper.end();
      // objects name their keys row by row: a key the mapping reads that none had is known only now
      const keys = loadError ? null : (reader.keysSeen?.() ?? null);
      if (keys) requireColumns(request.mapping, keys, ref.location);
      flush(true);
    } finally {
      if (stageFd !== null) closeSync(stageFd);
      if (qFd !== null) closeSync(qFd);
      await loading; // never leave a part loading behind us
    }
    bar.done(`${summary.rowsRead.toLocaleString('en-US')} rows`);
    const readMs = performance.now() - readStart;
    if (loadError) throw loadError;
    if (summary.rowsAccepted === 0 && summary.rowsQuarantined > 0) {
      // nothing lands, but the quarantined rows are written: they show which rows and fields the mapping does not fit
      appendQuarantine(ref.location, run.quarantineFile, quarantined);
      throw allQuarantined(ref.location, summary, examples, request.mapping);
    }
    const tail = performance.now();
    if (!began) await begin(); // a source with no accepted line is still recorded
    // Orders are the unit of identity: lines of these orders from earlier sources give way to this
    // source's, also when this source excluded all of an order's lines (it was voided since).
    let ordersHere = `SELECT DISTINCT order_id FROM transactions WHERE source = ${sqlString(fingerprint)}`;
    if (excludedOrders.size) {
      await db.run('CREATE OR REPLACE TEMP TABLE ingest_excluded_orders (order_id VARCHAR, row BIGINT, customer_id VARCHAR, ts TIMESTAMP)');
      const orders = [...excludedOrders];
      const value = ([id, o]: [string, { row: number; customer: string | null; ts: number }]) =>
        `(${sqlString(id)}, ${o.row}, ${o.customer === null ? 'NULL' : sqlString(o.customer)}, ${Number.isFinite(o.ts) ? `epoch_ms(${o.ts})` : 'NULL'})`;
      for (let i = 0; i < orders.length; i += 1000) {
        await db.run(`INSERT INTO ingest_excluded_orders VALUES ${orders.slice(i, i + 1000).map(value).join(', ')}`);
      }
      ordersHere += ' UNION SELECT order_id FROM ingest_excluded_orders';
    }
    const earlier = `source <> ${sqlString(fingerprint)} AND order_id IN (${ordersHere})`;
    await refuseReusedOrderIds(db, fingerprint, ref.location);
    const [replaced] = await db.query<{ orders: number; lines: number }>(
      `SELECT count(DISTINCT order_id)::BIGINT AS orders, count(*)::BIGINT AS lines FROM transactions WHERE ${earlier}`,
    );
    if (replaced.orders > 0) await refuseReplacingOtherOrders(db, fingerprint, ref.location, earlier, excludedOrders.size > 0);
    summary.ordersReplaced += replaced.orders;
    summary.linesReplaced += replaced.lines;
    if (replaced.lines > 0) await db.run(`DELETE FROM transactions WHERE ${earlier}`);
    if (excludedOrders.size) await db.run('DROP TABLE ingest_excluded_orders');
    const quarantineFile = summary.rowsQuarantined ? run.quarantineFile : null;
    await db.run(
      `INSERT INTO sources VALUES (${sqlString(fingerprint)}, ${sqlString(sha256)}, ${sqlString(ref.location)}, ${sqlString(format)}, ${summary.bytes}, ` +
        `${ref.kind === 's3' ? sqlString(ref.etag) : 'NULL'}, ${request.mapping.name ? sqlString(request.mapping.name) : 'NULL'}, ` +
        `${summary.rowsRead}, ${summary.rowsAccepted}, ${summary.rowsQuarantined}, ${summary.rowsExcluded}, ${summary.ordersReplaced}, ${summary.linesReplaced}, ` +
        `${quarantineFile ? sqlString(quarantineFile) : 'NULL'}, now()::TIMESTAMP)`,
    );
    // The quarantined rows are written before the COMMIT and taken out again if it fails: a quarantine
    // that cannot be written fails the source, and never leaves its lines in with no account of the rest
    // (a process killed between the two leaves the rows without the lines, the lesser harm).
    if (quarantineFile) takeBackQuarantine = appendQuarantine(ref.location, quarantineFile, quarantined);
    // stopped by a signal before the COMMIT, the rows go too; a stop during it waits for it to settle, since
    // the COMMIT goes on in DuckDB's thread and lands all the same: taking the rows out then lost them
    const forget = takeBackQuarantine ? onInterrupt(takeBackQuarantine) : () => undefined;
    try {
      await settleBeforeStop(async () => {
        await db.run('COMMIT');
        forget();
      });
    } finally {
      forget();
    }
    began = false;
    // read: parsing and mapping (overlapping the load); load: DuckDB's inserts plus the work after reading
    summary.timingsMs = { read: Math.round(readMs), load: Math.round(loadMs + performance.now() - tail) };
  } catch (err) {
    if (began) {
      await db.run('ROLLBACK').catch(() => undefined);
      takeBackQuarantine?.();
    }
    throw err instanceof FloyoError ? err : new FloyoError(`${ref.location}: loading into the warehouse failed: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    // back to DuckDB's defaults for whatever runs next; a failure here must not hide the error on its way out
    for (const setting of Object.keys(LOAD_SETTINGS)) await db.run(`RESET ${setting}`).catch(() => undefined);
    for (const file of parts) rmSync(file, { force: true });
    rmSync(quarantined, { force: true });
  }
}

/**
 * Appends a source's quarantined rows to the run's quarantine file, and returns what takes them back
 * out (the file as it was before). A failed write is the source's failure: rows it could not keep
 * must not be counted as quarantined.
 */
function appendQuarantine(location: string, quarantineFile: string, sourceRows: string): () => void {
  const existed = existsSync(quarantineFile);
  const size = existed ? statSync(quarantineFile).size : 0;
  const takeBack = () => {
    try {
      if (existed) truncateSync(quarantineFile, size);
      else rmSync(quarantineFile, { force: true });
    } catch {
      // the failure being reported says more than this one would
    }
  };
  try {
    mkdirSync(dirname(quarantineFile), { recursive: true });
    appendFileSync(quarantineFile, readFileSync(sourceRows));
  } catch (err) {
    takeBack();
    throw new FloyoError(
      `${location}: its quarantined rows could not be written to ${quarantineFile} (${(err as Error).message})`,
      { file: location },
    );
  }
  return takeBack;
}

/** One line of an order as the reused-id messages quote it. */
interface OrderLine {
  location: string;
  row: number;
  customer: string | null;
  day: string;
}

const quoteLine = (l: OrderLine) => `${l.location} row ${l.row}: ${l.day}, ${l.customer === null ? 'a guest' : `customer ${JSON.stringify(l.customer)}`}`;

const UNIQUE_ID_HINT =
  'Floyo takes the lines of one order id as one order. If the numbers restart (each day, or per till or store), ' +
  'make the id unique in the mapping, e.g. orderId: { columns: [<date column>, <receipt column>] }';

/** Per order of the lines `where` selects: its first row, its customer (guest lines aside; two when they differ) and its purchases' first and last time. */
const perOrder = (where: string) =>
  `SELECT order_id, source, min(row_number) AS row, min(customer_id) AS customer, max(customer_id) AS other_customer,
          min(ts) FILTER (WHERE NOT is_return) AS first, max(ts) FILTER (WHERE NOT is_return) AS last
   FROM transactions WHERE ${where} GROUP BY order_id, source`;

/**
 * An order id names one order: its lines are one customer's, and its purchases fall within a day (returns
 * may come later). Ids that name several orders (receipt numbers that restart each day or per till) would
 * merge them into one: the source is refused (nothing of it lands), naming an example and the fix.
 */
async function refuseReusedOrderIds(db: Warehouse, fingerprint: string, location: string): Promise<void> {
  const here = `source = ${sqlString(fingerprint)}`;
  const reused = 'customer <> other_customer OR last - first > INTERVAL 1 DAY';
  const [within] = await db.query<{ reused: number; orders: number; example: string | null }>(
    `SELECT count(*) FILTER (WHERE ${reused})::BIGINT AS reused, count(*)::BIGINT AS orders, arg_min(order_id, row) FILTER (WHERE ${reused}) AS example
     FROM (${perOrder(here)})`,
  );
  if (within.reused > 0) {
    const id = sqlString(within.example!);
    // the order's first line, its first customer's line (the first line may be a guest's), and the first
    // line that is another customer's or bought more than a day after the first
    const lines = await db.query<OrderLine>(
      `WITH o AS (SELECT row_number AS row, customer_id AS customer, ts, is_return FROM transactions WHERE ${here} AND order_id = ${id}),
            f AS (SELECT * FROM o ORDER BY row LIMIT 1),
            c AS (SELECT * FROM o WHERE customer IS NOT NULL ORDER BY row LIMIT 1)
       SELECT ${sqlString(location)} AS location, row, customer, strftime(ts, '%Y-%m-%d') AS day FROM (
         SELECT * FROM f UNION SELECT * FROM c UNION
         (SELECT o.* FROM o, f LEFT JOIN c ON true WHERE o.customer <> c.customer
            OR NOT o.is_return AND abs(date_diff('second', o.ts, f.ts)) > 86400 ORDER BY o.row LIMIT 1)
       ) ORDER BY row`,
    );
    throw new FloyoError(
      `${location}: ${within.reused.toLocaleString('en-US')} of its ${within.orders.toLocaleString('en-US')} order ids name several orders: ` +
        `lines of other customers, or bought on days far apart (order ${JSON.stringify(within.example)}: ${lines.map(quoteLine).join('; ')}). ` +
        `${UNIQUE_ID_HINT}`,
      { file: location, row: lines[lines.length - 1]?.row, field: 'orderId' },
    );
  }
}

/**
 * This source's orders replace the lines of earlier sources' orders of the same ids (`earlier` selects
 * those lines): right for a corrected export, which keeps an order's time (its customer may have been
 * fixed: ids written another way), but another order of the same number (another day, or another
 * customer's at another time: receipts numbered per till or store) would lose its lines. Refused.
 */
async function refuseReplacingOtherOrders(db: Warehouse, fingerprint: string, location: string, earlier: string, withExcluded: boolean): Promise<void> {
  const here = `source = ${sqlString(fingerprint)}`;
  // this source's orders: those with accepted lines, and those whose lines were all excluded (voided since, or a
  // fee line alone), by their excluded lines (ingest_excluded_orders)
  const onlyExcluded = withExcluded
    ? ` UNION ALL SELECT order_id, ${sqlString(fingerprint)}, min(row), min(customer_id), max(customer_id), min(ts), max(ts) FROM ingest_excluded_orders
        WHERE order_id NOT IN (SELECT order_id FROM transactions WHERE ${here}) GROUP BY order_id`
    : '';
  const [across] = await db.query<{ reused: number; lines: number; example: string | null }>(
    `WITH h AS (${perOrder(here)}${onlyExcluded}), e AS (${perOrder(earlier)}),
          r AS (SELECT e.order_id, e.source, e.row FROM e JOIN h USING (order_id)
                WHERE e.customer <> h.customer AND e.first <> h.first OR abs(date_diff('second', e.first, h.first)) > 86400)
     SELECT count(DISTINCT order_id)::BIGINT AS reused, arg_min(order_id, row) AS example,
            (SELECT count(*) FROM transactions t WHERE t.source <> ${sqlString(fingerprint)} AND t.order_id IN (SELECT order_id FROM r))::BIGINT AS lines
     FROM r`,
  );
  if (across.reused > 0) {
    const id = sqlString(across.example!);
    const lines = await db.query<OrderLine>(
      // every other source with this order id is one this source would replace; this one is not in sources yet
      `SELECT coalesce(s.location, ${sqlString(location)}) AS location, min(t.row_number) AS row, min(t.customer_id) AS customer,
              strftime(min(t.ts), '%Y-%m-%d') AS day
       FROM transactions t LEFT JOIN sources s ON s.fingerprint = t.source
       WHERE t.order_id = ${id} GROUP BY s.location, t.source ORDER BY t.source = ${sqlString(fingerprint)}, row`,
    );
    if (withExcluded && !lines.some((l) => l.location === location)) {
      // the order's lines here were all excluded: quoted from them
      const [mine] = await db.query<OrderLine>(
        `SELECT ${sqlString(location)} AS location, row, customer_id AS customer, strftime(ts, '%Y-%m-%d') AS day FROM ingest_excluded_orders WHERE order_id = ${id}`,
      );
      if (mine) lines.push({ ...mine, day: `${mine.day ?? 'no date'} (excluded)` });
    }
    throw new FloyoError(
      `${location}: ${across.reused.toLocaleString('en-US')} of its order ids are those of other orders already ingested, on another day or of another customer at another time ` +
        `(order ${JSON.stringify(across.example)}: ${lines.map(quoteLine).join('; ')}). A later file's order replaces the lines of the same order id ` +
        `(a corrected export), which would delete ${across.lines.toLocaleString('en-US')} lines of those orders. ${UNIQUE_ID_HINT}`,
      { file: location, field: 'orderId' },
    );
  }
}

/** The failure of a source read to its end none of whose rows could be used: its counts are complete. */
class NoRowUsable extends FloyoError {}

/**
 * A source none of whose rows could be used almost always means the mapping does not fit the file
 * (wrong date pattern, delimiter or columns). It fails rather than being recorded as ingested, so that
 * ingesting it again after fixing the mapping is not skipped as "already ingested".
 */
function allQuarantined(location: string, summary: SourceSummary, examples: Map<string, string | null>, mapping: Mapping): FloyoError {
  const top = Object.entries(summary.quarantinedByReason).sort((a, b) => b[1] - a[1]).slice(0, 3);
  const reasons = top
    .map(([reason, n]) => {
      const example = examples.get(reason);
      return `${reason} (${n.toLocaleString('en-US')}${example ? `, e.g. ${JSON.stringify(example.length > 60 ? `${example.slice(0, 60)}…` : example)}` : ''})`;
    })
    .join('; ');
  return new NoRowUsable(
    `${location}: no row could be used: ${summary.rowsQuarantined.toLocaleString('en-US')} of ${summary.rowsRead.toLocaleString('en-US')} quarantined ` +
      `(${reasons})${summary.rowsExcluded ? `, ${summary.rowsExcluded.toLocaleString('en-US')} excluded` : ''}. ` +
      `The mapping${mappingLabel(mapping)} probably does not fit this file: check it with \`floyo presets\` or give --mapping`,
    { file: location },
  );
}

/** Totals of the warehouse; `from` and `to` in UTC as ISO 8601, as every time Floyo writes in JSON (scoredAsOf, ...). */
export async function warehouseTotals(warehouse: Warehouse): Promise<WarehouseTotals> {
  const [t] = await warehouse.query<Omit<WarehouseTotals, 'path'>>(
    `SELECT count(*)::BIGINT AS rows, count(DISTINCT order_id)::BIGINT AS orders, count(DISTINCT customer_id)::BIGINT AS customers, ` +
      `count(DISTINCT product_id)::BIGINT AS products, strftime(min(ts), '%Y-%m-%dT%H:%M:%SZ') AS "from", strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') AS "to" FROM transactions`,
  );
  return { path: warehouse.path, ...t };
}

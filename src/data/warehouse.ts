// The embedded warehouse: one DuckDB file in the home folder.
// Process model: DuckDB lets one process hold a database file for writing, so a Floyo process takes the
// home's lock (home/lock.json: pid, command, since) before opening it. A second process is told who holds
// it — never a raw DuckDB lock error. A lock left by a dead process is taken over.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { BUSY_EXIT, FloyoError } from '../errors.js';
import { onInterrupt } from '../interrupt.js';

/**
 * The warehouse's layout, kept in meta.schema_version: 2 from the release after 0.2.0 (prediction_versions,
 * segment_moves.write_seq, ...). A warehouse of a higher number was written by a newer Floyo, whose
 * tables this one would misread or break: it is refused, not written.
 */
export const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sources (
  fingerprint VARCHAR PRIMARY KEY,  -- first 16 hex digits of sha256: the id in transactions.source
  sha256 VARCHAR NOT NULL,
  location VARCHAR NOT NULL,
  format VARCHAR NOT NULL,
  bytes BIGINT NOT NULL,
  etag VARCHAR,
  mapping VARCHAR,
  rows_read BIGINT NOT NULL,
  rows_accepted BIGINT NOT NULL,
  rows_quarantined BIGINT NOT NULL,
  rows_excluded BIGINT NOT NULL,
  orders_replaced BIGINT NOT NULL,
  lines_replaced BIGINT NOT NULL,
  quarantine_file VARCHAR,
  ingested_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
  source VARCHAR NOT NULL,        -- sources.fingerprint
  row_number BIGINT NOT NULL,     -- data row in that source (header not counted)
  order_id VARCHAR NOT NULL,
  customer_id VARCHAR,            -- NULL: an anonymous (guest) order
  product_id VARCHAR NOT NULL,
  product_name VARCHAR,
  quantity DOUBLE NOT NULL,       -- negative for returned units
  unit_price DOUBLE NOT NULL,
  amount DOUBLE NOT NULL,         -- quantity * unit_price, negative for returns
  refunded DOUBLE NOT NULL,       -- share of an order-level refund (Shopify-style), >= 0
  is_return BOOLEAN NOT NULL,
  ts TIMESTAMP NOT NULL,          -- UTC
  country VARCHAR,
  currency VARCHAR
);
`;

interface LockInfo {
  pid: number;
  command: string;
  host: string;
  since: string;
  /**
   * What tells the holder from a later process given the same pid (processStart); absent where /proc is
   * not there, and in locks of Floyo 0.2.0 and earlier.
   */
  started?: string;
}

const LOCK_POLL_MS = 50;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The boot and the start time (clock ticks since boot) of the process `pid`, from Linux's /proc; null
 * elsewhere, or when it is gone. A pid is given again once its process is gone: in a container, whose
 * command is PID 1 (or another small number) every time it starts, the process a killed run's lock names
 * is alive — the next run itself — and only its start time tells that it is not the holder.
 */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name, in parentheses, may hold spaces: the fields counted from after its ')' (starttime is the 22nd of all)
    const starttime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return starttime && /^\d+$/.test(starttime) ? `${boot}/${starttime}` : null;
  } catch {
    return null;
  }
}

/** The lock files this process wrote and has not removed yet: the locks it holds, and its own aside while it waits. */
const ownLockFiles = new Set<string>();

/**
 * Whether the process the lock `file` names is gone, so that the lock can be taken over: its pid is not in
 * use, or is used by a process that started later than the holder (the pid was given again), or is this
 * very process, which did not write that file. Only a lock of this machine is judged: another machine's
 * processes (a home on a shared disk) cannot be seen from here.
 */
function holderGone(holder: LockInfo, host: string, file: string): boolean {
  if (holder.host !== host) return false;
  // this process's pid in a file it did not write: an earlier process given the same pid left it (a
  // container's PID 1 after a restart), also in a lock of Floyo 0.2.0 and earlier, which notes no start
  if (holder.pid === process.pid) return !ownLockFiles.has(file);
  if (!alive(holder.pid)) return true;
  if (typeof holder.started !== 'string') return false;
  const started = processStart(holder.pid);
  return started !== null && started !== holder.started;
}

/**
 * How long opening the home waits for another process holding it: long enough for a query or a short
 * write to finish (they queue behind each other), not for a train, whose holder is then named.
 */
export const LOCK_WAIT_MS = 3000;

/** How a command waits for the home: up to `ms` (lockWaitSeconds); `quiet` (-q) keeps the "waiting" line off stderr. */
export interface LockWait {
  ms: number;
  quiet?: boolean;
}

export const DEFAULT_LOCK_WAIT: LockWait = { ms: LOCK_WAIT_MS };

/**
 * Empties the home's tmp folder. Only the process holding the home lock writes there (downloads, staged
 * files, DuckDB's spill files), so once the lock is ours, what is there was left by a run that was killed:
 * on a daily schedule the odd killed run would otherwise fill the disk (a 274 MB download each time).
 * `only` keeps it to some entries (a process stopped by a signal removes its own, named with its pid).
 */
function removeLeftovers(tmp: string, only: (entry: string) => boolean = () => true): void {
  if (!existsSync(tmp)) return;
  for (const entry of readdirSync(tmp)) if (only(entry)) rmSync(join(tmp, entry), { recursive: true, force: true });
}

/**
 * Removes the lock files that waiting commands wrote aside (lock.json.<pid>.<ms>) and left when they were
 * killed (kill -9) while they waited: each one a killed queued command left would stay for good. Those of
 * live processes stay, since a waiting command links its own into place.
 */
function removeDeadAsides(home: string, mine: string, host: string): void {
  for (const entry of readdirSync(home)) {
    const file = join(home, entry);
    if (!/^lock\.json\.\d+\.\d+$/.test(entry) || file === mine) continue;
    try {
      const holder = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
      if (holderGone(holder, host, file)) rmSync(file, { force: true });
    } catch {
      // being written or removed by its process just now: it is that process's
    }
  }
}

/** Makes the home folder, or says why it cannot be one (a typo in --home naming a file is bad input, not a bug). */
function makeHome(home: string): void {
  try {
    mkdirSync(home, { recursive: true });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : message;
    throw new FloyoError(`the home ${home} cannot be a folder: ${why} (set --home, FLOYO_HOME or home in the config)`);
  }
}

/**
 * Takes the home lock. The lock file appears complete or not at all (written aside, then linked into
 * place, which fails if it exists), so a reader never sees half of it. A live holder is waited for up to
 * `wait.ms`, then named; a lock left by a process that died is taken over.
 */
async function acquireLock(home: string, command: string, wait: LockWait): Promise<() => void> {
  const waitMs = wait.ms;
  const path = join(home, 'lock.json');
  const started = processStart(process.pid);
  const mine: LockInfo = { pid: process.pid, command, host: hostname(), since: new Date().toISOString(), ...(started ? { started } : {}) };
  const aside = `${path}.${process.pid}.${Date.now()}`;
  writeFileSync(aside, JSON.stringify(mine));
  ownLockFiles.add(aside);
  const forgetAside = onInterrupt(() => rmSync(aside, { force: true }));
  try {
    const deadline = Date.now() + waitMs;
    let said = false;
    for (;;) {
      try {
        linkSync(aside, path);
        ownLockFiles.add(path);
        removeDeadAsides(home, aside, mine.host);
        // stopped by a signal: the lock goes at once, not when the next command finds it dead, and this
        // process's files in tmp (named with its pid) with it, if the lock is still ours
        const forgetLock = onInterrupt(() => {
          if (readIfExists(path) !== JSON.stringify(mine)) return;
          removeLeftovers(join(home, 'tmp'), (entry) => entry.includes(`-${process.pid}-`));
          rmSync(path, { force: true });
        });
        return () => {
          forgetLock();
          rmSync(path, { force: true });
          ownLockFiles.delete(path);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text: string | null = null;
      let holder: LockInfo | null = null;
      try {
        text = readFileSync(path, 'utf8');
        holder = JSON.parse(text) as LockInfo;
      } catch {
        holder = null; // released just now (or unreadable): look again
      }
      if (holder && holderGone(holder, mine.host, path)) {
        // left by a process that died; remove it only if it is still that lock, not one taken meanwhile
        if (readIfExists(path) === text) rmSync(path, { force: true });
        continue;
      }
      if (Date.now() < deadline) {
        // a wait longer than the default is asked for (a schedule queueing behind a train): say what for, once
        if (holder && !said && !wait.quiet && waitMs > LOCK_WAIT_MS) {
          said = true;
          process.stderr.write(`floyo: waiting up to ${Math.round(waitMs / 1000)} s for \`${holder.command}\` (pid ${holder.pid} on ${holder.host}, since ${holder.since}) to finish with the home ${home}\n`);
        }
        await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
        continue;
      }
      if (holder) {
        // a lock of another machine is never taken over (its processes cannot be seen from here): say how to free it
        const elsewhere = holder.host !== mine.host
          ? `; it was taken on another machine (${holder.host}), whose processes this one cannot see: if that command is no longer running there (a container or machine that was stopped), delete ${path}`
          : '';
        throw new FloyoError(
          `the Floyo home ${home} is in use by \`${holder.command}\` (pid ${holder.pid} on ${holder.host}, since ${holder.since}); ` +
            `wait for it to finish (this command waited ${+(waitMs / 1000).toFixed(1)} s; --lock-wait-seconds N waits longer), or use another --home${elsewhere}`,
          {},
          BUSY_EXIT,
        );
      }
      if (text !== null) throw new FloyoError(`cannot read the lock ${path}; if no Floyo process is running, delete that file`, {}, BUSY_EXIT);
    }
  } finally {
    forgetAside();
    rmSync(aside, { force: true });
    ownLockFiles.delete(aside);
  }
}

/**
 * Runs `fn` holding the home lock, without opening the warehouse: for commands that change only the
 * registry (floyo models prune), so they never interleave with a train or promote in the same home.
 * A home that does not exist has nothing running in it.
 */
export async function withHomeLock<T>(home: string, command: string, fn: () => Promise<T>, wait = DEFAULT_LOCK_WAIT): Promise<T> {
  if (!existsSync(home)) return fn();
  makeHome(home);
  const release = await acquireLock(home, command, wait);
  try {
    return await fn();
  } finally {
    release();
  }
}

/**
 * prediction_inputs: the sources (fingerprint and time of ingest) the prediction store's last write saw;
 * a source not there, or ingested again since (--replace), is data the stored predictions have not seen.
 * Made here, when the warehouse opens, so that a home from before it exists takes the sources it holds
 * then as seen, before any new one arrives.
 */
async function createPredictionInputs(connection: DuckDBConnection): Promise<void> {
  const exists = (await connection.runAndReadAll("SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name = 'prediction_inputs'")).getRowObjectsJS()[0].n;
  if (exists) return;
  await connection.run('BEGIN TRANSACTION');
  try {
    await connection.run('CREATE TABLE prediction_inputs (source VARCHAR PRIMARY KEY, ingested_at TIMESTAMP NOT NULL)');
    await connection.run('INSERT INTO prediction_inputs SELECT fingerprint, ingested_at FROM sources');
    await connection.run('COMMIT');
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export class Warehouse {
  private constructor(
    readonly home: string,
    readonly path: string,
    readonly connection: DuckDBConnection,
    private readonly instance: DuckDBInstance,
    private readonly release: () => void,
  ) {}

  /**
   * Opens (creating if needed) the home's warehouse, holding the home lock until close(). Another process
   * holding it is waited for up to `wait.ms` (the command's lockWaitSeconds), then named.
   */
  static async open(home: string, command: string, wait = DEFAULT_LOCK_WAIT): Promise<Warehouse> {
    makeHome(home);
    const release = await acquireLock(home, command, wait);
    const path = join(home, 'warehouse.duckdb');
    try {
      removeLeftovers(join(home, 'tmp'));
      // Loaded here, not at start-up: DuckDB's native library takes ~0.5 s to load, which commands that never
      // open the warehouse (--help, generate, presets) should not pay. require, not import(): the package is
      // CommonJS, and import() first scans its ~100 files for their export names (70 ms more).
      const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDB;
      // A bounded buffer pool keeps a 10M-row ingest well under 1 GB of memory; DuckDB spills beyond it.
      const instance = await DuckDBInstance.create(path, { memory_limit: '512MB', temp_directory: join(home, 'tmp', 'duckdb') });
      const connection = await instance.connect();
      // a new warehouse has no meta table yet
      const [stored] = (await connection.runAndReadAll("SELECT TRY_CAST(value AS INTEGER) AS v FROM meta WHERE key = 'schema_version'")
        .catch(() => null))?.getRowObjectsJS() ?? [];
      if (typeof stored?.v === 'number' && stored.v > SCHEMA_VERSION) {
        connection.closeSync();
        instance.closeSync();
        throw new FloyoError(
          `the warehouse ${path} was written by a newer Floyo (schema ${stored.v}; this one knows up to ${SCHEMA_VERSION}): upgrade Floyo to use this home`,
          { file: path },
        );
      }
      await connection.run(SCHEMA);
      await createPredictionInputs(connection);
      await connection.run(`INSERT OR REPLACE INTO meta VALUES ('schema_version', '${SCHEMA_VERSION}')`);
      return new Warehouse(home, path, connection, instance, release);
    } catch (err) {
      release();
      if (err instanceof FloyoError) throw err;
      const message = (err as Error).message;
      if (/lock/i.test(message)) {
        // not a Floyo command (those take the home's lock first): DuckDB's own advice is for its CLI, so only the holder is said
        const holder = /Conflicting lock is held in (.+?) \(PID (\d+)\)/.exec(message);
        const who = holder ? `another program (${holder[1]}, pid ${holder[2]})` : `another program (${message.split('\n')[0]})`;
        throw new FloyoError(`the warehouse ${path} is open in ${who}, not a Floyo command: close it there and run this again`, {}, BUSY_EXIT);
      }
      throw new FloyoError(`cannot open the warehouse ${path}: ${message.split('\n')[0]}`);
    }
  }

  /**
   * Whether the home has a warehouse yet (commands that only read refuse an empty home without creating
   * one). A home that is a file, or below one, is refused as Warehouse.open refuses it, not taken for an empty one.
   */
  static exists(home: string): boolean {
    let existing = home;
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
    if (!statSync(existing).isDirectory()) makeHome(home);
    return existsSync(join(home, 'warehouse.duckdb'));
  }

  /** Rows as plain JS objects (BIGINT → number when safe). */
  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((row) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
      return out as T;
    });
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  close(): void {
    try {
      this.connection.closeSync();
      this.instance.closeSync();
    } finally {
      this.release();
    }
  }
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * A DOUBLE literal that is exactly `value`: from JavaScript's shortest round-trip text, cast from a string.
 * A bare 0.47679707921215453 is a DECIMAL(18,17) to DuckDB, whose conversion to DOUBLE can land on the
 * neighbouring double, so a bound taken from printed output would miss the value it was printed from.
 */
export function sqlDouble(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`sqlDouble needs a finite number, got ${value}`);
  return `'${String(value)}'::DOUBLE`;
}

/** An instant as Floyo writes them (2011-12-09T12:50:00Z) as a DuckDB TIMESTAMP literal (UTC, as `ts` is). */
export function sqlInstant(iso: string): string {
  return `TIMESTAMP ${sqlString(iso.slice(0, 19).replace('T', ' '))}`;
}

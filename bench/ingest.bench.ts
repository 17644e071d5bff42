// Ingest speed and memory, measured as a user runs it: the whole `floyo ingest` command (built CLI), wall
// time and peak RSS from /usr/bin/time. Side by side: DuckDB's own CSV reader loading the same file into a
// table with no validation, mapping or accounting — the floor of what a load can cost here.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { report, requireBuiltCli, time, timedFloyo, type Row } from './harness.js';

const ROOT = new URL('../', import.meta.url).pathname;
const UCI = join(ROOT, '../shared/datasets/online_retail.csv.gz');
const GENERATED_ROWS = Number(process.env.BENCH_INGEST_ROWS ?? 10_000_000);

requireBuiltCli('ingest');

/** The 1-minute load average: the machine is shared, so each result says how busy it was. */
const load = () => +loadavg()[0].toFixed(2);

async function duckdbLoad(file: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'floyo-bench-duck-'));
  const inst = await DuckDBInstance.create(join(dir, 'db.duckdb'));
  const con = await inst.connect();
  const { ms } = await time(() => con.run(`CREATE TABLE t AS SELECT * FROM read_csv('${file}')`));
  con.closeSync();
  inst.closeSync();
  rmSync(dir, { recursive: true, force: true });
  return ms / 1000;
}

const rows: Row[] = [];
const work = mkdtempSync(join(tmpdir(), 'floyo-bench-ingest-'));

try {
  if (existsSync(UCI)) {
    const loadBefore = load();
    const runs = [1, 2, 3, 4, 5].map(() => {
      const home = mkdtempSync(join(work, 'home-'));
      const r = timedFloyo(['ingest', UCI, '--home', home, '--json', '-q']);
      rmSync(home, { recursive: true, force: true });
      return r;
    });
    runs.sort((a, b) => a.seconds - b.seconds);
    const median = runs[2];
    rows.push({
      data: 'UCI Online Retail (csv.gz)', rows: Number(median.out.rowsRead), 'MB in': +(statSync(UCI).size / 1e6).toFixed(1),
      'floyo ingest s': median.seconds, 'min–max s': `${runs[0].seconds}–${runs[4].seconds}`, 'CPU s': median.cpuSeconds,
      'load before/after': `${loadBefore} / ${load()}`,
      'peak RSS MiB': Math.round(median.rssMiB), 'rows/s': Math.round(Number(median.out.rowsRead) / median.seconds),
      'duckdb read_csv only, s': +(await duckdbLoad(UCI)).toFixed(2), target: '≤ 3 s',
    });
  } else {
    console.log(`(${UCI} not present: skipping the UCI row)`);
  }

  const generated = join(work, `generated-${GENERATED_ROWS}.csv`);
  const orders = Math.round(GENERATED_ROWS / 19); // the generator writes about 19 lines per order
  const gen = timedFloyo(['generate', '--customers', String(Math.max(1000, Math.round(orders / 12))), '--products', '5000', '--orders', String(orders), '--seed', '1', '--out', generated, '--json', '-q']);
  const actualRows = Number(gen.out.rows);
  const home = mkdtempSync(join(work, 'home-'));
  const loadBefore = load();
  const big = timedFloyo(['ingest', generated, '--home', home, '--json', '-q']);
  rows.push({
    data: `generated (csv)`, rows: actualRows, 'MB in': +(statSync(generated).size / 1e6).toFixed(1),
    'floyo ingest s': big.seconds, 'min–max s': '', 'CPU s': big.cpuSeconds, 'load before/after': `${loadBefore} / ${load()}`,
    'peak RSS MiB': Math.round(big.rssMiB), 'rows/s': Math.round(actualRows / big.seconds),
    'duckdb read_csv only, s': +(await duckdbLoad(generated)).toFixed(2), target: '< 60 s, RSS < 1024 MiB',
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

report('ingest', 'floyo ingest: whole command wall time and peak memory', rows, [
  'Wall time of the whole `node bin/floyo.js ingest FILE --json` process (start-up, hashing, parsing, validation, quarantine accounting, load, commit).',
  'The UCI row is the median of 5 runs (CPU s and peak RSS are that run\'s); the generated row is one run (10M rows by default; BENCH_INGEST_ROWS overrides).',
  '"duckdb read_csv only" is DuckDB loading the same file into a table with type auto-detection and nothing else: a floor, not a peer that does the same work.',
  '"load before/after" is the 1-minute load average before the first and after the last run: the machine is shared, and its other work slows these numbers down.',
]);

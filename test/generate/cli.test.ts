// `floyo generate` end to end, in a child process as a user runs it: files, gzip, stdout, --json,
// --truth, and the errors a user can cause.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { Command } from 'commander';
import { register } from '../../src/cli/generate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'floyo-generate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// the real `floyo` program, as a user runs it (through tsx, so no build is needed)
const ARGS = (...args: string[]) => [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', ...args]] as const;

function floyo(...args: string[]) {
  const [cmd, argv] = ARGS(...args);
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SHOP = ['--customers', '300', '--products', '500', '--orders', '2000', '--seed', '3'];

/** Runs the command in this process (fast), capturing what it prints on stderr and its exit code. */
async function floyoHere(...args: string[]): Promise<{ status: number; stderr: string }> {
  const program = new Command('floyo').exitOverride();
  register(program);
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(['generate', ...args], { from: 'user' });
  } finally {
    process.stderr.write = write;
  }
  const status = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { status, stderr };
}

let firstSummary: { rows: number; orders: number; returns: number; nonProductLines: number; customers: number } | undefined;

test('writes plain and gzip CSV with the same content, and --json describes it with the ground truth', () => {
  const plain = join(dir, 'shop.csv');
  const gz = join(dir, 'shop.csv.gz');
  const a = floyo(...SHOP, '--out', plain, '--json', '--quiet');
  assert.equal(a.status, 0, a.stderr);
  const b = floyo(...SHOP, '--out', gz, '--json', '--quiet', '--truth', join(dir, 'truth.csv'));
  assert.equal(b.status, 0, b.stderr);
  const csv = readFileSync(plain);
  assert.ok(gunzipSync(readFileSync(gz)).equals(csv), 'gzip holds the same bytes');
  const s = JSON.parse(a.stdout);
  firstSummary = s;
  for (const key of ['rows', 'orders', 'customers', 'products', 'returns', 'file', 'bytes', 'seconds', 'groundTruth']) assert.ok(key in s, key);
  assert.equal(s.orders, 2000);
  assert.equal(s.customers, 300);
  assert.equal(s.products, 500);
  assert.equal(s.file, plain);
  assert.equal(s.bytes, statSync(plain).size);
  assert.equal(s.csvBytes, csv.length);
  assert.equal(s.rows, csv.toString().split('\n').length - 2); // header and the final newline
  assert.ok(s.returns > 0 && s.seconds > 0);
  const types = Object.values(s.groundTruth.types) as Array<{ customers: number; churned: number }>;
  assert.equal(types.reduce((x, t) => x + t.customers, 0), 300);
  assert.equal(types.reduce((x, t) => x + t.churned, 0), s.groundTruth.churned);
  const z = JSON.parse(b.stdout);
  assert.equal(z.compressed, true);
  assert.equal(z.bytes, statSync(gz).size);
  assert.equal(z.csvBytes, csv.length);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.partial-')), [], 'no temporary file is left');
  assert.equal(z.truthFile, join(dir, 'truth.csv'));
});

test('--truth writes each customer\'s type, first order and churn date', () => {
  const truth = join(dir, 'truth.csv');
  assert.ok(existsSync(truth), 'written by the first test');
  const rows = readFileSync(truth, 'utf8').trimEnd().split('\n');
  assert.equal(rows[0], 'CustomerID,Type,Country,FirstOrderDate,ChurnDate,Orders');
  assert.equal(rows.length, 301);
  const byType = new Map<string, number>();
  let orders = 0;
  for (const row of rows.slice(1)) {
    const [id, type, , first, churn, n] = row.split(',');
    assert.match(id, /^\d{5}$/);
    assert.match(first, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(churn === '' || churn > first, `churn ${churn} after first ${first}`);
    assert.ok(Number(n) >= 1, 'every customer orders');
    byType.set(type, (byType.get(type) ?? 0) + 1);
    orders += Number(n);
  }
  assert.equal(orders, 2000);
  assert.deepEqual([...byType.keys()].sort(), ['occasional', 'oneOff', 'regular', 'wholesaler']);
  assert.equal(byType.get('wholesaler'), 15); // 5% of 300
});

test('--out - writes the CSV to stdout and the human summary to stderr', () => {
  const r = floyo(...SHOP, '--out', '-');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n'));
  assert.equal(r.stdout, readFileSync(join(dir, 'shop.csv'), 'utf8'), 'the same CSV as the file');
  assert.match(r.stderr, /wrote [\d,]+ rows to stdout/);
  assert.match(r.stderr, /one-off buyer/);
});

test('a named pipe is written in place, not replaced by a file', async (t) => {
  if (spawnSync('mkfifo', ['--version']).status !== 0) {
    assert.fail('mkfifo (coreutils) is needed for this test: apt-get install -y coreutils');
  }
  const fifo = join(dir, 'pipe.csv');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const [cmd, argv] = ARGS(...SHOP, '--out', fifo, '--quiet');
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const content = await readFile(fifo, 'utf8');
  assert.equal(await exited, 0);
  assert.ok(statSync(fifo).isFIFO(), 'still a named pipe');
  assert.equal(content, readFileSync(join(dir, 'shop.csv'), 'utf8'));
  t.diagnostic(`read ${content.length} bytes through the pipe`);
});

test('bad arguments exit 2 with one clear line, no stack trace, and no file', async () => {
  const target = join(dir, 'never.csv');
  const cases: Array<[string[], RegExp]> = [
    [['--customers', '0', '--out', target], /--customers must be positive/],
    [['--orders', 'lots', '--out', target], /--orders must be a whole number, got "lots"/],
    [['--orders', '-5', '--out', target], /--orders must be positive/],
    [['--customers', '100', '--orders', '50', '--out', target], /--orders \(50\) must be at least --customers \(100\)/],
    [['--products', '200000', '--out', target], /--products must be at most 89,999/],
    [['--from', '2024-13-01', '--out', target], /--from is not a calendar date/],
    [['--from', '2025-01-01', '--to', '2024-01-01', '--out', target], /--to \(2024-01-01\) is before --from/],
    [['--out', dir], /cannot write .*it is a folder/],
    [['--out', '-', '--json'], /--json cannot be used with --out -/],
    [['--out', target, '--truth', target], /--truth must be a file other than --out/],
  ];
  for (const [args, message] of cases) {
    const r = await floyoHere(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.ok(r.stderr.startsWith('floyo: ') && r.stderr.trimEnd().split('\n').length === 1, r.stderr);
  }
  // and once as a real process: the exit status and a clean stderr
  const r = floyo('--out', join(dir, 'no-such-folder', 'x.csv'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^floyo: cannot write .*x\.csv: folder .*no-such-folder does not exist\n$/);
  assert.equal(r.stdout, '');
  assert.equal(existsSync(target), false);
});

test('--help lists every flag', () => {
  const program = new Command('floyo');
  register(program);
  const help = program.commands.find((c) => c.name() === 'generate')!.helpInformation();
  for (const flag of ['--customers', '--products', '--orders', '--seed', '--from', '--to', '--out', '--truth', '--json', '--quiet']) assert.ok(help.includes(flag), flag);
});

test('the online-retail ingestion preset takes a generated file whole: nothing quarantined, only non-product lines excluded', () => {
  assert.ok(firstSummary, 'the first test wrote the files');
  const s = firstSummary;
  const home = join(dir, 'home');
  const [cmd] = ARGS();
  const r = spawnSync(cmd, ['--import', 'tsx', 'src/cli/main.ts', 'ingest', join(dir, 'shop.csv.gz'), '--preset', 'online-retail', '--home', home, '--json', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ingested = JSON.parse(r.stdout);
  assert.equal(ingested.rowsRead, s.rows);
  assert.equal(ingested.rowsQuarantined, 0, JSON.stringify(ingested.quarantinedByReason));
  assert.equal(ingested.rowsExcluded, s.nonProductLines);
  assert.equal(ingested.rowsAccepted, s.rows - s.nonProductLines);
  assert.equal(ingested.warehouse.orders, s.orders + s.returns);
  assert.equal(ingested.warehouse.customers, s.customers);
});

test('a real CSV reader (DuckDB) reads the file with the expected column types', async () => {
  const file = join(dir, 'shop.csv');
  const summary = firstSummary;
  assert.ok(summary, 'the first test wrote the file');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_csv('${file}', header = true)`);
    const types = Object.fromEntries(described.getRowObjectsJS().map((r) => [r.column_name, r.column_type]));
    assert.deepEqual(types, {
      InvoiceNo: 'VARCHAR', StockCode: 'VARCHAR', Description: 'VARCHAR', Quantity: 'BIGINT',
      InvoiceDate: 'TIMESTAMP', UnitPrice: 'DOUBLE', CustomerID: 'BIGINT', Country: 'VARCHAR',
    });
    const counts = await con.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(DISTINCT InvoiceNo)::INTEGER AS invoices,
      count(*) FILTER (WHERE Description LIKE '%,%')::INTEGER AS commas FROM read_csv('${file}', header = true)`);
    const [row] = counts.getRowObjectsJS();
    assert.equal(row.n, summary.rows);
    assert.equal(row.invoices, summary.orders + summary.returns);
    assert.ok(Number(row.commas) > 0, 'descriptions with commas survive the round trip');
  } finally {
    con.closeSync();
    db.closeSync();
  }
});

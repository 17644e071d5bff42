// `floyo generate` throughput: 1M and 10M rows of plain CSV, 1M rows of gzip, and 10M rows for a shop
// with many customers (the scale tests' shape: more first orders, smaller baskets), each run as its own
// process (as a user runs it) so that its peak RSS is its own. Target: 10M rows in under 30 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, time, type Row } from './harness.js';
import { buildWorld, ShopStream } from '../src/generate/shop.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PRODUCTS = 4000;
const SEED = 1;

// the real CLI through tsx, with a hook that reports the process's own peak RSS and CPU time on exit
const USAGE_HOOK = `data:text/javascript,process.on('exit', () => { const u = process.resourceUsage(); process.stderr.write('maxRSS ' + u.maxRSS + ' cpu ' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });`;

/**
 * Rows per order for this catalogue, measured on a mid-size run, so --orders can be set for a row target.
 * Small runs vary by ±5%: a few hundred wholesalers with log-normal rates decide how many long baskets there are.
 */
function rowsPerOrder(ordersPerCustomer: number): number {
  const stream = new ShopStream(buildWorld({ customers: 20_000, products: PRODUCTS, orders: 20_000 * ordersPerCustomer, seed: SEED }));
  while (stream.next() !== null) { /* count only */ }
  return stream.rows / stream.orders;
}

interface Summary { rows: number; orders: number; customers: number; bytes: number; csvBytes: number; seconds: number }

async function run(targetRows: number, file: string, ordersPerCustomer: number, perOrder: number): Promise<Row> {
  const orders = Math.round(targetRows / perOrder);
  const customers = Math.round(orders / ordersPerCustomer);
  const args = ['generate', '--customers', String(customers), '--products', String(PRODUCTS), '--orders', String(orders), '--seed', String(SEED), '--out', file, '--json', '--quiet'];
  const load = loadavg()[0];
  const { ms, value: r } = await time(() => spawnSync(process.execPath, ['--import', 'tsx', '--import', USAGE_HOOK, 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' }));
  if (r.status !== 0) throw new Error(`floyo generate failed (${r.status}): ${r.stderr}`);
  const s = JSON.parse(r.stdout) as Summary;
  const usage = /maxRSS (\d+) cpu (\d+)/.exec(r.stderr);
  const rssKiB = Number(usage?.[1] ?? NaN);
  const cpuSeconds = Number(usage?.[2] ?? NaN) / 1e6;
  rmSync(file, { force: true });
  return {
    output: file.endsWith('.gz') ? 'csv.gz' : 'csv',
    rows: s.rows,
    orders: s.orders,
    customers: s.customers,
    'file MB': +(s.bytes / 1e6).toFixed(1),
    'generate s': s.seconds,
    'process s': +(ms / 1000).toFixed(2),
    'process CPU s': +cpuSeconds.toFixed(2),
    'rows/s': Math.round(s.rows / s.seconds),
    'CSV MB/s': +(s.csvBytes / 1e6 / s.seconds).toFixed(1),
    'peak RSS MiB': Math.round(rssKiB / 1024),
    'load avg': +load.toFixed(1),
  };
}

const work = mkdtempSync(join(tmpdir(), 'floyo-bench-generate-'));
try {
  const cases = [
    { rows: 1_000_000, file: 'shop-1m.csv', ordersPerCustomer: 12 },
    { rows: 1_000_000, file: 'shop-1m.csv.gz', ordersPerCustomer: 12 },
    { rows: 10_000_000, file: 'shop-10m.csv', ordersPerCustomer: 12 },
    { rows: 10_000_000, file: 'shop-10m-many-customers.csv', ordersPerCustomer: 2 },
  ];
  const perOrder = new Map([12, 2].map((k) => [k, rowsPerOrder(k)]));
  const rows: Row[] = [];
  for (const c of cases) {
    const row = await run(c.rows, join(work, c.file), c.ordersPerCustomer, perOrder.get(c.ordersPerCustomer)!);
    rows.push({ ...row, 'orders/customer': c.ordersPerCustomer, target: c.rows === 10_000_000 && row.output === 'csv' ? '< 30 s' : '' });
    console.log(`${c.file}: ${row.rows} rows in ${row['generate s']} s`);
  }
  const tens = rows.filter((r) => Number(r.rows) > 5_000_000);
  report('generate', 'floyo generate: synthetic shop CSV', rows, [
    `${PRODUCTS} products, seed ${SEED}; customers = orders / (orders per customer). Rows per order (${[...perOrder].map(([k, v]) => `${v.toFixed(1)} at ${k} orders/customer`).join(', ')}) were measured on a 20,000-customer run and --orders set for the row target.`,
    '"generate s" is the command\'s own time (options to last byte flushed); "process s" adds Node and tsx start-up.',
    'Peak RSS and CPU (user + system, all threads, start-up included) are the child process\'s own (process.resourceUsage). "load avg" is the 1-minute load when the run started: the machine is shared, so wall times grow with the load while CPU seconds do not.',
    ...tens.map((t) => `10M rows at ${t['orders/customer']} orders/customer: ${t['generate s']} s — ${Number(t['generate s']) < 30 ? 'meets' : 'MISSES'} the < 30 s target.`),
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

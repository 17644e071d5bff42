import type { Command } from 'commander';
import { FloyoError } from '../errors.js';
import { generateToFile, STDOUT, type GenerateSummary } from '../generate/output.js';
import { DEFAULT_FROM, DEFAULT_TO, resolveShopOptions } from '../generate/shop.js';
import { CUSTOMER_TYPES } from '../generate/population.js';
import { action, makeContext, table, withCommonOptions, type CommonOptions } from './common.js';

interface GenerateOptions extends CommonOptions {
  customers: string;
  products: string;
  orders: string;
  seed: string;
  from: string;
  to: string;
  out: string;
  truth?: string;
}

/** A count as typed: 5000, 5_000, 5,000 or 5e3. */
export function parseCount(text: string, flag: string): number {
  const clean = text.trim().replace(/[_,]/g, '');
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)(e\d+)?$/i.test(clean)) throw new FloyoError(`${flag} must be a whole number, got "${text}"`, { field: flag });
  return Number(clean);
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('generate')
      .description('write a synthetic shop sales history (UCI Online Retail layout) for demos, benchmarks and tests')
      .requiredOption('--out <file>', 'output CSV; a name ending in .gz is gzip-compressed; - writes to stdout')
      .option('--customers <n>', 'customers (each places at least one order)', '5000')
      .option('--products <n>', 'products in the catalogue (at most 89,999: 5-digit stock codes)', '4000')
      .option('--orders <n>', 'purchase invoices in total (credit notes for returns come on top)', '50000')
      .option('--seed <n>', 'random seed: the same seed and flags give a byte-identical file', '1')
      .option('--from <date>', 'first day, YYYY-MM-DD', DEFAULT_FROM)
      .option('--to <date>', 'last day, YYYY-MM-DD (inclusive)', DEFAULT_TO)
      .option('--truth <file>', 'also write each customer\'s true type, first order and churn date (CSV)')
      .addHelpText(
        'after',
        [
          '',
          'Rows are invoice lines: InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country.',
          'Returns are C-invoices with negative quantities; POST/DOT/C2/M lines are postage and fees, not products.',
          `Customer types: ${CUSTOMER_TYPES.map((t) => `${t.label} (${Math.round(t.share * 100)}%)`).join(', ')}.`,
          'About 20 rows per order, so --orders 500000 gives about 10M rows.',
          '',
          'Examples:',
          '  floyo generate --out sample.csv.gz',
          '  floyo generate --customers 50000 --products 4000 --orders 500000 --seed 7 --out big.csv --json',
        ].join('\n'),
      ),
  ).action(
    action(async (opts: GenerateOptions) => {
      const ctx = makeContext(opts);
      const toStdout = opts.out === STDOUT;
      if (toStdout && ctx.json) throw new FloyoError('--json cannot be used with --out - (stdout carries the CSV)', { field: '--json' });
      const options = resolveShopOptions({
        customers: parseCount(opts.customers, '--customers'),
        products: parseCount(opts.products, '--products'),
        orders: parseCount(opts.orders, '--orders'),
        seed: parseCount(opts.seed, '--seed'),
        from: opts.from,
        to: opts.to,
      });
      const progress = ctx.progress('generate orders', 'items');
      const summary = await generateToFile(options, opts.out, { truth: opts.truth, onProgress: (done, total) => progress.update(done, total) });
      progress.done(`${summary.rows.toLocaleString('en-US')} rows`);
      if (ctx.json) {
        ctx.emitJson(summary);
        return;
      }
      const say = toStdout ? (line = '') => { if (!opts.quiet) process.stderr.write(line + '\n'); } : ctx.say;
      for (const line of describe(summary)) say(line);
    }),
  );
}

function describe(s: GenerateSummary): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const size = s.bytes >= 1e6 ? `${(s.bytes / 1e6).toFixed(1)} MB` : `${n(s.bytes)} bytes`;
  const where = s.file === STDOUT ? 'stdout' : s.file;
  const truth = s.groundTruth;
  return [
    `wrote ${n(s.rows)} rows to ${where} (${size}${s.compressed ? ' gzip' : ''}) in ${s.seconds.toFixed(1)} s`,
    `  ${n(s.orders)} orders, ${n(s.returns)} returns (${n(s.returnLines)} lines), ${n(s.nonProductLines)} postage/fee lines`,
    `  ${n(s.customers)} customers, ${n(s.products)} products (${n(s.productsSold)} sold) in ${n(s.categories)} categories, ${s.from}..${s.to}, seed ${s.seed}`,
    ...(s.truthFile ? [`  ground truth per customer: ${s.truthFile}`] : []),
    '',
    'ground truth:',
    table(
      [
        ...Object.values(truth.types).map((t) => ({ type: t.label, customers: t.customers, churned: t.churned })),
        { type: 'all', customers: truth.customers, churned: truth.churned },
      ],
      ['type', 'customers', 'churned'],
    ),
  ];
}

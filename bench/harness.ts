// Benchmarks print a table and write it to bench/results/<name>.{json,md}: numbers live here, not in tests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export type Row = Record<string, string | number | boolean | null>;

export function machine(): Record<string, string | number> {
  return { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30) };
}

function fmt(v: Row[string]): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
  return String(v ?? '');
}

export function markdownTable(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => fmt(r[c] ?? null)));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Prints the table and writes bench/results/<name>.json and .md. */
export function report(name: string, title: string, rows: Row[], notes: string[] = []): void {
  const table = markdownTable(rows);
  const when = new Date().toISOString();
  console.log(`\n## ${title}\n\n${table}\n${notes.map((n) => `\n${n}`).join('')}`);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify({ name, title, when, machine: machine(), rows, notes }, null, 2) + '\n');
  writeFileSync(new URL(`${name}.md`, dir), `## ${title}\n\nRun ${when} on ${JSON.stringify(machine())}\n\n${table}\n${notes.map((n) => `\n${n}`).join('')}\n`);
}

/** Wall time of fn in milliseconds. */
export async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const ROOT = new URL('../', import.meta.url).pathname;

/** Command benches run the built CLI, as a user does: without a build they stop here and say so. */
export function requireBuiltCli(bench: string): void {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
    console.error(`bench/${bench}: build first (npm run build)`);
    process.exit(1);
  }
}

// Floyo refuses FLOYO_ variables it does not know: the benches' own settings stay in the bench
const CLI_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOYO_BENCH_')));

/** Runs the built CLI with `args` (ending in --json) under /usr/bin/time: wall and CPU (user + system) seconds, peak RSS in MiB, its JSON output. */
export function timedFloyo<T = Record<string, unknown>>(args: string[]): { seconds: number; cpuSeconds: number; rssMiB: number; out: T } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, join(ROOT, 'bin/floyo.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: CLI_ENV });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`floyo ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return { seconds: Number(m[1]), cpuSeconds: +(Number(m[2]) + Number(m[3])).toFixed(2), rssMiB: Number(m[4]) / 1024, out: JSON.parse(r.stdout) as T };
}

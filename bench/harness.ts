// Benchmarks print a table and write it to bench/results/<name>.{json,md}: numbers live here, not in tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

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

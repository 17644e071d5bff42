// What every command shares: the --home/--config/--json/--quiet options, loading the config with
// flags as the top layer, and printing errors without stack traces for bad input.
import { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config.js';
import { FailureWithReport, FloyoError } from '../errors.js';
import { normaliseId } from '../data/rows.js';
import type { LockWait } from '../data/warehouse.js';
import { createProgress, type ProgressFactory } from './progress.js';

export interface CommonOptions {
  home?: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
  lockWaitSeconds?: string;
}

export interface CommandContext {
  loaded: LoadedConfig;
  json: boolean;
  progress: ProgressFactory;
  /** human output; silent under --json so stdout holds exactly one JSON document */
  say(line?: string): void;
  emitJson(value: unknown): void;
  /** how long opening the home waits for another process holding it (lockWaitSeconds), and whether it says so */
  lockWait: LockWait;
  /** " --home DIR --config FILE" as given on this command line: for hints that name another command (env and defaults carry over by themselves) */
  sameHomeFlags: string;
}

/** `opensHome`: the command takes the home's lock, so it gets --lock-wait-seconds. */
export function withCommonOptions(cmd: Command, { json = true, opensHome = false } = {}): Command {
  cmd.option('--home <dir>', 'home folder (default ./.floyo; env FLOYO_HOME)');
  cmd.option('--config <file>', 'config file (default ./floyo.config.json, .yaml or .yml; env FLOYO_CONFIG); relative paths in it are relative to its folder');
  if (opensHome) {
    cmd.option('--lock-wait-seconds <s>', 'wait up to this long for another Floyo command using the home, then stop with exit 3 (default 3; config lockWaitSeconds)');
  }
  if (json) cmd.option('--json', 'print one JSON object on stdout for programs');
  cmd.option('-q, --quiet', 'no progress output');
  return cmd;
}

export function makeContext(opts: CommonOptions, flags: Record<string, unknown> = {}): CommandContext {
  const wait = opts.lockWaitSeconds;
  if (wait !== undefined && (wait.trim() === '' || !Number.isFinite(Number(wait)))) {
    throw new FloyoError(`--lock-wait-seconds must be a number of seconds, got "${wait}"`);
  }
  const lockWaitSeconds = wait === undefined ? undefined : Number(wait);
  const loaded = loadConfig({ configFile: opts.config, flags: { home: opts.home, lockWaitSeconds, ...flags } });
  const json = Boolean(opts.json);
  return {
    loaded,
    json,
    progress: createProgress({ quiet: opts.quiet }),
    lockWait: { ms: loaded.config.lockWaitSeconds * 1000, quiet: Boolean(opts.quiet) },
    say: (line = '') => {
      if (!json) process.stdout.write(line + '\n');
    },
    emitJson: (value) => {
      jsonWritten = true;
      process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
    sameHomeFlags: [opts.home && ` --home ${shellWord(opts.home)}`, opts.config && ` --config ${shellWord(opts.config)}`].filter(Boolean).join(''),
  };
}

/**
 * An id typed on the command line as ingest would have stored it: trimmed, a whole number written as a
 * float made whole (17850.0 → 17850); then lowercased, as the shopify preset stores e-mails.
 */
export function storedIdForms(id: string): string[] {
  const stored = normaliseId(id.trim());
  return [...new Set([stored, stored.toLowerCase()])];
}

/**
 * The "Exit codes" paragraph of a command's --help: what 1 (nothing to answer with) and 2 mean for it;
 * `busy: false` for a command that never stops for a home in use (it reads only the registry, or goes on without the home).
 */
export function exitCodesHelp(nothing: string | null, bad = 'bad input', { busy = true } = {}): string {
  return `\nExit codes: 0 done, ${nothing ? `1 ${nothing}, ` : ''}2 ${bad}, ${busy ? '3 the home is in use by another Floyo process,\n' : ''}70 an internal error (a bug), 143 and 130 stopped by SIGTERM or Ctrl-C.`;
}

/** A size in bytes as people read it. */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A path or id as a shell word: bare when it is safe, else single-quoted (ids are as in the sales data: spaces, quotes; after --, one may start with -). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Wraps an action: FloyoErrors become one clear line on stderr and a non-zero exit, no stack. Under
 * --json, stdout also carries the error as one JSON object, so a program reading stdout never gets nothing.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof FloyoError) {
        process.stderr.write(`floyo: ${err.message}\n`);
        process.exitCode = err.exitCode;
        // commander passes the command itself last
        const command = args[args.length - 1];
        if (command instanceof Command && command.opts<CommonOptions>().json) {
          printJsonError(err.message, err.exitCode, err.context, err instanceof FailureWithReport ? err.report : {});
        }
        return;
      }
      throw err;
    }
  };
}

/** A line on stderr that does not run into a progress bar being redrawn in place on a terminal. */
export function stderrLine(line: string): void {
  process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`);
}

/** A warning on stderr: the command goes on (an S3 request tried again, data to look at). */
export function warn(message: string): void {
  stderrLine(`floyo: warning: ${message}`);
}

/** Whether the one JSON object of --json is out already (a stop by a signal then adds none). */
let jsonWritten = false;
export const jsonWasWritten = (): boolean => jsonWritten;

/** A failure under --json: one object on stdout, with the message stderr carries; a report the command has all the same carries it. */
export function printJsonError(message: string, exitCode: number, context: object = {}, report: object = {}): void {
  jsonWritten = true;
  process.stdout.write(JSON.stringify({ ...report, error: { message, exitCode, ...context } }, null, 2) + '\n');
}

export function table(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]);
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3)) : String(v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  // numbers right-aligned, text (ids that happen to be digits included) left-aligned
  const numeric = cols.map((c) => rows.every((r) => typeof r[c] === 'number' || r[c] === undefined || r[c] === null));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

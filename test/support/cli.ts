// Runs the floyo CLI from source as a separate process, the way a user runs it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const FIXTURES = join(ROOT, 'test/fixtures');
export const SHARED_DATASETS = join(ROOT, '../shared/datasets');

export interface CliResult {
  /** the arguments it ran with */
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

const tempDirs: string[] = [];

/** A fresh folder under the system's temp folder, removed when the test process exits. */
export function tempDir(prefix = 'floyo-test-'): string {
  if (tempDirs.length === 0) process.once('exit', () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Runs `floyo ...args` with a clean FLOYO_* environment plus `env`; `started` is given the process (to signal it). */
export function floyo(args: string[], options: { env?: Record<string, string>; cwd?: string; started?: (child: ChildProcess) => void } = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FLOYO_') && v !== undefined) env[k] = v;
  Object.assign(env, options.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: options.cwd ?? ROOT, env });
    options.started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        args,
        code: code ?? -1,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      }),
    );
  });
}

/**
 * What a failed command leaves on stdout: nothing, or under --json the error as one object, with the
 * message stderr ends with and the exit code.
 */
export function assertErrorStdout(r: CliResult): void {
  if (!r.args.includes('--json')) {
    assert.equal(r.stdout, '');
    return;
  }
  const { error } = r.json<{ error: { message: string; exitCode: number } }>();
  assert.ok(r.stderr.endsWith(`floyo: ${error.message}\n`), `stderr ends with the message: ${r.stderr}`);
  assert.equal(error.exitCode, r.code);
}

// Runs every test/**/*.test.ts with node's built-in runner (Node 20 does not expand globs in --test).
// Extra arguments filter the files by substring: `npm run test:unit -- ingest`.
//
// S3 tests: a test file that imports test/support/s3.ts (e.g. `from '../support/s3.js'`) needs a real
// S3 server. When any selected file does, this runner starts ONE Ceph RADOS Gateway for the whole run
// (test/support/start-rgw.sh, ~15 s, ~250 MB) in a temporary folder on free ports, passes its address to
// the tests in S3_TEST_ENDPOINT (credentials in S3_TEST_ACCESS_KEY / S3_TEST_SECRET_KEY),
// and stops it afterwards, also when tests fail or the run is interrupted. If the Debian packages are
// missing the run fails with the command that installs them. To reuse a server you started yourself, set
// S3_TEST_ENDPOINT (and the two credential variables if they are not TESTKEY/TESTSECRET).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';

const S3_SUPPORT_IMPORT = /['"`][^'"`\n]*\/support\/s3(?:\.js|\.ts)?['"`]/;
const RGW_COMMANDS = { radosgw: 'radosgw', 'radosgw-admin': 'radosgw', 'ceph-mon': 'ceph-mon', monmaptool: 'ceph-mon', ceph: 'ceph-mon', 'ceph-osd': 'ceph-osd', curl: 'curl' };
const RGW_START_TIMEOUT_MS = 120_000;

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'fixtures' || name === 'tmp' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

function freePorts(count) {
  // hold all listeners open together so the ports differ, then release them for the daemons
  return Promise.all(
    Array.from({ length: count }, () => new Promise((resolve, reject) => {
      const server = createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  ).then((servers) => Promise.all(servers.map((server) => new Promise((resolve) => {
    const { port } = server.address();
    server.close(() => resolve(port));
  }))));
}

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** One throw-away Ceph cluster with the gateway; stop() ends every daemon it started. */
class Rgw {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'floyo-rgw-'));
    this.script = null;
    this.keepDir = false;
  }

  async start() {
    const [s3Port, monPort] = await freePorts(2);
    const started = Date.now();
    process.stderr.write(`S3 tests: starting Ceph RADOS Gateway on 127.0.0.1:${s3Port} (monitor port ${monPort}, data ${this.dir}) ...\n`);
    const script = spawn('bash', ['test/support/start-rgw.sh', this.dir, String(s3Port)], {
      env: { ...process.env, MONPORT: String(monPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.script = script;
    let stdout = '';
    let stderr = '';
    script.stdout.on('data', (d) => (stdout += d));
    script.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => script.kill('SIGTERM'), RGW_START_TIMEOUT_MS);
    const code = await new Promise((resolve) => script.on('close', (c, signal) => resolve(c ?? signal)));
    clearTimeout(timer);
    this.script = null;
    const endpoint = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) {
      throw new Error(
        `could not start the S3 test server (start-rgw.sh ended with ${code} after ${seconds(started)}):\n${stderr.trim()}\n` +
          `logs are in ${this.dir}/log`,
      );
    }
    process.stderr.write(`S3 tests: gateway ready at ${endpoint} in ${seconds(started)}\n`);
    return endpoint;
  }

  /** The daemons of this cluster: the PIDs in its *.pid files, plus any process whose command line names its ceph.conf (one that had not written its pid file yet). */
  pids() {
    const pids = new Set();
    if (existsSync(this.dir)) {
      for (const name of readdirSync(this.dir)) {
        if (!name.endsWith('.pid')) continue;
        const pid = Number(readFileSync(join(this.dir, name), 'utf8').trim());
        if (Number.isInteger(pid) && pid > 1) pids.add(pid);
      }
    }
    const conf = join(this.dir, 'ceph.conf');
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(conf)) pids.add(Number(entry));
      } catch {
        // the process ended while we looked
      }
    }
    return [...pids].filter((pid) => alive(pid) && ownedBy(pid, conf));
  }

  signal(signal) {
    if (this.script && this.script.exitCode === null) this.script.kill(signal);
    for (const pid of this.pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, up to 2 s of grace, then SIGKILL: the cluster is throw-away RAM, nothing to flush. */
  async stop() {
    const started = Date.now();
    this.signal('SIGTERM');
    while (this.pids().length > 0 && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 100));
    this.stopNow();
    process.stderr.write(`S3 tests: gateway stopped in ${seconds(started)}\n`);
  }

  /** Synchronous last resort (process 'exit'). */
  stopNow() {
    this.signal('SIGKILL');
    if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid) {
  try {
    // a zombie (exited, not yet reaped by its parent) counts as gone
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function ownedBy(pid, conf) {
  // guard against a recycled PID in a stale pid file: only signal processes started with our ceph.conf
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(conf);
  } catch {
    return false;
  }
}

let interrupted = null; // the signal that interrupted the run

async function main() {
  const filters = process.argv.slice(2);
  const files = find('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(' ')}`);
    return 1;
  }

  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const s3Files = files.filter((f) => S3_SUPPORT_IMPORT.test(readFileSync(f, 'utf8')));
  let rgw = null;
  let testRun = null;

  const onSignal = (signal) => {
    if (interrupted) return;
    interrupted = signal;
    process.stderr.write(`\n${signal}: stopping the tests${rgw ? ' and the S3 test server' : ''}\n`);
    if (testRun && testRun.exitCode === null) testRun.kill('SIGTERM');
    const done = rgw ? rgw.stop() : Promise.resolve();
    done.finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
  process.on('exit', () => rgw?.stopNow());

  if (s3Files.length > 0 && !process.env.S3_TEST_ENDPOINT) {
    const missing = Object.keys(RGW_COMMANDS).filter((command) => !onPath(command));
    if (missing.length > 0) {
      const packages = [...new Set(['radosgw', 'ceph-mon', 'ceph-osd', ...missing.map((c) => RGW_COMMANDS[c])])];
      console.error(
        `These tests need a real S3 server (Ceph RADOS Gateway): ${s3Files.join(', ')}\n` +
          `but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed. Install with:\n\n` +
          `    sudo apt-get install -y ${packages.join(' ')}\n\n` +
          'or install every system package the tests need with:  sudo bash scripts/install-test-deps.sh',
      );
      return 1;
    }
    rgw = new Rgw();
    try {
      env.S3_TEST_ENDPOINT = await rgw.start();
    } catch (err) {
      if (interrupted) return 1;
      console.error(err.message);
      rgw.keepDir = true; // its logs say why
      await rgw.stop();
      return 1;
    }
    env.S3_TEST_ACCESS_KEY = 'TESTKEY';
    env.S3_TEST_SECRET_KEY = 'TESTSECRET';
  } else if (s3Files.length > 0) {
    env.S3_TEST_ACCESS_KEY ??= 'TESTKEY';
    env.S3_TEST_SECRET_KEY ??= 'TESTSECRET';
    process.stderr.write(`S3 tests: using the server at ${env.S3_TEST_ENDPOINT} (S3_TEST_ENDPOINT)\n`);
  }
  if (interrupted) return 1;

  try {
    testRun = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit', env });
    const status = await new Promise((resolve) => testRun.on('close', (code) => resolve(code ?? 1)));
    return status;
  } finally {
    if (rgw && !interrupted) await rgw.stop();
  }
}

main().then(
  (status) => {
    // an interrupt handler may still be stopping the gateway; it exits when done
    if (!interrupted) process.exit(status);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

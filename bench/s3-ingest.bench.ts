// Ingesting an S3 prefix of many small objects (and of a few larger ones) from a real S3 server: a Ceph
// RADOS Gateway this bench starts for itself (test/support/start-rgw.sh, on free ports, in a fresh folder)
// and stops at the end, also when it fails or is interrupted. Side by side in one run: ingest() with the
// S3 downloads one at a time (s3Prefetch.concurrency 1, as before downloads went ahead of the load) and
// with its defaults (S3_PREFETCH), then the whole `floyo ingest s3://...` command (built CLI) as a user
// runs it, and its re-run, where every object is already ingested.
//
// FLOYO_BENCH_S3_OBJECTS (default 300) small objects of FLOYO_BENCH_S3_LINES (50) lines, FLOYO_BENCH_S3_LARGE (3) objects of
// 60,000 lines, FLOYO_BENCH_S3_RUNS (3) runs of each ingest() variant (the median is shown). FLOYO_BENCH_S3_OTHER_CLI:
// the bin/floyo.js of another build (e.g. the commit before), timed beside this one's CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { report, requireBuiltCli, type Row } from './harness.js';
import { rowRules } from '../src/cli/ingest.js';
import { silentProgress } from '../src/cli/progress.js';
import { ConfigSchema } from '../src/config.js';
import { ingest, S3_PREFETCH, type IngestRequest, type IngestSummary } from '../src/data/ingest.js';
import { presetMapping } from '../src/data/mapping.js';
import { createS3Client, type S3Settings } from '../src/data/s3.js';
import { Warehouse } from '../src/data/warehouse.js';
import { putObjects } from '../test/support/s3.js';
import { CreateBucketCommand } from '@aws-sdk/client-s3';

const ROOT = new URL('../', import.meta.url).pathname;
const SMALL = Number(process.env.FLOYO_BENCH_S3_OBJECTS ?? 300);
const SMALL_LINES = Number(process.env.FLOYO_BENCH_S3_LINES ?? 50);
const LARGE = Number(process.env.FLOYO_BENCH_S3_LARGE ?? 3);
const LARGE_LINES = 60_000;
const RUNS = Number(process.env.FLOYO_BENCH_S3_RUNS ?? 3);
const OTHER_CLI = process.env.FLOYO_BENCH_S3_OTHER_CLI;
const CREDENTIALS = { accessKeyId: 'TESTKEY', secretAccessKey: 'TESTSECRET' };

requireBuiltCli('s3-ingest');

const load = () => +loadavg()[0].toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freePorts(count: number): Promise<number[]> {
  // all listeners open together so that the ports differ, then released for the daemons
  return Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  }))).then((servers) => Promise.all(servers.map((server) => new Promise<number>((resolve) => {
    const { port } = server.address() as AddressInfo;
    server.close(() => resolve(port));
  }))));
}

/** The RADOS Gateway of this bench: its folder, and the daemons it started (by the PIDs in their pid files). */
class Rgw {
  readonly dir = mkdtempSync(join(tmpdir(), 'floyo-bench-rgw-'));

  async start(): Promise<string> {
    const [s3Port, monPort] = await freePorts(2);
    const script = spawn('bash', [join(ROOT, 'test/support/start-rgw.sh'), this.dir, String(s3Port)], {
      env: { ...process.env, MONPORT: String(monPort) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    script.stdout.on('data', (d) => (stdout += d));
    script.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => script.kill('SIGTERM'), 120_000);
    const code = await new Promise((resolve) => script.on('close', (c, signal) => resolve(c ?? signal)));
    clearTimeout(timer);
    const endpoint = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) throw new Error(`could not start the RADOS Gateway (${code}):\n${stderr.trim()}`);
    return endpoint;
  }

  /** Live daemons of this cluster, from its pid files, started with its ceph.conf (never a recycled PID). */
  private pids(): number[] {
    if (!existsSync(this.dir)) return [];
    const conf = join(this.dir, 'ceph.conf');
    return readdirSync(this.dir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(join(this.dir, f), 'utf8').trim())).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return !/^\d+ \(.*\) Z/.test(stat) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(conf);
      } catch {
        return false;
      }
    });
  }

  private signal(signal: NodeJS.Signals): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
  }

  /** SIGTERM, up to 2 s of grace, SIGKILL; then its folder goes. */
  async stop(): Promise<void> {
    this.signal('SIGTERM');
    const started = Date.now();
    while (this.pids().length && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 100));
    this.stopNow();
  }

  stopNow(): void {
    this.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A generated shop's CSV, split at order boundaries into objects of about `lines` lines each. */
function objects(csv: string, specs: Array<{ prefix: string; count: number; lines: number }>): Array<{ key: string; body: string }> {
  const all = csv.trimEnd().split('\n');
  const header = all[0];
  let at = 1;
  const out: Array<{ key: string; body: string }> = [];
  for (const { prefix, count, lines } of specs) {
    for (let i = 0; i < count && at < all.length; i++) {
      let end = Math.min(all.length, at + lines);
      while (end < all.length && all[end].split(',')[0] === all[end - 1].split(',')[0]) end++;
      out.push({ key: `${prefix}part-${String(i).padStart(5, '0')}.csv`, body: [header, ...all.slice(at, end)].join('\n') + '\n' });
      at = end;
    }
  }
  return out;
}

/** Wall time of the whole built CLI (like harness.timedFloyo, with the S3 settings in its environment). */
function timedCli(bin: string, args: string[], env: Record<string, string>): { seconds: number; cpuSeconds: number; out: IngestSummary } {
  const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOYO_')));
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', process.execPath, bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...cliEnv, ...env } });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`floyo ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return { seconds: Number(m[1]), cpuSeconds: +(Number(m[2]) + Number(m[3])).toFixed(2), out: JSON.parse(r.stdout) as IngestSummary };
}

async function timedIngest(settings: S3Settings, location: string, home: string, s3Prefetch: IngestRequest['s3Prefetch']): Promise<{ seconds: number; out: IngestSummary }> {
  const t0 = performance.now();
  const warehouse = await Warehouse.open(home, 'bench');
  try {
    const out = await ingest(warehouse, {
      locations: [location], mapping: presetMapping('online-retail'), format: 'auto', s3: settings,
      rules: rowRules(ConfigSchema.parse({}).ingest), progress: () => silentProgress(), s3Prefetch,
    });
    return { seconds: (performance.now() - t0) / 1000, out };
  } finally {
    warehouse.close();
  }
}

/** What must not depend on how the objects were downloaded. */
const outcome = (s: IngestSummary) => JSON.stringify({ sources: s.sources.map((x) => [x.location, x.status, x.fingerprint, x.rowsAccepted, x.ordersReplaced]), rows: s.warehouse.rows });

const rgw = new Rgw();
const work = mkdtempSync(join(tmpdir(), 'floyo-bench-s3-'));
const cleanUp = () => {
  rgw.stopNow();
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping the RADOS Gateway\n`);
    process.exit(130);
  });
}

const rows: Row[] = [];
try {
  const lines = SMALL * SMALL_LINES + LARGE * LARGE_LINES;
  const file = join(work, 'shop.csv');
  const orders = Math.ceil((lines * 1.1) / 19); // about 19 lines per order
  const gen = spawnSync(process.execPath, [join(ROOT, 'bin/floyo.js'), 'generate', '--customers', String(Math.max(1000, Math.round(orders / 12))), '--products', '5000',
    '--orders', String(orders), '--seed', '1', '--out', file, '--json', '-q'], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`floyo generate failed: ${gen.stderr}`);

  process.stderr.write('starting the RADOS Gateway ...\n');
  const endpoint = await rgw.start();
  process.stderr.write(`gateway ready at ${endpoint}\n`);
  const settings: S3Settings = { region: 'us-east-1', endpoint, forcePathStyle: true };
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId; // ingest() reads the standard chain, as the CLI does
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
  const client = createS3Client(settings, { credentials: CREDENTIALS });
  const bucket = 'floyo-bench';
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const all = objects(readFileSync(file, 'utf8'), [{ prefix: 'small/', count: SMALL, lines: SMALL_LINES }, { prefix: 'large/', count: LARGE, lines: LARGE_LINES }]);
  await putObjects(client, bucket, all);
  client.destroy();

  const cliEnv = {
    FLOYO_S3_ENDPOINT: endpoint, FLOYO_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  };
  const home = () => mkdtempSync(join(work, 'home-'));
  for (const prefix of ['small/', 'large/']) {
    const group = all.filter((o) => o.key.startsWith(prefix));
    if (group.length === 0) continue;
    const location = `s3://${bucket}/${prefix}`;
    const data = `${group.length} objects, ${(group.reduce((n, o) => n + o.body.length, 0) / 1e6).toFixed(1)} MB`;
    const variants = [
      { what: 'ingest(), downloads one at a time', s3Prefetch: { concurrency: 1 } },
      { what: `ingest(), downloads ahead (${S3_PREFETCH.concurrency} at once)`, s3Prefetch: undefined },
    ];
    const times = variants.map(() => [] as number[]);
    const outcomes = new Set<string>();
    let rowsRead = 0;
    const loadBefore = load();
    // alternating, so that the shared machine's ups and downs fall on both
    for (let r = 0; r < RUNS; r++) {
      for (const [v, variant] of variants.entries()) {
        const h = home();
        const { seconds, out } = await timedIngest(settings, location, h, variant.s3Prefetch);
        rmSync(h, { recursive: true, force: true });
        if (out.sourcesIngested !== group.length) throw new Error(`${variant.what}: ${out.sourcesIngested} of ${group.length} sources ingested`);
        times[v].push(seconds);
        outcomes.add(outcome(out));
        rowsRead = out.rowsRead;
      }
    }
    if (outcomes.size !== 1) throw new Error(`${location}: the summaries differ between the variants`);
    const base = median(times[0]);
    for (const [v, variant] of variants.entries()) {
      const s = median(times[v]);
      rows.push({
        data, what: variant.what, runs: RUNS, 's (median)': +s.toFixed(2), 'min–max s': `${Math.min(...times[v]).toFixed(2)}–${Math.max(...times[v]).toFixed(2)}`,
        'ms / object': +((s * 1000) / group.length).toFixed(1), rows: rowsRead, speed: `${(base / s).toFixed(2)}×`, 'load before/after': `${loadBefore} / ${load()}`,
      });
    }
    const clis = [{ what: 'floyo ingest (CLI, this build)', bin: join(ROOT, 'bin/floyo.js') }, ...(OTHER_CLI ? [{ what: `floyo ingest (CLI, ${OTHER_CLI})`, bin: OTHER_CLI }] : [])];
    for (const cli of clis) {
      const h = home();
      const first = timedCli(cli.bin, ['ingest', location, '--home', h, '--json', '-q'], cliEnv);
      if (outcome(first.out) !== [...outcomes][0]) throw new Error(`${cli.what}: another outcome than ingest()'s`);
      const again = timedCli(cli.bin, ['ingest', location, '--home', h, '--json', '-q'], cliEnv);
      if (again.out.sourcesSkipped !== group.length) throw new Error(`${cli.what}: the re-run skipped ${again.out.sourcesSkipped} of ${group.length}`);
      rmSync(h, { recursive: true, force: true });
      for (const [what, r] of [[cli.what, first], [`${cli.what}, re-run: all skipped`, again]] as const) {
        rows.push({
          data, what, runs: 1, 's (median)': r.seconds, 'min–max s': '', 'ms / object': +((r.seconds * 1000) / group.length).toFixed(1),
          rows: r.out.rowsRead, 'CPU s': r.cpuSeconds, speed: '', 'load before/after': '',
        });
      }
    }
  }
} finally {
  process.stderr.write('stopping the RADOS Gateway ...\n');
  await rgw.stop();
  rmSync(work, { recursive: true, force: true });
}

report('s3-ingest', 'floyo ingest s3://…: many small objects, and a few larger ones, from a local RADOS Gateway', rows, [
  `ingest() rows: the library call alone (warehouse open to summary), fresh home each run, median of ${RUNS} runs alternating the variants; "speed" is against one at a time.`,
  'CLI rows: the whole `node bin/floyo.js ingest s3://… --json -q` process, one run each (its defaults: downloads ahead); the re-run finds every object ingested and downloads none.',
  `Downloads ahead: up to ${S3_PREFETCH.concurrency} objects downloading at once while the current one loads, none started ahead while ${S3_PREFETCH.maxBytes / 2 ** 20} MiB are downloaded and not yet loaded.`,
  'The gateway runs on this machine (loopback, RAM-backed OSD): round trips to a real S3 endpoint are longer, so downloading ahead gains more there.',
  '"load before/after" is the 1-minute load average: the machine is shared, and its other work slows these numbers down.',
]);

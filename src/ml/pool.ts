// A small pool of worker_threads for data-parallel loops over SharedArrayBuffer-backed typed arrays.
//
// The unit of work is a *kernel*: a plain function exported by some module,
//   (args, start, end, thread) => void,
// that processes items [start, end) of a loop, reading and writing typed arrays in `args`. The pool
// runs one loop at a time: the calling thread and every worker claim chunks of the loop from a shared
// atomic counter until it is exhausted, so uneven rows (power-law users) balance themselves. `thread`
// (0 = the caller, 1.. = workers) lets a kernel keep per-thread scratch in a shared array without
// locks. For reductions (a Gram matrix, k-means centroid sums) index partial sums by chunk
// (start / chunk) instead and add them up in chunk order: the result is then the same bit for bit
// whatever the number of threads, because ranges are always chunk-aligned, serial or not. Workers import the kernel's module by URL,
// so any module can provide kernels (ALS today, k-means' assignment step tomorrow).
//
// Shutdown: workers are unref'd whenever no loop is running, so a forgotten pool never keeps the
// process alive; close() terminates them.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** The typed arrays a kernel can receive. */
export type SharedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** A shared WebAssembly.Memory: kernels can run WebAssembly over data every thread sees. */
export interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer;
}

/**
 * Kernel arguments: flat, structured-clonable values. Every typed array must sit on a
 * SharedArrayBuffer and every WebAssembly.Memory must be shared, so workers see the caller's data.
 */
export type KernelArgs = Readonly<Record<string, SharedArray | SharedWasmMemory | number | string | boolean>>;

/** A kernel function as exported by its module. */
export type KernelFn<A extends KernelArgs = KernelArgs> = (args: A, start: number, end: number, thread: number) => void;

/**
 * Names a kernel: the URL of the module that exports it (usually the caller's `import.meta.url`)
 * and the export's name. The function itself is given too, so the calling thread needs no import.
 */
export interface Kernel<A extends KernelArgs = KernelArgs> {
  readonly module: string;
  readonly name: string;
  readonly fn: KernelFn<A>;
}

export interface ParallelForOptions {
  /** items claimed at a time (default: about n / (16 · threads), at least 1) */
  readonly chunk?: number;
  /** run on the calling thread alone when n is at most this (default 0) */
  readonly serialBelow?: number;
}

/** A pool of `threads` threads: the caller plus threads − 1 workers. */
export interface Pool {
  readonly threads: number;
  /**
   * Runs kernel over [0, n), split in chunks among all threads; resolves when every chunk is done,
   * rejects with the first error a kernel threw. One loop at a time per pool.
   */
  parallelFor<A extends KernelArgs>(kernel: Kernel<A>, n: number, args: A, options?: ParallelForOptions): Promise<void>;
  /** Terminates the workers; the pool cannot be used afterwards. */
  close(): Promise<void>;
}

/** The number of threads worth using on this machine (os.availableParallelism()). */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

type Ctor<T> = { new (buffer: SharedArrayBuffer, byteOffset?: number, length?: number): T; readonly BYTES_PER_ELEMENT: number };

/** A zero-filled typed array of `length` on a fresh SharedArrayBuffer. */
export function sharedArray<T extends SharedArray>(ctor: Ctor<T>, length: number): T {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`shared array length must be a non-negative integer, got ${length}`);
  return new ctor(new SharedArrayBuffer(length * ctor.BYTES_PER_ELEMENT), 0, length);
}

/** The same values on a SharedArrayBuffer: `a` itself when it already is, else a copy. */
export function toShared<T extends SharedArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = sharedArray(a.constructor as unknown as Ctor<T>, a.length);
  out.set(a as never);
  return out;
}

/** Whether a typed array lives on a SharedArrayBuffer (so workers see the caller's writes). */
export function isShared(a: SharedArray): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

const wasmMemory = (globalThis as unknown as { WebAssembly?: { Memory: abstract new (...args: never[]) => { buffer: ArrayBufferLike } } }).WebAssembly?.Memory;

function checkArgs(args: KernelArgs): void {
  for (const [key, v] of Object.entries(args)) {
    if (wasmMemory && v instanceof wasmMemory) {
      if (!(v.buffer instanceof SharedArrayBuffer)) throw new TypeError(`kernel argument '${key}' is a WebAssembly.Memory that is not shared; create it with shared: true`);
    } else if (ArrayBuffer.isView(v)) {
      if (!(v.buffer instanceof SharedArrayBuffer)) {
        throw new TypeError(`kernel argument '${key}' is a typed array on a plain ArrayBuffer; workers would get a copy. Use sharedArray() or toShared()`);
      }
    } else if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') {
      throw new TypeError(`kernel argument '${key}' must be a shared typed array, shared WebAssembly.Memory, number, string or boolean, got ${typeof v}`);
    }
  }
}

function defaultChunk(n: number, threads: number): number {
  return Math.max(1, Math.ceil(n / (16 * threads)));
}

/**
 * Runs a whole loop on the calling thread as thread 0, chunk by chunk like the parallel path, so a
 * kernel that keeps per-chunk partial sums (indexed by start / chunk) gets the same ranges either way.
 */
function runSerial<A extends KernelArgs>(kernel: Kernel<A>, n: number, args: A, chunk: number): void {
  for (let s = 0; s < n; s += chunk) kernel.fn(args, s, Math.min(n, s + chunk), 0);
}

/**
 * The worker entry's URL: `pool.worker.ts` beside this file when running TypeScript sources (tsx),
 * `pool.worker.js` beside it once compiled to dist/.
 */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./pool.worker${ext}`, import.meta.url);
}

/**
 * The parent's Node flags minus those that describe the parent's own entry point (`-e`/`--eval`,
 * `-p`/`--print` with their script, `--input-type`): a worker inheriting them fails to start.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe' || a === '--input-type') { i++; continue; }
    if (a.startsWith('--eval=') || a.startsWith('--print=') || a.startsWith('--input-type=')) continue;
    out.push(a);
  }
  return out;
}

/**
 * Node 20 does not apply a loader given with `--import` to a worker's own entry file, so for
 * TypeScript sources the worker starts from a one-line bootstrap that registers tsx (the loader the
 * sources already run under) before importing the entry. Compiled code starts the .js entry directly.
 */
function startWorker(url: URL, thread: number): Worker {
  const execArgv = workerExecArgv();
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: { thread }, execArgv });
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error(`running the TypeScript worker ${url.href} needs the tsx package; build with tsc and run dist/ instead`);
  }
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: { thread }, execArgv });
}

interface Pending { resolve: () => void; reject: (e: Error) => void }

/**
 * Creates a pool of `threads` threads (default: the machine's cores). threads = 1 makes no worker:
 * every loop runs on the caller. Workers start lazily, on the first loop that is not serial.
 */
export function createPool(options: { threads?: number } = {}): Pool {
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`threads must be an integer in 1..256, got ${threads}`);
  let workers: Worker[] | null = null;
  let closed = false;
  let busy = false;
  let broken: Error | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const fail = (err: Error): void => {
    broken ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const ensureWorkers = (): Worker[] => {
    if (workers) return workers;
    const url = workerUrl();
    workers = [];
    for (let t = 1; t < threads; t++) {
      const w = startWorker(url, t);
      w.on('message', (m: { id: number; error?: { message: string; stack?: string } }) => {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.error) {
          const e = new Error(m.error.message);
          if (m.error.stack) e.stack = m.error.stack;
          p.reject(e);
        } else p.resolve();
      });
      w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => { if (!closed) fail(new Error(`pool worker ${t} exited with code ${code}`)); });
      w.unref();
      workers.push(w);
    }
    return workers;
  };

  const pool: Pool = {
    threads,
    async parallelFor<A extends KernelArgs>(kernel: Kernel<A>, n: number, args: A, opts: ParallelForOptions = {}): Promise<void> {
      if (closed) throw new Error('the pool is closed');
      if (broken) throw new Error(`the pool is broken: ${broken.message}`);
      if (busy) throw new Error('the pool runs one loop at a time; await the previous parallelFor first');
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`loop length must be a non-negative integer, got ${n}`);
      checkArgs(args);
      const chunk = opts.chunk ?? defaultChunk(n, threads);
      if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
      if (threads === 1 || n <= (opts.serialBelow ?? 0) || n <= chunk) {
        runSerial(kernel, n, args, chunk);
        return;
      }
      busy = true;
      const ws = ensureWorkers();
      const counter = sharedArray(Int32Array, 1);
      const done: Promise<void>[] = [];
      try {
        for (const w of ws) {
          const id = nextId++;
          done.push(new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject })));
          w.ref();
          w.postMessage({ id, module: kernel.module, name: kernel.name, n, chunk, counter, args });
        }
        let callerError: unknown = null;
        try {
          for (let s = Atomics.add(counter, 0, chunk); s < n; s = Atomics.add(counter, 0, chunk)) {
            kernel.fn(args, s, Math.min(n, s + chunk), 0);
          }
        } catch (e) {
          callerError = e;
          Atomics.store(counter, 0, n); // let the workers stop early
        }
        const results = await Promise.allSettled(done);
        if (callerError) throw callerError;
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        busy = false;
        if (workers) for (const w of workers) w.unref();
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const ws = workers ?? [];
      workers = null;
      fail(new Error('the pool was closed'));
      await Promise.all(ws.map((w) => w.terminate()));
    },
  };
  return pool;
}

/**
 * Runs `body` with a pool: the given one (left open), or a fresh one of `threads` threads that is
 * closed afterwards. Lets a function take an optional pool without leaking workers.
 */
export async function withPool<T>(given: Pool | undefined, threads: number, body: (pool: Pool) => Promise<T>): Promise<T> {
  if (given) return body(given);
  const pool = createPool({ threads });
  try {
    return await body(pool);
  } finally {
    await pool.close();
  }
}

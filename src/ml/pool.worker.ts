// Worker entry of the pool (src/ml/pool.ts): imports each kernel's module once, then claims chunks of
// the loop from the shared counter until it runs out, and reports done or the kernel's error.
import { parentPort, workerData } from 'node:worker_threads';
import type { KernelArgs, KernelFn } from './pool.js';

interface Task {
  id: number;
  module: string;
  name: string;
  n: number;
  chunk: number;
  counter: Int32Array;
  args: KernelArgs;
}

const thread = (workerData as { thread: number }).thread;
const kernels = new Map<string, KernelFn>();

async function kernelOf(module: string, name: string): Promise<KernelFn> {
  const key = `${module}#${name}`;
  let fn = kernels.get(key);
  if (!fn) {
    const mod = (await import(module)) as Record<string, unknown>;
    const f = mod[name];
    if (typeof f !== 'function') throw new Error(`kernel ${name} is not a function exported by ${module}`);
    fn = f as KernelFn;
    kernels.set(key, fn);
  }
  return fn;
}

parentPort?.on('message', async (task: Task) => {
  try {
    const fn = await kernelOf(task.module, task.name);
    const { n, chunk, counter, args } = task;
    for (let s = Atomics.add(counter, 0, chunk); s < n; s = Atomics.add(counter, 0, chunk)) {
      fn(args, s, Math.min(n, s + chunk), thread);
    }
    parentPort?.postMessage({ id: task.id });
  } catch (e) {
    Atomics.store(task.counter, 0, task.n); // the loop has failed: let the other threads stop early
    const err = e instanceof Error ? e : new Error(String(e));
    parentPort?.postMessage({ id: task.id, error: { message: err.message, stack: err.stack } });
  }
});

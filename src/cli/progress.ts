// Progress for long work, on stderr so stdout stays clean for --json.
// On a terminal: one bar redrawn in place. Elsewhere (CI, pipes): a line every few seconds.
export interface Progress {
  /**
   * done and total in the same unit (bytes, rows, iterations); total 0 means unknown. `note` says what is
   * being done now, after the counts.
   */
  update(done: number, total?: number, note?: string): void;
  done(summary?: string): void;
}

export type ProgressFactory = (label: string, unit?: 'bytes' | 'rows' | 'items') => Progress;

export function silentProgress(): Progress {
  return { update() {}, done() {} };
}

function format(n: number, unit: string): string {
  if (unit === 'bytes') {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
    if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
    if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
    return `${n} B`;
  }
  return n.toLocaleString('en-US');
}

/** Milliseconds between lines where the stream is not a terminal, and between redraws where it is. */
const LINE_EVERY_MS = 3000, REDRAW_EVERY_MS = 100;

export function createProgress(options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressFactory {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return () => silentProgress();
  const tty = Boolean(stream.isTTY);
  return (label, unit = 'items') => {
    const start = Date.now();
    let lastDraw = 0;
    let last = { done: 0, total: 0, note: '' };
    let heartbeat: NodeJS.Timeout | null = null;
    const line = () => {
      const { done, total, note } = last;
      const secs = ((Date.now() - start) / 1000).toFixed(1);
      const what = note ? ` ${note}` : '';
      if (total > 0) {
        const frac = Math.min(1, done / total);
        const width = 24;
        const bar = tty ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
        return `${label} ${bar}${(frac * 100).toFixed(0)}% ${format(done, unit)}/${format(total, unit)}${what} ${secs}s`;
      }
      return `${label} ${format(done, unit)}${what} ${secs}s`;
    };
    const draw = () => {
      const now = Date.now();
      if (tty ? now - lastDraw >= REDRAW_EVERY_MS : now - lastDraw >= LINE_EVERY_MS && now - start >= 2000) {
        lastDraw = now;
        stream.write(tty ? `\r\x1b[K${line()}` : `${line()}\n`);
      }
    };
    return {
      update(done, total = 0, note = '') {
        last = { done, total, note };
        draw();
        // a step that reports nothing for minutes (a long query) still shows the time going on; unref'd, so
        // it never keeps the process alive
        heartbeat ??= setInterval(draw, 1000).unref();
      },
      done(summary) {
        if (heartbeat) clearInterval(heartbeat);
        heartbeat = null;
        const secs = ((Date.now() - start) / 1000).toFixed(1);
        if (tty) stream.write(`\r\x1b[K`);
        if (tty || Date.now() - start >= 2000) stream.write(`${label} ${summary ?? 'done'} (${secs}s)\n`);
      },
    };
  };
}

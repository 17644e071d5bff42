// What must be undone, or let go, if the process is stopped by a signal: Node runs no finally block then.
// Each step is synchronous and registered only while it applies (a lock held, rows written ahead of a COMMIT).

const steps = new Set<() => void>();

/** Registers `step` to run if the process is stopped; returns what unregisters it. */
export function onInterrupt(step: () => void): () => void {
  steps.add(step);
  return () => {
    steps.delete(step);
  };
}

/** Runs every registered step, newest first (what was taken last is let go first); a failing step does not stop the others. */
export function runInterruptSteps(): void {
  for (const step of [...steps].reverse()) {
    try {
      step();
    } catch {
      // the process is on its way out: the next steps matter more than this failure
    }
  }
  steps.clear();
}

let settling = 0;
let deferredStop: (() => void) | null = null;

/**
 * Runs `commit`, an operation that a stop must let settle: a COMMIT that DuckDB runs on another thread
 * goes on, and usually lands, after the process was told to exit, so an undo step run meanwhile (taking a
 * source's quarantined rows back out) would undo what is kept. A stop that comes meanwhile (stopWhenSettled)
 * takes effect once it has settled, with the steps it left registered: `commit` unregisters those that no
 * longer apply before it returns.
 */
export async function settleBeforeStop<T>(commit: () => Promise<T>): Promise<T> {
  settling++;
  try {
    return await commit();
  } finally {
    if (--settling === 0 && deferredStop) {
      const stop = deferredStop;
      deferredStop = null;
      stop();
    }
  }
}

/** Runs `stop` now, or once the operations under way in settleBeforeStop have settled. */
export function stopWhenSettled(stop: () => void): void {
  if (settling > 0) deferredStop = stop;
  else stop();
}

const owed = new Set<string>();

/**
 * Registers, for the message of a stop by a signal, that a version was made current and its predictions
 * are still to be written: "run it again" is not always the way on then (a rollback run again goes back
 * one more version), floyo score is. The next write of predictions settles every such note, as it removes
 * every pending_versions row. Returns what unregisters it.
 */
export function owePredictions(note: string): () => void {
  owed.add(note);
  return () => {
    owed.delete(note);
  };
}

/** Called once a write of predictions has committed: nothing is owed any more. */
export function predictionsWritten(): void {
  owed.clear();
}

/** What a stop now leaves owed (owePredictions), oldest first. */
export function interruptNotes(): string[] {
  return [...owed];
}

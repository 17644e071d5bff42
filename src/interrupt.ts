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

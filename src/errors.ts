// Errors are values with context: the CLI prints `message` (which already names file, row and field)
// without a stack trace; anything that is not a FloyoError is a bug and is printed with its stack.
export interface ErrorContext {
  file?: string;
  row?: number;
  field?: string;
  offset?: number;
}

/** Exit code when there is nothing to answer with: an unknown customer, no model version or prediction yet. */
export const NOT_FOUND_EXIT = 1;
/** Exit code of bad input or usage (the default of a FloyoError). */
export const USAGE_EXIT = 2;
/** Exit code of an error that is not a FloyoError: a bug (EX_SOFTWARE of sysexits.h). */
export const INTERNAL_EXIT = 70;
/** Exit code of a FloyoError whose resource (the home, the warehouse) another process holds. */
export const BUSY_EXIT = 3;

export class FloyoError extends Error {
  readonly context: ErrorContext;
  /** process exit code for the CLI: 1 = nothing to answer with, 2 = bad input or usage, 3 = resource busy */
  readonly exitCode: number;
  constructor(message: string, context: ErrorContext = {}, exitCode = USAGE_EXIT) {
    super(message);
    this.name = 'FloyoError';
    this.context = context;
    this.exitCode = exitCode;
  }
}

/**
 * A failure that comes with the report of the work done before it (an ingest whose source failed, or a
 * train stopped after its --data was ingested): under --json the report is printed with the error added to
 * it, as `floyo ingest --json` prints it.
 */
export class FailureWithReport extends FloyoError {
  constructor(message: string, context: ErrorContext, readonly report: object, exitCode = USAGE_EXIT) {
    super(message, context, exitCode);
  }
}

// The registry's current version cannot be used. Here, not in the registry module, so that commands can
// tell them apart without loading it (and the AWS SDK it brings).

/** CURRENT names a model version that is not there. */
export class CurrentVersionGone extends FloyoError {}

/** The current model version is damaged: its damage, and what to do about it. */
export class CurrentVersionDamaged extends FloyoError {
  constructor(readonly damage: FloyoError, remedy: string) {
    super(`${damage.message}; it is the current version: ${remedy}`, damage.context, damage.exitCode);
  }
}

export function where(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.file) parts.push(context.file);
  if (context.row !== undefined) parts.push(`row ${context.row}`);
  if (context.field) parts.push(`field ${context.field}`);
  return parts.join(', ');
}

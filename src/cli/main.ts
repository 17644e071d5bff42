// The `floyo` command: parses arguments and calls the layers below. One file per command.
import { Command, CommanderError } from 'commander';
import { register as config } from './config.js';
import { register as ingest } from './ingest.js';
import { register as features } from './features.js';
import { register as presets } from './presets.js';
import { register as generate } from './generate.js';
import { register as demo } from './demo.js';
import { register as trainCmd } from './train.js';
import { register as models } from './models.js';
import { register as score } from './score.js';
import { register as recommend } from './recommend.js';
import { register as customer } from './customer.js';
import { register as segments } from './segments.js';
import { register as audience } from './audience.js';
import { INTERNAL_EXIT, USAGE_EXIT } from '../errors.js';
import { VERSION } from '../version.js';
import { jsonWasWritten, printJsonError, shellWord } from './common.js';
import { interruptNotes, runInterruptSteps, stopWhenSettled } from '../interrupt.js';

// `floyo ... | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// Stopped by cron's timeout (SIGTERM) or Ctrl-C: nothing half-done is kept (a source, a model version, a
// write of predictions each commits whole, or leaves what the next run removes), so say so, and free the
// home at once rather than leave the next command to find the lock dead.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
  // a COMMIT under way is let finish first (a few milliseconds): it may land whether or not the process waits
  process.once(signal, () => stopWhenSettled(() => {
    runInterruptSteps();
    const notes = interruptNotes();
    const message = notes.length
      ? `stopped by ${signal} before it finished: ${notes.join('; ')}`
      : `stopped by ${signal} before it finished: what it had not committed is not kept; run it again`;
    process.stderr.write(`${signal === 'SIGINT' ? '\n' : ''}floyo: ${message}\n`);
    if (wantsJson() && !jsonWasWritten()) printJsonError(message, 128 + number);
    process.exit(128 + number);
  }));
}

const program = new Command('floyo')
  .description('Turns an online shop\'s sales data into segments, churn risk and recommendations.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)')
  // usage errors (unknown option, missing argument) exit 2 like every other bad input, not commander's 1,
  // which means "nothing to answer" here; set before the commands are added, which inherit it
  .exitOverride()
  .addHelpText(
    'after',
    `
Every command works on a home folder (warehouse, models, predictions): --home DIR, or FLOYO_HOME, default
./.floyo; settings come from --config FILE (or FLOYO_CONFIG, or ./floyo.config.json|yaml), FLOYO_*
variables and flags (\`floyo config\` shows them). Options go after the command: floyo segments --home DIR.
Start with \`floyo demo\`; \`floyo <command> --help\` says more.`,
  );

for (const register of [demo, trainCmd, score, customer, segments, audience, recommend, models, ingest, features, generate, presets, config]) register(program);

// Under --json every failure is also one object on stdout, as action() prints for FloyoErrors. Commander
// keeps the options it parsed before it fails, so the command's own --json decides (a --json that is the
// value of another option is not one); argv is read when no command was reached, or when the command
// parsed no option at all because the line failed before it (`floyo --home X segments --json`).
const args = process.argv.slice(2);
function wantsJson(): boolean {
  let command = program;
  const options = args.slice(0, args.includes('--') ? args.indexOf('--') : undefined);
  for (const arg of options) {
    const sub = arg.startsWith('-') ? undefined : command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub) command = sub;
  }
  const parsed = command.opts();
  // defaults are there whether or not the command's options were parsed
  const parsedAny = Object.keys(parsed).some((k) => command.getOptionValueSource(k) !== 'default');
  return command === program || !parsedAny ? options.includes('--json') : Boolean(parsed.json);
}

/**
 * `floyo --home X segments`: every option is a command's, so floyo itself knows none of them. When the
 * command knows the option, the line with the command first, which runs (null otherwise).
 */
function commandFirst(err: CommanderError): string | null {
  if (err.code !== 'commander.unknownOption') return null;
  const at = args.findIndex((a) => program.commands.some((c) => c.name() === a));
  const option = /'(-[^'=]*)/.exec(err.message)?.[1];
  if (at <= 0 || option === undefined || !args.slice(0, at).some((a) => a.split('=')[0] === option)) return null;
  // the command the line names, down to a subcommand (`models list`)
  let command = program.commands.find((c) => c.name() === args[at])!;
  let end = at + 1;
  for (let sub; (sub = command.commands.find((c) => c.name() === args[end])); end++) command = sub;
  if (!command.options.some((o) => o.long === option || o.short === option)) return null;
  return ['floyo', ...args.slice(at, end), ...args.slice(0, at), ...args.slice(end)].map(shellWord).join(' ');
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT; // commander has printed the message (or help, version)
    const moved = commandFirst(err);
    const hint = moved ? `(options go after the command: ${moved})` : '';
    if (hint) process.stderr.write(`${hint}\n`);
    // 'commander.help': help shown for a usage error (`floyo models help nope`), whose message is a placeholder
    if (err.exitCode !== 0 && err.code !== 'commander.help' && wantsJson()) printJsonError(`${err.message.replace(/^error: /, '')}${hint ? `\n${hint}` : ''}`, USAGE_EXIT);
  } else {
    // not a FloyoError (those are one line, handled by each action): a bug, so the stack is worth having,
    // under its own exit code rather than 1, which means "nothing to answer with"
    process.stderr.write(`floyo: internal error (please report it with what follows)\n${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = INTERNAL_EXIT;
    if (wantsJson()) printJsonError(`internal error (a bug, please report it): ${(err as Error)?.message ?? String(err)}`, INTERNAL_EXIT);
  }
}

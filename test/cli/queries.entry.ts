// A test-only `floyo` with just the query commands (customer, segments, audience), so their tests run
// them as a separate process the way a user does, before src/cli/main.ts wires them in.
import { Command } from 'commander';
import { register as customer } from '../../src/cli/customer.js';
import { register as segments } from '../../src/cli/segments.js';
import { register as audience } from '../../src/cli/audience.js';

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('floyo').showHelpAfterError('(run with --help for usage)');
for (const register of [customer, segments, audience]) register(program);
await program.parseAsync(process.argv);

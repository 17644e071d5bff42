import type { Command } from 'commander';
import { effectiveSettings, envName } from '../config.js';
import { action, makeContext, table, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('config')
      .description('print the effective configuration and where each value came from')
      .addHelpText(
        'after',
        '\nLayers, later wins: defaults < config file < FLOYO_* environment < flags.\nEach setting\'s environment variable is shown in the table.',
      ),
  ).action(
    action((opts: CommonOptions) => {
      const ctx = makeContext(opts);
      const settings = effectiveSettings(ctx.loaded);
      if (ctx.json) {
        ctx.emitJson({ file: ctx.loaded.file ?? null, settings: settings.map(({ key, value, source }) => ({ key, value: value ?? null, source, env: envName(key) })) });
        return;
      }
      ctx.say(`config file: ${ctx.loaded.file ?? '(none)'}`);
      ctx.say(table(settings.map((s) => ({ setting: s.key, value: s.value === undefined ? '-' : JSON.stringify(s.value), from: s.source, env: envName(s.key) }))));
    }),
  );
}

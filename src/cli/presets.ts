import type { Command } from 'commander';
import { yaml } from '../yaml.js';
import { mappingKeysHelp, PRESETS, presetMapping } from '../data/mapping.js';
import { action, makeContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('presets')
      .description('list the column-mapping presets, or print one as a starting point for your own mapping file')
      .argument('[name]', 'a preset to print (online-retail, shopify)')
      .addHelpText(
        'after',
        `
A mapping file (JSON or YAML) tells Floyo how to read a shop's own export. Its keys:
${mappingKeysHelp()}

Example: floyo presets shopify > my-shop.yaml; edit it; floyo ingest export.csv --mapping my-shop.yaml`,
      ),
  ).action(
    action((name: string | undefined, opts: CommonOptions) => {
      const ctx = makeContext(opts);
      if (name) {
        presetMapping(name); // refuses an unknown name, listing the presets
        // printed as a starting point for the user's own mapping: a description of the preset's export
        // would stay behind, describing another shop's file
        const template = { ...(PRESETS[name] as object), description: 'edit me: which shop and export this mapping reads' };
        if (ctx.json) ctx.emitJson(template);
        else process.stdout.write(yaml().stringify(template));
        return;
      }
      if (ctx.json) {
        // one object, as every --json output is
        ctx.emitJson({ presets: Object.keys(PRESETS).map((n) => ({ name: n, description: presetMapping(n).description ?? '' })) });
        return;
      }
      for (const n of Object.keys(PRESETS)) ctx.say(`${n.padEnd(15)} ${presetMapping(n).description ?? ''}`);
    }),
  );
}

import type { Command } from 'commander';
import { yaml } from '../yaml.js';
import { PRESETS, presetMapping } from '../data/mapping.js';
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
A mapping file (JSON or YAML) tells Floyo how to read a shop's own export:
  columns     canonical field → your column: orderId, customerId, productId, productName, quantity,
              unitPrice, timestamp, country, currency, refundedAmount. A column can be a name, or
              { column, fallback, lowercase }, { columns: [A, B] } (joined with "|") or a constant { value }.
  orderLevelColumns  columns written only on an order's first line (filled down within the order)
  timestamp   { format: auto | unix | unix-ms | a pattern like 'DD.MM.YYYY HH:mm', timezone: UTC | +01:00 | Europe/Berlin }
              pattern tokens: YYYY YY MM M DD D HH H hh h mm ss SSS A Z; other letters go in [brackets];
              YY 69-99 is 1969-1999, 00-68 is 2000-2068
  numbers     { decimal: '.' | ',', thousands: '' | ',' | '.' | ' ' | "'" }
  csv         { delimiter, quote, encoding: utf-8 | windows-1252 | latin1 }
  returns     { orderIdPattern: '^C' }   credit notes; negative quantities are always returns
  exclude     business rules: [{ reason, when: [{ field | column, matches | notMatches | in | equals |
              lessThan | greaterThan | empty }] }] — matching rows are excluded and counted by reason;
              in and equals on text ignore case, numbers use the mapping's numbers convention

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

// `floyo audience`: the customers of a segment and/or churn range, a page at a time (or all of them as
// NDJSON for exports), by keyset pagination with an opaque cursor.
import type { Command } from 'commander';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { DEFAULT_PAGE, MAX_PAGE, RF_CELL, withPredictions, type AudiencePage, type AudienceQuery } from '../stores/predictions.js';
import type { Config } from '../config.js';
import { action, exitCodesHelp, makeContext, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { withRegistry } from './registry.js';
import { percent, withRules } from './customer.js';

export interface AudienceOptions extends CommonOptions {
  segment?: string;
  minChurn?: string;
  maxChurn?: string;
  risk?: string;
  rf?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('audience')
      .description('customers by segment, churn probability and risk, a page at a time; --all exports every page as NDJSON')
      .option('--segment <name>', 'only this segment (see `floyo segments`)')
      .option('--min-churn <p>', 'churn probability at least p: 0..1 or a percentage like 70%')
      .option('--max-churn <q>', 'churn probability at most q: 0..1 or a percentage')
      .option('--risk <level>', 'high or low churn risk, as flagged when scored (by the configured churn costs)')
      .option('--rf <cells>', 'only these R×F quintile cells, comma-separated, e.g. R5F5,R5F4 (R5: most recent fifth, F5: most frequent)')
      .option('--limit <n>', `customers per page, 1..${MAX_PAGE.toLocaleString('en-US')} (default ${DEFAULT_PAGE}; with --all, the page size)`)
      .option('--cursor <c>', 'continue after the page that printed this cursor (same filters, same model version)')
      .option('--all', 'every page after the cursor as NDJSON on stdout, one customer per line; progress on stderr')
      .addHelpText(
        'after',
        `
Customers come in customer id order. Each page ends with the cursor of the next one; pass it with the
same filters to continue. Paging is by customer id, not by position: customers scored between two pages
neither repeat nor push others out. A cursor holds for the predictions it was made on: a floyo score
with the same model version keeps it, but once a train, promote or rollback has written another version's
predictions it is refused (exit 2), since its next page would come from other segments and scores: start
again without --cursor. --json prints {customers, nextCursor, total}, total being every customer that
matches the filters.
${exitCodesHelp('nothing to answer with (unknown segment, nothing scored yet)')}

Examples:
  floyo audience --segment 'at risk' --min-churn 0.7
  floyo audience --risk high --limit 500 --json
  floyo audience --segment champions --cursor eyJ2Ijox...
  floyo audience --min-churn 70% --all > at-risk.ndjson
  floyo audience --rf R5F5,R5F4 --json`,
      ),
    { opensHome: true },
  ).action(
    action(async (opts: AudienceOptions) => {
      const ctx = makeContext(opts);
      // --json promises one object; an export of millions is a stream, one object per line
      if (opts.all && opts.json) throw new FloyoError('--all prints NDJSON (one customer per line), --json one page as an object: give one of them');
      const query = parseQuery(opts);
      await withPredictions(ctx.loaded.config.home, 'floyo audience', async (store, warnings) => {
        const known = (await store.segments()).map((s) => s.segment);
        const asked = query.segment;
        if (asked !== undefined && !known.includes(asked)) {
          // A name typed in another case still means that segment. Otherwise exit 1, not an empty audience:
          // a scheduled campaign must notice that its segment is gone (segment names follow the clusters,
          // and a new model version can name them differently).
          const match = known.filter((k) => k.toLowerCase() === asked.toLowerCase());
          if (match.length === 1) {
            query.segment = match[0];
          } else {
            // a segment the model names but assigns no customer to now is there, and empty: an audience of none
            const empty = match.length === 0 ? await segmentNoOneIsIn(ctx.loaded.config, await store.modelVersions(), asked) : undefined;
            if (empty === undefined) {
              throw new FloyoError(`no segment is named ${JSON.stringify(asked)}; the segments are: ${known.map((k) => JSON.stringify(k)).join(', ')}`, {}, NOT_FOUND_EXIT);
            }
            query.segment = empty.name;
            warnings.push(`no customer is in the segment ${JSON.stringify(empty.name)} now: model version ${empty.version} names it, but assigns nobody to it`);
            warn(warnings[warnings.length - 1]);
          }
        }
        // business rules apply at query time: stored recommendations of excluded products are dropped
        const exclude = new Set(ctx.loaded.config.recommendations.exclude);
        const read = async (q: AudienceQuery): Promise<AudiencePage> => {
          const page = await store.audience(q);
          return { ...page, customers: page.customers.map((c) => withRules(c, exclude).prediction) };
        };
        if (opts.all) {
          await exportAll(ctx, read, query);
        } else {
          printPage(ctx, query, await read(query), warnings);
        }
      }, ctx.lockWait);
    }),
  );
}

/**
 * The segment `asked` (in any case) as a model version with stored predictions names it, when no stored
 * prediction is in it (a "new" cluster whose nearest customers all joined long ago); undefined when no
 * such version names it, or the registry cannot say (then the segment is reported as unknown).
 */
async function segmentNoOneIsIn(config: Config, versions: string[], asked: string): Promise<{ name: string; version: string } | undefined> {
  try {
    return await withRegistry(config, async (registry) => {
      for (const version of versions.reverse()) {
        const doc = (await registry.document('segmentation', version)) as { names?: unknown } | undefined;
        const names = Array.isArray(doc?.names) ? doc.names.filter((n): n is string => typeof n === 'string') : [];
        const name = names.find((n) => n.toLowerCase() === asked.toLowerCase());
        if (name !== undefined) return { name, version };
      }
      return undefined;
    });
  } catch {
    return undefined;
  }
}

/** A decimal number (mantissa, exponent): not hex, binary or octal, which Number also reads (0x1 is 1). */
const DECIMAL = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:e([+-]?\d+))?$/i;

/**
 * A percentage's number divided by 100 by moving the decimal point in its text: 14.3% is then the double
 * nearest 0.143, the same bound as --min-churn 0.143 (14.3 / 100 is 0.14300000000000002). NaN when the
 * text is not a decimal number.
 */
function fromPercent(text: string): number {
  const decimal = DECIMAL.exec(text);
  return decimal ? Number(`${decimal[1]}e${Number(decimal[2] ?? 0) - 2}`) : NaN;
}

function probability(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  const p = trimmed.endsWith('%') ? fromPercent(trimmed.slice(0, -1).trim()) : DECIMAL.test(trimmed) ? Number(trimmed) : NaN;
  if (trimmed === '' || !Number.isFinite(p) || p < 0 || p > 1) {
    throw new FloyoError(`${flag} must be a churn probability from 0 to 1 (or a percentage like 70%), got ${JSON.stringify(text)}`);
  }
  return p;
}

/** The query from the command line, checked with the flags' names in the messages. */
export function parseQuery(opts: AudienceOptions): AudienceQuery {
  const query: AudienceQuery = {};
  if (opts.segment !== undefined) {
    if (opts.segment.trim() === '') throw new FloyoError('--segment needs a segment name (see `floyo segments`)');
    query.segment = opts.segment.trim();
  }
  query.minChurn = probability('--min-churn', opts.minChurn);
  query.maxChurn = probability('--max-churn', opts.maxChurn);
  if (query.minChurn !== undefined && query.maxChurn !== undefined && query.minChurn > query.maxChurn) {
    throw new FloyoError(`--min-churn (${opts.minChurn}) is above --max-churn (${opts.maxChurn}): no customer can match`);
  }
  if (opts.risk !== undefined) {
    if (opts.risk !== 'high' && opts.risk !== 'low') throw new FloyoError(`--risk must be high or low, got ${JSON.stringify(opts.risk)}`);
    query.risk = opts.risk;
  }
  if (opts.rf !== undefined) {
    const cells = opts.rf.split(',').map((c) => c.trim().toUpperCase()).filter((c) => c.length > 0);
    const bad = cells.find((c) => !RF_CELL.test(c));
    if (cells.length === 0 || bad !== undefined) {
      throw new FloyoError(`--rf must be R×F cells from R1F1 to R5F5, comma-separated (R5: most recent fifth, F5: most frequent), got ${JSON.stringify(bad ?? opts.rf)}`);
    }
    query.rfCells = cells;
  }
  if (opts.limit !== undefined) {
    const n = Number(opts.limit);
    if (!/^\s*\d+\s*$/.test(opts.limit) || n < 1 || n > MAX_PAGE) {
      throw new FloyoError(`--limit must be a whole number from 1 to ${MAX_PAGE.toLocaleString('en-US')}, got ${JSON.stringify(opts.limit)}`);
    }
    query.limit = n;
  }
  if (opts.cursor !== undefined) query.cursor = opts.cursor;
  for (const key of Object.keys(query) as Array<keyof AudienceQuery>) if (query[key] === undefined) delete query[key];
  return query;
}

/** A filter bound as given: 0.9999 is "99.99%", not a rounded "100.0%" that reads as another filter. */
function exactPercent(p: number): string {
  return `${Number((p * 100).toPrecision(12))}%`;
}

function describe(q: AudienceQuery): string {
  const parts: string[] = [];
  if (q.segment !== undefined) parts.push(`segment ${JSON.stringify(q.segment)}`);
  if (q.minChurn !== undefined) parts.push(`churn ≥ ${exactPercent(q.minChurn)}`);
  if (q.maxChurn !== undefined) parts.push(`churn ≤ ${exactPercent(q.maxChurn)}`);
  if (q.risk !== undefined) parts.push(`${q.risk} risk`);
  if (q.rfCells !== undefined) parts.push(`R×F ${q.rfCells.join(', ')}`);
  return parts.length ? parts.join(', ') : 'all customers';
}

function printPage(ctx: CommandContext, query: AudienceQuery, page: AudiencePage, warnings: string[]): void {
  if (ctx.json) {
    ctx.emitJson({ ...page, warnings });
    return;
  }
  if (page.customers.length === 0) {
    ctx.say(page.total === 0 ? `no customers match (${describe(query)})` : `no more customers after this cursor (${page.total.toLocaleString('en-US')} match ${describe(query)})`);
    return;
  }
  ctx.say(
    table(
      page.customers.map((c) => ({
        customer: c.customerId,
        segment: c.segment,
        'R×F': c.rfCell,
        churn: percent(c.churnProbability),
        risk: c.churnRisk,
        'top reason': c.churnReasons[0]?.text ?? '',
      })),
    ),
  );
  ctx.say();
  ctx.say(`${page.customers.length.toLocaleString('en-US')} customer${page.customers.length === 1 ? '' : 's'} on this page, ${page.total.toLocaleString('en-US')} match (${describe(query)})`);
  ctx.say(page.nextCursor ? `next page: the same command with --cursor ${page.nextCursor}` : 'this is the last page');
}

/** Every page as NDJSON, waiting for stdout to drain so a slow reader does not grow memory. */
async function exportAll(ctx: CommandContext, read: (q: AudienceQuery) => Promise<AudiencePage>, query: AudienceQuery): Promise<void> {
  const pageQuery: AudienceQuery = { ...query, limit: query.limit ?? 1000 };
  const bar = ctx.progress('audience', 'rows');
  let written = 0;
  for (;;) {
    const page = await read(pageQuery);
    if (page.customers.length) {
      const text = page.customers.map((c) => JSON.stringify(c)).join('\n') + '\n';
      if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
    }
    written += page.customers.length;
    bar.update(written, page.total);
    if (page.nextCursor === null) break;
    pageQuery.cursor = page.nextCursor;
  }
  bar.done(`${written.toLocaleString('en-US')} customers`);
}

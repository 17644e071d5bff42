import type { Command } from 'commander';
import { sourceRank, type Config, type LoadedConfig } from '../config.js';
import { FloyoError, USAGE_EXIT } from '../errors.js';
import { ingest, type IngestRequest, type IngestSummary } from '../data/ingest.js';
import { DATA_FILE_KINDS, type NotRead } from '../data/locations.js';
import { loadMappingFile, presetMapping, type Mapping } from '../data/mapping.js';
import type { RowRules } from '../data/rows.js';
import { Warehouse } from '../data/warehouse.js';
import { action, exitCodesHelp, makeContext, printJsonError, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';

interface IngestOptions extends CommonOptions {
  preset?: string;
  mapping?: string;
  format?: string;
  replace?: boolean;
}

/**
 * The mapping a command uses: ingest.mapping or ingest.preset, whichever comes from the later layer
 * (a --preset flag overrides a mapping file named in the config file, and the other way round), else
 * online-retail. Both set in the same layer is ambiguous and refused.
 */
export function chooseMapping(loaded: LoadedConfig): Mapping {
  const { mapping, preset } = loaded.config.ingest;
  const mappingRank = mapping ? sourceRank(loaded.sources['ingest.mapping']) : -1;
  const presetRank = preset ? sourceRank(loaded.sources['ingest.preset']) : -1;
  if (mapping && preset && mappingRank === presetRank) {
    throw new FloyoError(`ingest.mapping and ingest.preset are both set (${loaded.sources['ingest.mapping']}, ${loaded.sources['ingest.preset']}); keep one`);
  }
  if (mapping && mappingRank > presetRank) return loadMappingFile(mapping);
  return presetMapping(preset ?? 'online-retail');
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('ingest')
      .description('read transactions from files or S3 into the warehouse, quarantining bad rows')
      .argument('<location...>', 'a file, a glob (quote it), a folder, or s3://bucket/prefix')
      .option('--preset <name>', 'column mapping preset: online-retail (default) or shopify')
      .option('--mapping <file>', 'column mapping file (JSON or YAML); see `floyo presets --help`')
      .option('--format <format>', 'auto (default), csv, csv.gz, parquet, ndjson, ndjson.gz')
      .option('--replace', 'ingest sources again even if their content was ingested before, replacing that ingest (e.g. after fixing the mapping)')
      .addHelpText(
        'after',
        `
Each file or S3 object is identified by its content: ingesting it again adds nothing, unless --replace
(then its earlier lines are replaced by what the current mapping reads, in one transaction).
An order id that arrives again from another source replaces that order's earlier lines; so does an order
whose lines a later source excludes (e.g. voided since).
A source none of whose rows can be used fails (the mapping does not fit it) and is not recorded.
Rows that cannot be used go to a quarantine file (home/quarantine/) with file, row, field and reason;
rows excluded by a business rule (e.g. postage codes) are counted by rule. Rows read always equal
accepted + quarantined + excluded. Exit code 2 when a source failed as a whole (nothing from it landed);
with --json the report then also carries {error: {message, exitCode, file}} (file: when one source failed).
S3: credentials come from the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role);
an S3-compatible server needs s3.endpoint and usually s3.forcePathStyle (FLOYO_S3_ENDPOINT,
FLOYO_S3_FORCE_PATH_STYLE=true); s3.region for AWS. s3://bucket/name is the object of that name, or else
the folder name/ (never name.gz/ beside it).
${exitCodesHelp(null, 'bad input, or a source that failed as a whole')}

Examples:
  floyo ingest data/online_retail.csv.gz
  floyo ingest 'exports/**/*.csv' --preset shopify
  floyo ingest s3://my-bucket/sales/2024/ --json
  floyo ingest data/online_retail.csv.gz --mapping fixed-mapping.yaml --replace`,
      ),
    { opensHome: true },
  ).action(
    action(async (locations: string[], opts: IngestOptions) => {
      if (opts.preset && opts.mapping) throw new FloyoError('give either --preset or --mapping, not both');
      const ctx = makeContext(opts, {
        'ingest.preset': opts.preset,
        'ingest.mapping': opts.mapping,
        'ingest.format': opts.format,
      });
      const summary = await runIngest(ctx, locations, opts.replace === true);
      printIngest(ctx, summary);
      if (summary.sourcesFailed > 0) process.exitCode = USAGE_EXIT;
    }),
  );
}

export async function runIngest(ctx: CommandContext, locations: string[], replace = false): Promise<IngestSummary> {
  const warehouse = await Warehouse.open(ctx.loaded.config.home, `floyo ingest`, ctx.lockWait);
  try {
    return await ingest(warehouse, ingestRequest(ctx, locations, replace));
  } finally {
    warehouse.close();
  }
}

/** What `floyo ingest` and `floyo train --data` ask of an ingest, from the configuration. */
export function ingestRequest(ctx: CommandContext, locations: string[], replace = false): IngestRequest {
  const { config } = ctx.loaded;
  return {
    locations,
    mapping: chooseMapping(ctx.loaded),
    format: config.ingest.format,
    s3: config.s3,
    rules: rowRules(config.ingest),
    progress: ctx.progress,
    onS3Retry: warn,
    replace,
  };
}

/** The bounds a row's values must keep to, from the ingest settings. */
export function rowRules(settings: Config['ingest'], now = Date.now()): RowRules {
  return {
    earliestAllowedTs: Date.parse(`${settings.notBefore}T00:00:00Z`),
    latestAllowedTs: now + settings.futureToleranceHours * 3_600_000,
    maxAbsQuantity: settings.maxAbsQuantity,
    maxUnitPrice: settings.maxUnitPrice,
  };
}

/** Skipped sources beyond this many are summed up in one line rather than listed. */
const SKIPPED_LISTED = 10;

/**
 * Warns on stderr of what an ingest's report holds that needs a look, also under --json: files a folder,
 * glob or prefix held that were not read, a file read by its content against its name, and each
 * location ingested before with other content. Returns the warnings, for a report that lists them.
 */
export function warnIngestFindings(s: IngestSummary): string[] {
  const warnings: string[] = [];
  const notRead = notReadWarning(s.filesNotRead);
  if (notRead) warnings.push(notRead);
  // when every earlier order is in the new content, the new content has replaced the old: nothing to say
  for (const src of s.sources) {
    if (src.formatNote) warnings.push(src.formatNote);
    if (src.earlierContent?.ordersKept) warnings.push(earlierContentWarning(src.location, src.earlierContent.ordersKept));
  }
  for (const w of warnings) warn(w);
  return warnings;
}

/** Side files (Spark's _SUCCESS, .crc) are expected and only counted; a file with another extension may be data left out. */
function notReadWarning(notRead: NotRead): string | null {
  const { unsupported: n, byExtension, examples } = notRead;
  if (n === 0) return null;
  const kinds = Object.entries(byExtension).sort((a, b) => b[1] - a[1]).map(([ext, count]) => `${ext} ${count.toLocaleString('en-US')}`).join(', ');
  return `skipped ${n.toLocaleString('en-US')} file${n === 1 ? '' : 's'} with no data extension (${kinds}): ${examples.join(', ')}${n > examples.length ? ', …' : ''}; ` +
    `Floyo reads ${DATA_FILE_KINDS} (decompress or convert ${n === 1 ? 'it' : 'them'} to ingest ${n === 1 ? 'it' : 'them'})`;
}

function earlierContentWarning(location: string, ordersKept: number): string {
  const kept = ordersKept === 1 ? '1 of its orders is not in the new content and keeps its earlier lines'
    : `${ordersKept.toLocaleString('en-US')} of its orders are not in the new content and keep their earlier lines`;
  return `${location} was ingested before with other content: orders in both now have the new lines, and ${kept} ` +
    '(orders are the unit of identity, not files; see README "Identity")';
}

/**
 * What failed as a whole, in one message (null: nothing did): stderr prints it and, under --json, the
 * report carries it as `error`, as every failing command's JSON does.
 */
function failureMessage(failed: IngestSummary['sources']): string | null {
  // most errors name the file already
  const why = (src: IngestSummary['sources'][number]) => `${src.location}: ${src.error?.startsWith(`${src.location}: `) ? src.error.slice(src.location.length + 2) : src.error}`;
  if (failed.length === 0) return null;
  // some errors already say so (a file that is not UTF-8)
  if (failed.length === 1) return `failed ${why(failed[0])}${/nothing from (it|this file) was ingested$/.test(why(failed[0])) ? '' : ' — nothing from it was ingested'}`;
  return `${failed.length} sources failed, nothing from them was ingested:${failed.map((src) => `\n  ${why(src)}`).join('')}`;
}

/** The `file` of an ingest failure's JSON error: the failed source, when one failed. */
export function failedFile(failed: IngestSummary['sources']): { file?: string } {
  return failed.length === 1 ? { file: failed[0].location } : {};
}

export function printIngest(ctx: CommandContext, s: IngestSummary): void {
  warnIngestFindings(s);
  const failed = s.sources.filter((src) => src.status === 'failed');
  const failure = failureMessage(failed);
  if (ctx.json) {
    if (!failure) ctx.emitJson(s);
    else {
      process.stderr.write(`floyo: ${failure}\n`);
      printJsonError(failure, USAGE_EXIT, failedFile(failed), s);
    }
    return;
  }
  // a re-run over a prefix of a thousand objects is a thousand skipped rows: a cron log keeps one line for them
  const skipped = s.sources.filter((src) => src.status === 'already ingested');
  const listed = skipped.length > SKIPPED_LISTED ? s.sources.filter((src) => src.status !== 'already ingested') : s.sources;
  if (listed.length) ctx.say(
    table(
      listed.map((src) => ({
        source: src.location,
        fingerprint: src.fingerprint ?? '-',
        status: src.status,
        read: src.rowsRead,
        accepted: src.rowsAccepted,
        quarantined: src.rowsQuarantined,
        excluded: src.rowsExcluded,
      })),
    ),
  );
  if (listed.length < s.sources.length) ctx.say(`(and ${skipped.length.toLocaleString('en-US')} sources already ingested, skipped)`);
  ctx.say();
  ctx.say(`rows read ${s.rowsRead.toLocaleString('en-US')} = accepted ${s.rowsAccepted.toLocaleString('en-US')} + quarantined ${s.rowsQuarantined.toLocaleString('en-US')} + excluded ${s.rowsExcluded.toLocaleString('en-US')}`);
  for (const [title, counts] of [['quarantined', s.quarantinedByReason], ['excluded', s.excludedByReason]] as const) {
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
    if (entries.length) ctx.say(`${title}: ${entries.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}`);
  }
  const beyond = s.refundsBeyondLines;
  if (beyond?.orders) {
    const one = beyond.orders === 1;
    ctx.say(`refunds: ${beyond.orders.toLocaleString('en-US')} order${one ? ' was' : 's were'} refunded ` +
      `${beyond.amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} more than the value of ${one ? 'its' : 'their'} lines kept ` +
      '(shipping, tax, lines a rule excluded); that part is not taken off goods spend');
  }
  if (s.ordersReplaced) ctx.say(`replaced ${s.ordersReplaced.toLocaleString('en-US')} earlier order${s.ordersReplaced === 1 ? '' : 's'} (${s.linesReplaced.toLocaleString('en-US')} line${s.linesReplaced === 1 ? '' : 's'}): they arrived again, voided or not, or their source was ingested again`);
  if (s.quarantineFile) ctx.say(`quarantine file: ${s.quarantineFile}`);
  if (skipped.length > SKIPPED_LISTED) ctx.say(`skipped ${skipped.length.toLocaleString('en-US')} sources: already ingested; --replace ingests them again`);
  for (const src of s.sources) {
    if (src.status === 'already ingested' && skipped.length <= SKIPPED_LISTED) {
      ctx.say(`skipped ${src.location}: already ingested${src.firstIngestedFrom && src.firstIngestedFrom !== src.location ? ` (same content as ${src.firstIngestedFrom})` : ''}; --replace ingests it again`);
    }
    if (src.reingested) ctx.say(`re-ingested ${src.location}: its earlier ingest was replaced`);
  }
  if (failure) process.stderr.write(`floyo: ${failure}\n`);
  const w = s.warehouse;
  const count = (n: number, noun: string) => `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
  ctx.say(`warehouse ${w.path}: ${count(w.rows, 'line')}, ${count(w.orders, 'order')}, ${count(w.customers, 'customer')}, ${count(w.products, 'product')}, ${w.from ?? '-'} .. ${w.to ?? '-'} (${s.seconds.toFixed(1)} s)`);
}

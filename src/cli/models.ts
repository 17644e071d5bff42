// `floyo models list | show | promote | rollback | prune`: the versions in the model registry, and which
// one is current (the one `floyo recommend`, `floyo similar` and `floyo score` use).
import type { Command } from 'commander';
import { sqlString, withHomeLock } from '../data/warehouse.js';
import { FloyoError } from '../errors.js';
import type { LoadedModels, Manifest, Registry, VersionSummary } from '../models/registry.js';
import { action, bytesText, exitCodesHelp, makeContext, table, warn, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { noVersionsYet, requireCurrent, withRegistry } from './registry.js';
import { printScore, scoreCurrent, withScorableHome, type ScoreReport } from './score.js';
import { requireSameShop, requireServable, warehouseProducts } from '../pipeline/serving.js';
import { PredictionStore } from '../stores/predictions.js';
import { owePredictions } from '../interrupt.js';

/** What changing the current version changes, said after promote and rollback. */
const CURRENT_NOTE = 'floyo recommend, floyo similar and floyo score use it from now on';

const metric = (v: number | null | undefined, digits: number): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-');
const created = (iso: string): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '-');

/** 'als' or 'popularity', from the algorithm the recommendations model was published with. */
function recommenderOf(models: VersionSummary['models'] | Manifest['models']): string {
  const algorithm = models.recommendations?.algorithm;
  if (!algorithm) return '-';
  return algorithm === 'popularity' ? 'popularity' : /\bALS\b/i.test(algorithm) ? 'als' : algorithm;
}

/** Why a version failed the gate, with the gate's notes. */
function failedBecause(gate: NonNullable<Manifest['gate']>): string {
  return gate.reasons.join('; ') + gateNotes(gate);
}

const gateNotes = (gate: NonNullable<Manifest['gate']>): string => (gate.notes?.length ? ` (${gate.notes.join('; ')})` : '');

function gateText(gate: Manifest['gate'] | undefined): string {
  if (!gate) return '-';
  return gate.passed ? `passed${gateNotes(gate)}` : `failed: ${failedBecause(gate)}`;
}

/** A metric beside popularity's (or the CV mean beside the split's): one column each, so the table fits 120 columns. */
const beside = (v: number | null | undefined, peer: number | null | undefined, digits: number): string =>
  v === undefined || v === null ? '-' : `${metric(v, digits)} (${metric(peer, digits)})`;

function listRow(v: VersionSummary): Record<string, unknown> {
  // "promoted" would read "no" for a version rolled back from: where rollback leads is what can be said
  const row = { version: v.version, current: v.current ? '*' : v.rollbacksAway ? `${v.rollbacksAway} back` : '' };
  // an unreadable version's error is said below the table, where it has room
  if (v.error) return { ...row, gate: 'unreadable' };
  const rec = v.models.recommendations?.metrics ?? {};
  return {
    ...row,
    serves: recommenderOf(v.models),
    // the gate compares the CV mean: the 80/20 split's ROC-AUC moves by a few points with the seed alone
    'churn AUC (CV)': beside(v.models.churn?.metrics.rocAuc, v.models.churn?.metrics.cvRocAucMean, 3),
    'p@10 (pop.)': beside(rec.precisionAt10, rec.popularityPrecisionAt10, 4),
    // the gate compares these (the metric the recommender was chosen by)
    'NDCG@10 (pop.)': beside(rec.ndcgAt10, rec.popularityNdcgAt10, 4),
    // the reasons and notes go below the table, where they have room
    gate: !v.gate ? '-' : v.gate.passed ? (v.gate.notes?.length ? 'passed*' : 'passed') : 'failed',
  };
}

async function listVersions(ctx: CommandContext): Promise<void> {
  await withRegistry(ctx.loaded.config, async (registry) => {
    const { damaged, gone } = await registry.inspectCurrent();
    if (damaged) warn(`${damaged}, so no version is shown as current; promote one to rewrite it`);
    if (gone) warn(gone);
    const versions = await registry.list();
    const current = versions.find((v) => v.current)?.version ?? null;
    if (ctx.json) {
      // currentDamaged and currentGone tell a CURRENT that needs repair from none at all
      ctx.emitJson({ location: registry.location, current, ...(damaged ? { currentDamaged: damaged } : {}), ...(gone ? { currentGone: gone } : {}), versions });
      return;
    }
    if (versions.length === 0) {
      ctx.say(`no model versions yet in ${registry.location}; run floyo train`);
      return;
    }
    ctx.say(`model versions in ${registry.location}, newest first (named by when they were created, UTC)`);
    ctx.say('current: * is the version served; N back: N rollbacks (floyo models rollback) return to it');
    ctx.say("in brackets: the churn AUC's 5-fold CV mean (the gate compares it), and popularity's precision and NDCG");
    ctx.say(table(versions.map(listRow), ['version', 'current', 'serves', 'churn AUC (CV)', 'p@10 (pop.)', 'NDCG@10 (pop.)', 'gate']));
    // below the table, where they have room: why a version is unreadable, why the gate kept it back, what it left uncompared
    for (const v of versions) {
      if (v.error) ctx.say(v.error);
      else if (v.gate && !v.gate.passed) ctx.say(`${v.version} failed the gate: ${failedBecause(v.gate)}`);
      else if (v.gate?.notes?.length) ctx.say(`${v.version} passed*: ${v.gate.notes.join('; ')}`);
    }
    const bytes = versions.reduce((n, v) => n + v.bytes, 0);
    const unreadable = versions.filter((v) => v.error).length;
    ctx.say(`${versions.length} version${versions.length === 1 ? '' : 's'}, ${bytesText(bytes)} in all${unreadable ? ` (not counting ${unreadable} unreadable)` : ''}` +
      `${versions.length > 1 ? '; floyo models prune --keep N removes the older ones' : ''}`);
    if (current === null && !damaged && !gone) ctx.say('no version is current: promote one with floyo models promote <version>');
  });
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, '');
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

const pairs = (o: Record<string, unknown>): string => {
  const entries = Object.entries(o);
  return entries.length ? entries.map(([k, v]) => `${k} ${formatValue(v)}`).join(', ') : '-';
};

function printManifest(ctx: CommandContext, m: Manifest, current: string | null, location: string): void {
  ctx.say(`model version ${m.version}${m.version === current ? ' (current)' : ''} in ${location}`);
  ctx.say(`created ${created(m.createdAt)} UTC by Floyo ${m.floyoVersion}, format ${m.formatVersion}${m.upgradedFrom !== undefined ? ` (stored in format ${m.upgradedFrom})` : ''}`);
  ctx.say(`quality gate: ${gateText(m.gate)}`);
  ctx.say(`recommendations served by: ${recommenderOf(m.models)}`);
  ctx.say();
  ctx.say('DATA');
  for (const [key, value] of Object.entries(m.data)) ctx.say(`  ${key}: ${formatValue(value)}`);
  ctx.say();
  ctx.say('MODELS');
  for (const [name, info] of Object.entries(m.models)) {
    ctx.say(`  ${name}: ${info.algorithm}`);
    ctx.say(`    params:  ${pairs(info.params)}`);
    ctx.say(`    metrics: ${pairs(info.metrics)}`);
  }
  ctx.say();
  const total = m.arrays.reduce((s, a) => s + a.bytes, 0) + m.documents.reduce((s, d) => s + d.bytes, 0);
  ctx.say(`ARRAYS AND DOCUMENTS (${m.arrays.length + m.documents.length} files, ${bytesText(total)})`);
  ctx.say(table([
    ...m.arrays.map((a) => ({ name: a.name, type: a.dtype, length: a.length, size: bytesText(a.bytes) })),
    ...m.documents.map((d) => ({ name: d.name, type: 'json', length: '', size: bytesText(d.bytes) })),
  ]));
  ctx.say();
  ctx.say('the full manifest, with the training report and checksums: floyo models show --json');
}

async function showVersion(ctx: CommandContext, version: string | undefined): Promise<void> {
  await withRegistry(ctx.loaded.config, async (registry) => {
    const name = version ?? (await requireCurrent(registry));
    const manifest = await registry.show(name);
    // every file against its size and checksum: a damaged version is reported here, not first by a query
    await registry.load(name);
    if (ctx.json) {
      ctx.emitJson(manifest);
      return;
    }
    printManifest(ctx, manifest, (await registry.inspectCurrent()).version, registry.location);
    ctx.say(`every file of ${name} checked against its size and SHA-256`);
  });
}

/**
 * Makes a version current with `change`, then re-scores the customers stored in this home with it (as of
 * the time they were last scored), so stored predictions never lag behind the current version; a home
 * with transactions and nothing scored yet (its train's version was kept back by the gate) is scored as
 * `floyo score` would. The home lock is taken first: a store that another command holds is refused
 * before the registry changes.
 */
async function changeCurrent(
  ctx: CommandContext, command: string,
  change: (
    registry: Registry, usable: (loaded: LoadedModels) => Promise<void>, pending: ReadonlySet<string>,
  ) => Promise<{ current: string; previous: string | null }>,
): Promise<{ current: string; previous: string | null; rescored: ScoreReport | null }> {
  const { config } = ctx.loaded;
  return withScorableHome(config.home, command, (warehouse) =>
    withRegistry(config, async (registry) => {
      // a version that cannot serve, or that another shop trained (a shared models.location), is refused before CURRENT changes
      const sold = warehouse ? await warehouseProducts(warehouse) : null;
      const store = warehouse ? new PredictionStore(warehouse) : null;
      await store?.init(); // a home that only ingested has no predictions table yet
      // versions whose change to current stopped before their predictions were written here
      const pending = new Set((await store?.pending())?.map((p) => p.version));
      let marked: string | null = null;
      let forgetNote = (): void => undefined;
      const usable = async (loaded: LoadedModels) => {
        requireServable(loaded.manifest);
        const products = loaded.documents.products;
        requireSameShop(loaded.manifest.version, Array.isArray(products) ? products as string[] : [], sold, registry.location, config.home);
        // noted before CURRENT changes and removed by the re-score's write: a run that stops between is seen by the queries
        await store?.markPending((marked = loaded.manifest.version));
        // and by the stop's message (a rollback run again finishes this one: see rollbackVersion)
        if (store) forgetNote = owePredictions(`it was making model version ${loaded.manifest.version} current: run ${command} again to finish`);
      };
      let changed: { current: string; previous: string | null };
      try {
        changed = await change(registry, usable, pending);
      } catch (err) {
        forgetNote();
        if (marked !== null) await store?.clearPending(marked).catch(() => undefined); // CURRENT was not written
        throw err;
      }
      const { current, previous } = changed;
      if (!warehouse) return { current, previous, rescored: null };
      // also when nothing changed, if an earlier re-score failed and left predictions of another version
      const [stored] = await warehouse.query<{ at: string | null; n: number; others: number }>(
        `SELECT strftime(max(scored_at), '%Y-%m-%dT%H:%M:%SZ') AS at, count(*)::BIGINT AS n, count(*) FILTER (WHERE model_version <> ${sqlString(current)})::BIGINT AS others FROM predictions`,
      );
      if (current === previous && stored.n > 0 && stored.others === 0) {
        await store!.clearPending(current); // its predictions are all there: nothing is owed
        forgetNote();
        return { current, previous, rescored: null };
      }
      try {
        // nothing stored yet: every customer as of the data's last timestamp, as train would have written them
        return { current, previous, rescored: await scoreCurrent(warehouse, registry, ctx, { now: stored.at ?? undefined }) };
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new FloyoError(`${current} is now current, but re-scoring the stored predictions with it failed: ${why}; run floyo score to retry`);
      } finally {
        forgetNote();
      }
    }), ctx.lockWait);
}

function printRescored(ctx: CommandContext, rescored: ScoreReport | null): void {
  ctx.say(`${CURRENT_NOTE}.`);
  if (rescored) printScore(ctx, rescored);
  else ctx.say(`${ctx.loaded.config.home} holds no transactions, so no customer was scored (floyo ingest, then floyo score)`);
}

async function promoteVersion(ctx: CommandContext, version: string): Promise<void> {
  let manifest!: Manifest;
  const r = await changeCurrent(ctx, 'floyo models promote', async (registry, usable) => {
    const { version: previous, damaged } = await registry.inspectCurrent();
    if (previous === null && (await registry.list()).length === 0) throw noVersionsYet(registry);
    await registry.promote(version, usable);
    if (damaged) warn(`${damaged}: promoting ${version} rewrote it, without the rollback history it held`);
    manifest = await registry.show(version);
    return { current: version, previous };
  });
  const changed = r.previous !== version;
  const gateWarning = manifest.gate && !manifest.gate.passed ? `it did not pass the quality gate when it was trained: ${manifest.gate.reasons.join('; ')}` : null;
  if (ctx.json) {
    ctx.emitJson({ current: version, previous: r.previous, changed, gate: manifest.gate ?? null, note: CURRENT_NOTE, rescored: r.rescored });
    return;
  }
  if (!changed) {
    ctx.say(`${version} is already current; ${r.rescored ? 'the predictions in this home were brought up to it' : 'nothing changed'}`);
    if (r.rescored) printScore(ctx, r.rescored);
    return;
  }
  ctx.say(`${version} is now current (was ${r.previous ?? 'none'})`);
  if (gateWarning) ctx.say(`note: ${gateWarning}`);
  printRescored(ctx, r.rescored);
}

/**
 * Makes the version current before the current one current again. When the current version is one whose
 * change to current stopped before its predictions were written in this home (a stopped rollback, promote
 * or train), that change is finished instead: a rollback run again after a stop must not go back one more
 * version than the user asked for.
 */
async function rollbackVersion(ctx: CommandContext): Promise<void> {
  let finished = false;
  const r = await changeCurrent(ctx, 'floyo models rollback', async (registry, usable, pending) => {
    const previous = await registry.current();
    if (previous === null && (await registry.list()).length === 0) throw noVersionsYet(registry);
    if (previous !== null && pending.has(previous)) {
      finished = true;
      return { current: previous, previous };
    }
    return { current: await registry.rollback(usable), previous };
  });
  const again = `run floyo models rollback again to go back from ${r.current}`;
  if (ctx.json) {
    ctx.emitJson({
      current: r.current, previous: r.previous, changed: r.current !== r.previous, note: finished ? `finished a stopped change to ${r.current}; ${again}` : CURRENT_NOTE,
      rescored: r.rescored,
    });
    return;
  }
  if (finished) {
    ctx.say(`${r.current} was made current by a run that stopped before it wrote this home's predictions: this rollback finished that run instead of going back further (${again})`);
    if (r.rescored) printScore(ctx, r.rescored);
    return;
  }
  ctx.say(`rolled back: ${r.current} is current again (was ${r.previous})`);
  printRescored(ctx, r.rescored);
}

interface PruneOptions extends CommonOptions {
  keep?: string;
  dryRun?: boolean;
}

async function pruneVersions(ctx: CommandContext, opts: PruneOptions): Promise<void> {
  const { config, sources } = ctx.loaded;
  if (opts.keep !== undefined && !/^\s*0*[1-9]\d*\s*$/.test(opts.keep)) throw new FloyoError(`--keep must be a whole number of at least 1, got "${opts.keep}"`);
  const keep = opts.keep !== undefined ? Number(opts.keep) : config.models.keepVersions;
  if (keep === undefined) throw new FloyoError('say how many versions to keep: --keep N (or set models.keepVersions, which train applies too)');
  const prune = () => withRegistry(config, async (registry) => {
    const r = await registry.prune(keep, { dryRun: opts.dryRun });
    if (r.kept.length + r.removed.length + r.unreadable.length === 0) throw noVersionsYet(registry);
    return { ...r, location: registry.location };
  });
  // a dry run changes nothing: like models list, it answers while another command holds the home
  const r = opts.dryRun ? await prune() : await withHomeLock(config.home, 'floyo models prune', prune, ctx.lockWait);
  if (ctx.json) {
    ctx.emitJson({ ...r, dryRun: Boolean(opts.dryRun) });
    return;
  }
  const names = (list: string[]) => (list.length <= 6 ? list.join(', ') : `${list.slice(0, 3).join(', ')}, … ${list.slice(-2).join(', ')}`);
  const from = opts.keep !== undefined ? '--keep' : `models.keepVersions, ${sources['models.keepVersions']}`;
  ctx.say(`model versions in ${r.location}: keeping the ${r.keep} newest (${from}), the current one and the one rollback returns to`);
  if (r.removed.length === 0) ctx.say('nothing to remove');
  else ctx.say(`${opts.dryRun ? 'would remove' : 'removed'} ${r.removed.length} (${bytesText(r.bytesRemoved)}): ${names(r.removed)}`);
  ctx.say(`kept ${r.kept.length}: ${names(r.kept)}; floyo models rollback returns to ${r.rollbackTo ?? 'nothing (no version was current before the current one)'}`);
  for (const u of r.unreadable) ctx.say(`left alone, cannot be read: ${u.error}`);
  if (opts.dryRun && r.removed.length) ctx.say('nothing was removed (--dry-run)');
}

export function register(program: Command): void {
  const models = program
    .command('models')
    .description('list, show, promote, roll back and prune model versions in the registry')
    .addHelpText(
      'after',
      `
The registry is models.location (default <home>/models). The current version is what floyo recommend
and floyo similar load; floyo train publishes a new version and makes it current unless the quality
gate fails. promote and rollback re-score the customers whose predictions are stored in this home
with the version that becomes current (as of the time they were last scored); floyo score refreshes
them with new data. A promote or rollback stopped before that re-score is finished by running it
again (a rollback then goes back no further).
${exitCodesHelp('no such version, or none yet', 'bad input, a damaged version or CURRENT, or a version that cannot serve')}`,
    );

  withCommonOptions(models.command('list').description('the model versions, newest first, with their metrics and gate')).action(
    action((opts: CommonOptions) => listVersions(makeContext(opts))),
  );
  withCommonOptions(
    models
      .command('show')
      .argument('[version]', 'a version name (default: the current version)')
      .description('a version\'s manifest: models, parameters, metrics, data window, gate and stored arrays'),
  ).action(action((version: string | undefined, opts: CommonOptions) => showVersion(makeContext(opts), version)));
  withCommonOptions(
    models
      .command('promote')
      .argument('<version>', 'the version to make current')
      .description('make a version current (also one that failed the quality gate)'),
    { opensHome: true },
  ).action(action((version: string, opts: CommonOptions) => promoteVersion(makeContext(opts), version)));
  withCommonOptions(models.command('rollback').description('make the version that was current before the current one current again'), { opensHome: true }).action(
    action((opts: CommonOptions) => rollbackVersion(makeContext(opts))),
  );
  withCommonOptions(
    models
      .command('prune')
      .description('remove all but the newest versions (never the current one), freeing their space')
      .option('--keep <n>', 'how many of the newest versions to keep (default: models.keepVersions)')
      .option('--dry-run', 'say what would be removed, remove nothing')
      .addHelpText(
        'after',
        `
The current version and the one floyo models rollback returns to are always kept, however old, and
versions whose manifest cannot be read (damaged, or written by a newer Floyo) are left alone. Rollback
passes over removed versions. A version is removed manifest first: one cut short is no longer listed,
and a later prune or train clears what is left of it once it is a day old. Set models.keepVersions to
have every floyo train prune after it writes its predictions. On a registry shared by several homes,
a promote of an old version in one home while another prunes can lose that version: prune where you
train.`,
      ),
    { opensHome: true },
  ).action(action((opts: PruneOptions) => pruneVersions(makeContext(opts), opts)));
}

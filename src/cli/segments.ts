// `floyo segments`: the segments of the stored predictions, and how customers moved between them: when the
// latest model version replaced the previous one, and apart from that, when re-scoring with the latest
// version (newer data, another --now) moved them, so a model change is not blamed for what time did.
import type { Command } from 'commander';
import { withPredictions, type SegmentMoves, type SegmentSummary, type SegmentTransition } from '../stores/predictions.js';
import { action, exitCodesHelp, makeContext, table, withCommonOptions, type CommandContext, type CommonOptions } from './common.js';
import { percent } from './customer.js';

export interface Movement {
  fromVersion: string;
  toVersion: string;
  /** customers scored by both versions */
  customers: number;
  /** of those, customers whose segment changed */
  moved: number;
  /**
   * the matrix: customers by segment under fromVersion (from) and the one toVersion gave them when it
   * replaced fromVersion (to), stays included; re-scores since then are in `rescoring`
   */
  transitions: Array<{ from: string; to: string; customers: number }>;
}

export interface RfCell {
  cell: string;
  customers: number;
  avgChurn: number;
}

export interface SegmentsReport {
  /** the model version that most recently scored customers */
  modelVersion: string | null;
  customers: number;
  segments: Array<SegmentSummary & { share: number }>;
  /** the R×F quintile grid: customers and average churn per cell (R5: most recent fifth, F5: most frequent); empty cells left out */
  rfGrid: RfCell[];
  /** into the latest version, one entry per earlier version its customers were scored by (usually one) */
  movement: Movement[];
  /** moves from re-scoring with the latest version itself (same model; newer data or another --now), grouped */
  rescoring: Array<{ from: string; to: string; customers: number }>;
  /** the scoring times (as of) of those re-scores, first and last; null when there are none */
  rescoringAsOf: { from: string; to: string } | null;
  /**
   * every recorded move between segments, grouped by versions and segments, newest versions first
   * (fromVersion = toVersion: a re-score with that version)
   */
  moves: SegmentMoves[];
  /** what makes the stored predictions out of date (also on stderr): data ingested since, a run that stopped */
  warnings: string[];
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('segments')
      .description('segments with their size, average churn and high-risk customers, and the latest movement between segments')
      .addHelpText(
        'after',
        `
One row per segment of the stored predictions: customers, share, average churn probability and customers
at high churn risk (by the threshold they were scored with: the configured costs, see floyo score --help).
Then the R×F quintile grid: customers and average churn per cell, from R5 (most recent fifth) to R1 and
F1 to F5 (most frequent); \`floyo audience --rf R5F5\` lists a cell's customers. Below it, the movement
matrix from the previous model version to the latest, as it was when the latest replaced it: rows are
the segment a customer had before, columns the segment the new version gave them; the diagonal is
customers who stayed. Then the moves from re-scoring with the latest version itself (floyo score on
newer data or another --now): the same model, so they are not counted as its movement.
${exitCodesHelp('nothing to answer with (nothing scored yet)')}

Examples:
  floyo segments
  floyo segments --json`,
      ),
    { opensHome: true },
  ).action(
    action(async (opts: CommonOptions) => {
      const ctx = makeContext(opts);
      const report = await withPredictions(ctx.loaded.config.home, 'floyo segments', async (store, warnings) => {
        const segments = await store.segments();
        const modelVersion = await store.latestVersion();
        const span = modelVersion === null ? null : await store.rescoreSpan(modelVersion);
        return buildReport(segments, modelVersion, await store.transitions(modelVersion ?? undefined), await store.moves(), await store.rfGrid(), span, warnings);
      }, ctx.lockWait);
      printSegments(ctx, report);
    }),
  );
}

export function buildReport(
  segments: SegmentSummary[], modelVersion: string | null, transitions: SegmentTransition[], moves: SegmentMoves[], rfGrid: RfCell[] = [],
  rescoringAsOf: SegmentsReport['rescoringAsOf'] = null, warnings: string[] = [],
): SegmentsReport {
  const customers = segments.reduce((sum, s) => sum + s.customers, 0);
  const byFrom = new Map<string, Movement>();
  for (const t of transitions) {
    let m = byFrom.get(t.fromVersion);
    if (!m) byFrom.set(t.fromVersion, (m = { fromVersion: t.fromVersion, toVersion: t.toVersion, customers: 0, moved: 0, transitions: [] }));
    m.customers += t.customers;
    if (t.from !== t.to) m.moved += t.customers;
    m.transitions.push({ from: t.from, to: t.to, customers: t.customers });
  }
  return {
    modelVersion,
    customers,
    segments: segments.map((s) => ({ ...s, share: customers ? s.customers / customers : 0 })),
    rfGrid,
    movement: [...byFrom.values()].sort((a, b) => b.customers - a.customers),
    rescoring: moves.filter((m) => m.fromVersion === modelVersion && m.toVersion === modelVersion).map(({ from, to, customers }) => ({ from, to, customers })),
    rescoringAsOf,
    moves,
    warnings,
  };
}

export function printSegments(ctx: CommandContext, r: SegmentsReport): void {
  if (ctx.json) {
    ctx.emitJson(r);
    return;
  }
  ctx.say(`${r.customers.toLocaleString('en-US')} customers${r.modelVersion ? `, latest model ${r.modelVersion}` : ''}`);
  ctx.say(
    table(
      r.segments.map((s) => ({
        segment: s.segment,
        customers: s.customers,
        share: percent(s.share),
        'avg churn': percent(s.avgChurn),
        'high risk': s.highRisk,
        'high risk share': percent(s.customers ? s.highRisk / s.customers : 0),
      })),
    ),
  );
  ctx.say();
  if (r.rfGrid.length) {
    ctx.say('R×F quintile grid: customers (average churn) by recency fifth R5 (most recent) .. R1 and frequency fifth F1 .. F5 (most frequent);');
    ctx.say('floyo audience --rf R5F5 lists a cell\'s customers');
    ctx.say(rfTable(r.rfGrid));
    const empty = emptyFifths(r.rfGrid);
    if (empty.length) {
      ctx.say(`${empty.join(', ')} ${empty.length === 1 ? 'is' : 'are'} empty: the fifths are cut at the quintiles of order counts and days, and where many ` +
        'customers share a value (most have 1 or 2 orders) two cuts fall on it, so no customer lands between them');
    }
    ctx.say();
  }
  if (r.movement.length === 0) {
    ctx.say(
      r.modelVersion
        ? `no movement between model versions yet: model ${r.modelVersion} is the first to score these customers; the next \`floyo train\` on newer data will show who moved`
        : 'no movement yet',
    );
    ctx.say();
  }
  for (const m of r.movement) {
    ctx.say(`movement from model ${m.fromVersion} to ${m.toVersion}: ${m.moved.toLocaleString('en-US')} of ${m.customers.toLocaleString('en-US')} customers ` +
      `(${percent(m.customers ? m.moved / m.customers : 0)}) changed segment when ${m.toVersion} replaced ${m.fromVersion}`);
    ctx.say(`(rows: segment under ${m.fromVersion}; columns: segment ${m.toVersion} gave them then; the diagonal stayed)`);
    ctx.say(matrix(m));
    ctx.say();
  }
  if (r.rescoring.length > 0) {
    const n = r.rescoring.reduce((sum, t) => sum + t.customers, 0);
    const when = r.rescoringAsOf ? `scored as of ${r.rescoringAsOf.from === r.rescoringAsOf.to ? r.rescoringAsOf.from : `${r.rescoringAsOf.from} .. ${r.rescoringAsOf.to}`}: ` : '';
    ctx.say(`re-scoring with model ${r.modelVersion} itself (${when}the same model on newer data or another --now, not a model change) moved customers ` +
      `${n.toLocaleString('en-US')} times:`);
    ctx.say(table(r.rescoring));
    ctx.say();
  }
}

/** The recency and frequency fifths no customer is in: their quintile cuts coincide (ties). */
export function emptyFifths(grid: RfCell[]): string[] {
  const filled = new Set(grid.filter((c) => c.customers > 0).flatMap((c) => [c.cell.slice(0, 2), c.cell.slice(2)]));
  return ['R5', 'R4', 'R3', 'R2', 'R1', 'F1', 'F2', 'F3', 'F4', 'F5'].filter((fifth) => !filled.has(fifth));
}

/** The R×F grid as a 5×5 table: most recent first, least frequent left. */
function rfTable(grid: RfCell[]): string {
  const at = new Map(grid.map((c) => [c.cell, c]));
  const rows = [5, 4, 3, 2, 1].map((r) => {
    const row: Record<string, string> = { '': `R${r}` };
    for (let f = 1; f <= 5; f++) {
      const c = at.get(`R${r}F${f}`);
      row[`F${f}`] = c ? `${c.customers.toLocaleString('en-US')} (${percent(c.avgChurn)})` : '-';
    }
    return row;
  });
  return table(rows, ['', 'F1', 'F2', 'F3', 'F4', 'F5']);
}

/** The movement matrix as a table, segments ordered by size now. */
function matrix(m: Movement): string {
  const size = new Map<string, number>();
  for (const t of m.transitions) size.set(t.to, (size.get(t.to) ?? 0) + t.customers);
  for (const t of m.transitions) if (!size.has(t.from)) size.set(t.from, 0);
  const names = [...size.keys()].sort((a, b) => (size.get(b) ?? 0) - (size.get(a) ?? 0) || (a < b ? -1 : 1));
  const cell = new Map(m.transitions.map((t) => [`${t.from}\u0000${t.to}`, t.customers]));
  const corner = 'before \\ now';
  const rows = names
    .filter((from) => m.transitions.some((t) => t.from === from))
    .map((from) => {
      const row: Record<string, unknown> = { [corner]: from };
      for (const to of names) row[to] = cell.get(`${from}\u0000${to}`) ?? 0;
      return row;
    });
  return table(rows, [corner, ...names]);
}

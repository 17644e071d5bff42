// Segment names across model versions, end to end: a new version's clusters keep the names of the current
// version's clusters they continue, so `floyo segments` does not report a renaming as customers moving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SegmentsReport } from '../../src/cli/segments.js';
import { sqlString, Warehouse } from '../../src/data/warehouse.js';
import type { AudiencePage } from '../../src/stores/predictions.js';
import type { TrainReport } from '../../src/cli/train.js';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';

const FIXTURE = join(FIXTURES, 'online_retail_sample.csv'); // 2010-12-01 .. 2011-12-08, 139 customers
// The fixture's last 3 weeks arrive later. The prototypes alone name the same cluster "at risk" before the
// split (median recency 54 days, 4.5 orders, spend 1,890) and "loyal" after it (34 days, 5 orders, 1,842).
const SPLIT = '2011-11-20';

/** The fixture in two files: orders before SPLIT, and from SPLIT on. */
function splitFixture(dir: string): { before: string; after: string } {
  const [header, ...lines] = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);
  const day = (line: string) => /,(\d{4}-\d\d-\d\d) \d\d:\d\d(:\d\d)?,/.exec(line)?.[1] ?? '';
  assert.ok(lines.every((l) => day(l) !== ''), 'every line has an InvoiceDate');
  const before = join(dir, 'before.csv'), after = join(dir, 'after.csv');
  writeFileSync(before, [header, ...lines.filter((l) => day(l) < SPLIT)].join('\n') + '\n');
  writeFileSync(after, [header, ...lines.filter((l) => day(l) >= SPLIT)].join('\n') + '\n');
  return { before, after };
}

async function run(args: string[]): Promise<string> {
  const r = await floyo([...args, '-q']);
  assert.equal(r.code, 0, `floyo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const names = (r: TrainReport) => r.segmentation.segments.map((s) => s.name);

test('training again on data that changed a little keeps the segment names, and floyo segments reports no renaming as moves', async () => {
  const home = tempDir();
  const { before, after } = splitFixture(home);
  const v1 = JSON.parse(await run(['train', '--data', before, '--home', home, '--json'])) as TrainReport;
  assert.deepEqual(v1.segmentNamesKept, [], 'the first version has nothing to keep');
  await run(['ingest', after, '--home', home]);
  await run(['score', '--home', home]); // the stored predictions are v1's as of the new data: what v2 is compared with
  const v2 = JSON.parse(await run(['train', '--home', home, '--json'])) as TrainReport;
  assert.ok(v2.promoted, JSON.stringify(v2.gate));
  assert.equal(v2.previousVersion, v1.modelVersion);

  assert.equal(v2.segmentation.k, v1.segmentation.k);
  assert.deepEqual([...names(v2)].sort(), [...names(v1)].sort(), 'the same clusters, the same names');
  assert.deepEqual([...v2.segmentNamesKept].sort(), [...names(v1)].sort());
  // the cluster the prototypes would now call "loyal" is still "at risk", as its customers were told
  // (its profile by nearest centre, as the version keeps it) ...
  const doc = JSON.parse(readFileSync(join(home, 'models', v2.modelVersion, 'segmentation.json'), 'utf8')) as { names: string[]; profiles: Array<{ centroid: { recencyDays: number } }> };
  const atRisk = doc.profiles[doc.names.indexOf('at risk')];
  assert.ok(atRisk && atRisk.centroid.recencyDays < 40, JSON.stringify(doc.profiles));
  // ... but a customer is "at risk" only if not among the most recent two fifths: the report's medians are of those
  const assigned = v2.segmentation.segments.find((s) => s.name === 'at risk')!;
  assert.ok(assigned.centroid.recencyDays > atRisk.centroid.recencyDays, JSON.stringify(v2.segmentation.segments));

  const seg = JSON.parse(await run(['segments', '--home', home, '--json'])) as SegmentsReport;
  const movement = seg.movement.find((m) => m.fromVersion === v1.modelVersion && m.toVersion === v2.modelVersion);
  assert.ok(movement, JSON.stringify(seg.movement));
  assert.equal(movement.moved, v2.segmentMoves);
  // a renaming moves a whole segment to one other name; a continued cluster keeps most of its customers
  const transitions: Array<{ from: string; to: string; customers: number }> = movement.transitions;
  for (const from of new Set(transitions.map((t) => t.from))) {
    const out = transitions.filter((t) => t.from === from);
    const largest = out.reduce((a, b) => (b.customers > a.customers ? b : a));
    assert.equal(largest.to, from, `${from}: ${JSON.stringify(out)}`);
  }
  assert.ok(movement.moved < movement.customers / 5, `${movement.moved} of ${movement.customers} moved`);
});

test('a current version whose segmentation cannot be read: the new version is named afresh, as a first one', async () => {
  const home = tempDir();
  const { before, after } = splitFixture(home);
  const v1 = JSON.parse(await run(['train', '--data', before, '--home', home, '--json'])) as TrainReport;
  // corrupt the document: its checksum no longer matches the manifest
  writeFileSync(join(home, 'models', v1.modelVersion, 'segmentation.json'), '{"names": []}');
  const v2 = JSON.parse(await run(['train', '--data', after, '--home', home, '--json'])) as TrainReport;
  assert.deepEqual(v2.segmentNamesKept, []);

  // the same warehouse trained with no version before it names its clusters the same way
  const fresh = tempDir();
  const once = JSON.parse(await run(['train', '--data', before, after, '--home', fresh, '--json'])) as TrainReport;
  assert.deepEqual(v2.segmentation.segments, once.segmentation.segments);
  assert.ok(names(v2).includes('loyal') && !names(v2).includes('at risk'), names(v2).join(', '));
});

test('floyo audience of a segment the model names but assigns nobody to is an empty audience (exit 0, saying so), not an unknown segment', async () => {
  const home = tempDir();
  const v1 = JSON.parse(await run(['train', '--data', FIXTURE, '--home', home, '--json'])) as TrainReport;
  const [emptied, into] = names(v1);
  // what a re-score does when no customer is nearest to one cluster any more: the segment has no stored predictions
  const warehouse = await Warehouse.open(home, 'segment-names test');
  try {
    await warehouse.run(`UPDATE predictions SET segment = ${sqlString(into)} WHERE segment = ${sqlString(emptied)}`);
  } finally {
    warehouse.close();
  }
  // one after the other: each holds the home's lock
  const json = await floyo(['audience', '--home', home, '--segment', emptied.toUpperCase(), '--json']);
  const human = await floyo(['audience', '--home', home, '--segment', emptied]);
  const unknown = await floyo(['audience', '--home', home, '--segment', 'vip']);
  assert.equal(json.code, 0, json.stderr);
  const page = json.json<AudiencePage & { warnings: string[] }>();
  assert.deepEqual([page.customers, page.total, page.nextCursor], [[], 0, null]);
  const said = `no customer is in the segment ${JSON.stringify(emptied)} now: model version ${v1.modelVersion} names it, but assigns nobody to it`;
  assert.deepEqual(page.warnings, [said]);
  assert.equal(human.code, 0, human.stderr);
  assert.equal(human.stderr, `floyo: warning: ${said}\n`);
  assert.match(human.stdout, new RegExp(`no customers match \\(segment "${emptied}"\\)`));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no segment is named "vip"; the segments are: /);
});

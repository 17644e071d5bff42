// floyo train end to end: what it refuses, what its report says, what -q prints, and its quality gate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertErrorStdout, floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { IngestSummary } from '../../src/data/ingest.js';
import type { TrainReport } from '../../src/cli/train.js';
import type { ScoreReport } from '../../src/cli/score.js';
import { manifestFile } from '../../src/models/registry.js';
import { cvNoise } from '../../src/pipeline/serving.js';

const FIXTURE = join(FIXTURES, 'online_retail_sample.csv'); // 2010-12-01 .. 2011-12-08, 139 customers

const oneLine = (stderr: string) => stderr.split('\n').filter(Boolean).length === 1;
const noVersions = (home: string) => !existsSync(join(home, 'models')) || readdirSync(join(home, 'models')).length === 0;

test('a bad --as-of or --now is one line, exit 2, before anything is ingested', async () => {
  const home = tempDir();
  for (const bad of ['2011-13-45', 'yesterday', '2011-02-30', '2011-09-10T00:00']) {
    const r = await floyo(['train', '--data', FIXTURE, '--home', home, '--as-of', bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.equal(r.stderr, `floyo: --as-of must be a date YYYY-MM-DD, got "${bad}"\n`);
  }
  const now = await floyo(['train', '--data', FIXTURE, '--home', home, '--now', 'tomorrow']);
  assert.equal(now.code, 2);
  assert.ok(oneLine(now.stderr) && now.stderr.startsWith('floyo: --now must be a date'), now.stderr);
  // a mapping without --data would be ignored: the warehouse's lines were mapped when ingested
  for (const flag of [['--preset', 'shopify'], ['--mapping', 'mine.yaml']]) {
    const r = await floyo(['train', '--home', home, ...flag]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `floyo: ${flag[0]} says how to read --data, and no --data was given: the warehouse's lines were mapped when they were ingested\n`);
  }
  const empty = await floyo(['train', '--home', home]);
  assert.match(empty.stderr, /holds no transactions/, 'none of the refused runs ingested anything');
  // a mistyped --home is said to hold nothing, and is not left behind as an empty home
  const missing = join(tempDir(), 'no-such-home');
  const none = await floyo(['train', '--home', missing]);
  assert.equal(none.code, 1, none.stderr);
  assert.equal(none.stderr, `floyo: ${missing} holds no transactions (no warehouse there; --home, FLOYO_HOME or home in the config): give --data or run \`floyo ingest\` first\n`);
  assert.ok(!existsSync(missing), 'train made no home');
});

test('an --as-of whose window runs past the data is refused, naming what works; what it names works', async () => {
  const home = tempDir();
  assert.equal((await floyo(['ingest', FIXTURE, '--home', home, '-q'])).code, 0);

  const late = await floyo(['train', '--home', home, '--as-of', '2011-11-30']);
  assert.equal(late.code, 2, late.stderr);
  assert.equal(
    late.stderr,
    'floyo: --as-of 2011-11-30 needs churn labels up to 2012-02-28 but the data has its last purchase on 2011-12-08: ' +
      'the latest --as-of that works is 2011-09-09 (that day − 90 days), or keep 2011-11-30 with --horizon-days 8\n',
  );
  // after the data ends: the same refusal, not a RangeError from the metrics
  const after = await floyo(['train', '--home', home, '--as-of', '2012-03-01']);
  assert.equal(after.code, 2, after.stderr);
  assert.equal(
    after.stderr,
    'floyo: --as-of 2012-03-01 needs churn labels up to 2012-05-30 but the data has its last purchase on 2011-12-08: ' +
      'the latest --as-of that works is 2011-09-09 (that day − 90 days)\n',
  );
  const early = await floyo(['train', '--home', home, '--as-of', '2010-12-05']);
  assert.equal(early.code, 2);
  assert.equal(early.stderr, 'floyo: --as-of 2010-12-05 leaves no past before its validation cutoff 2010-09-06 (the data starts on 2010-12-01): the earliest --as-of that works is 2011-03-02\n');
  // a window in which nobody came back: nothing to tell churners from, said in one line
  const nobody = await floyo(['train', '--home', home, '--as-of', '2011-01-02', '--horizon-days', '1', '-q']);
  assert.equal(nobody.code, 2, nobody.stderr);
  assert.equal(
    nobody.stderr,
    'floyo: of the 29 customers before the validation cutoff 2011-01-01, 0 bought again in the next 1 day and 29 did not: ' +
      'churn needs at least 5 of each to learn from; a longer --horizon-days gives customers more time to come back\n',
  );
  assert.ok(noVersions(home), 'a refused run publishes nothing');

  const fitted = await floyo(['train', '--home', home, '--as-of', '2011-11-30', '--horizon-days', '8', '--json', '-q']);
  assert.equal(fitted.code, 0, fitted.stderr);
  const t = fitted.json<TrainReport>();
  assert.deepEqual([t.cutoff, t.validationCutoff, t.horizonDays], ['2011-11-30', '2011-11-22', 8]);
});

test('the report: data is the warehouse whatever this run ingested, k with its silhouettes, the first version, -q quiet', async () => {
  const home = tempDir();
  const first = await floyo(['train', '--data', FIXTURE, '--home', home]);
  assert.equal(first.code, 0, first.stderr);
  const firstVersion = /^model version (\S+): promoted/m.exec(first.stdout)?.[1];
  assert.ok(firstVersion, first.stdout);
  assert.match(first.stdout, /^predictions written for 138 customers \(first version\)$/m);
  assert.match(first.stdout, /^ {6}139 customers \(138 with a purchase; 1 with only returns, not scored\), 2,325 products$/m);
  assert.match(first.stdout, /^ingested now: 1 source, 12,303 rows read \(12,181 accepted, 0 quarantined, 122 excluded\)$/m);
  assert.match(first.stdout, /^ +k chosen by silhouette at 2011-06-11: k=4 \d\.\d{3}(?: \(chosen\))?, k=5 .*k=8 \d\.\d{3}(?: \(chosen\))?$/m);
  // progress on stderr: the three cutoffs' headlines in order (the stages within: test/pipeline/train.test.ts)
  const steps = first.stderr.split('\n').filter((l) => l.startsWith('  '));
  assert.deepEqual(steps.map((l) => l.trim().split(' ')[0]), ['validation', 'evaluation', 'scoring'], first.stderr);

  // the same file again: nothing new is ingested, and the data the models saw is unchanged
  const again = await floyo(['train', '--data', FIXTURE, '--home', home, '--json', '-q']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, '');
  const t = again.json<TrainReport>();
  assert.deepEqual(t.ingested, {
    sourcesIngested: 0, sourcesSkipped: 1, rowsRead: 0, rowsAccepted: 0, rowsQuarantined: 0, rowsExcluded: 0, ordersReplaced: 0, linesReplaced: 0,
    quarantinedByReason: {}, excludedByReason: {}, quarantineFile: null, filesNotRead: { unsupported: 0, byExtension: {}, examples: [], sideFiles: 0 },
  });
  assert.deepEqual(t.data, {
    sources: 1, rowsRead: 12303, rowsAccepted: 12181, rowsQuarantined: 0, rowsExcluded: 122, lines: 12181, linesReplaced: 0, currencies: ['GBP'], orders: t.data.orders,
    customers: 139, customersWithPurchases: 138, products: 2325, from: '2010-12-01T12:36:00Z', to: '2011-12-08T14:58:00Z',
  });
  assert.equal(t.predictionsWritten, t.data.customersWithPurchases, 'every customer with a purchase is scored');
  assert.equal(t.previousVersion, firstVersion);
  // k: the silhouettes of the validation search that chose it
  const s = t.segmentation.kScores;
  assert.deepEqual(s.map((x) => x.k), [4, 5, 6, 7, 8]);
  assert.ok(s.every((x) => x.silhouette > -1 && x.silhouette <= 1));
  assert.equal(t.segmentation.k, s.reduce((best, x) => (x.silhouette > best.silhouette ? x : best)).k);

  const quiet = await floyo(['train', '--home', home, '-q']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '', '-q silences the step lines and the bar');
  assert.match(quiet.stdout, new RegExp(`^predictions written for 138 customers \\(0 moved segment since ${t.modelVersion}\\)$`, 'm'));
  assert.doesNotMatch(quiet.stdout, /^ingested now/m, 'no --data, no ingest line');
});

test('the gate compares 5-fold CV ROC-AUC, not one split; an older manifest without it falls back to the split and says so', async () => {
  const home = tempDir();
  const train = async (args: string[] = []) => {
    const r = await floyo(['train', '--home', home, '--json', '-q', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.json<TrainReport>();
  };
  const editChurnMetrics = (version: string, edit: (m: Record<string, number>) => void) => {
    const path = join(home, 'models', version, 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    edit(manifest.models.churn.metrics);
    writeFileSync(path, manifestFile(manifest)); // resealed: an edit on purpose, not corruption
  };
  const a = await train(['--data', FIXTURE]);
  assert.equal(a.previousVersion, null);

  // the current version's 80/20 split was lucky (as another seed can be), its CV mean the same as the new one's
  editChurnMetrics(a.modelVersion, (m) => { m.rocAuc = 0.99; });
  const b = await train();
  assert.deepEqual(b.gate, { passed: true, reasons: [] });
  assert.equal(b.churn.rocAuc, a.churn.rocAuc);

  // the current version's CV mean is better, but within the noise of the two means (this small shop's folds spread widely)
  const noise = cvNoise(b.churn.cvRocAucStd, b.churn.cvRocAucStd);
  assert.ok(noise > 0.02, `the fixture's folds spread: ±${noise}`);
  editChurnMetrics(b.modelVersion, (m) => { m.cvRocAucMean = b.churn.cvRocAucMean + noise - 0.001; });
  const within = await train();
  assert.equal(within.promoted, true);
  assert.match(within.gate.notes?.[0] ?? '', /^churn: 5-fold CV ROC-AUC .* but within the noise of the two means \(±/);
  editChurnMetrics(b.modelVersion, (m) => { m.cvRocAucMean = b.churn.cvRocAucMean; });
  await floyo(['models', 'promote', b.modelVersion, '--home', home, '-q']);

  // the current version's CV mean is clearly better
  const better = b.churn.cvRocAucMean + noise + 0.01;
  editChurnMetrics(b.modelVersion, (m) => { m.cvRocAucMean = better; });
  const c = await train();
  assert.equal(c.promoted, false);
  assert.deepEqual(c.gate.reasons, [`churn: 5-fold CV ROC-AUC ${c.churn.cvRocAucMean.toFixed(4)} is more than 0.02 below the current version's ${better.toFixed(4)}`]);
  assert.equal(c.predictionsWritten, 0);
  // models list keeps the gate's reasons out of the table, which fits 120 columns (failed gate included), and says them below it
  const list = await floyo(['models', 'list', '--home', home]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${c.modelVersion} .* failed$`, 'm'));
  assert.ok(list.stdout.includes(`\n${c.modelVersion} failed the gate: ${c.gate.reasons[0]}\n`), list.stdout);
  assert.ok(list.stdout.split('\n').slice(1).every((line) => line.length <= 120 || line.startsWith(`${c.modelVersion} failed the gate`) || line.startsWith(`${within.modelVersion} passed*`)), list.stdout);
  const blocked = await floyo(['train', '--home', home]);
  assert.equal(blocked.code, 0, 'a version the gate keeps back is not an error: the current one still serves');
  assert.match(blocked.stdout, new RegExp(`NOT promoted — churn: .*\\n  ${b.modelVersion} stays current; to serve this one anyway: floyo models promote \\d{8}T\\d{6}Z-[0-9a-f]{8} --home ${home}\\n`));

  // a manifest from before the CV mean was kept: like with like, on the split's ROC-AUC
  editChurnMetrics(b.modelVersion, (m) => { delete m.cvRocAucMean; m.rocAuc = 0.99; });
  const d = await train();
  assert.equal(d.promoted, false);
  assert.deepEqual(d.gate.reasons, [
    `churn: ROC-AUC ${d.churn.rocAuc.toFixed(4)} is more than 0.02 below the current version's 0.9900 ` +
      `(compared on the 80/20 split: the current version ${b.modelVersion} has no cross-validated ROC-AUC)`,
  ]);
  editChurnMetrics(b.modelVersion, (m) => { m.rocAuc = b.churn.rocAuc; });
  const e = await train();
  assert.deepEqual(e.gate, { passed: true, reasons: [] });
  assert.equal(e.previousVersion, b.modelVersion);

  // another horizon gives other labels (a 60-day churner is not a 90-day one): churn is not compared, and the gate says so
  editChurnMetrics(e.modelVersion, (m) => { m.cvRocAucMean = 0.999; });
  const f = await train(['--horizon-days', '60']);
  assert.deepEqual(f.gate, { passed: true, reasons: [], notes: [`churn not compared with ${e.modelVersion}: it was trained on a 90-day churn horizon, this version on 60 days`] });
  // models list keeps to its columns: the note goes below the table
  const listed = await floyo(['models', 'list', '--home', home]);
  assert.match(listed.stdout, new RegExp(`^${f.modelVersion} +\\* .* passed\\*$`, 'm'));
  assert.ok(listed.stdout.includes(`\n${f.modelVersion} passed*: churn not compared with ${e.modelVersion}: it was trained on a 90-day`), listed.stdout);
  assert.match(listed.stdout, new RegExp(`^${c.modelVersion} +.* failed$`, 'm'));
});

test('train --now far past the data warns that every customer looks churned, on stderr and in the report', async () => {
  const r = await floyo(['train', '--data', FIXTURE, '--home', tempDir(), '--now', '2030-01-01', '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const report = r.json<TrainReport>();
  assert.equal(report.warnings.length, 1);
  assert.match(report.warnings[0], /^scoring as of 2030-01-01, [\d,]+ days after the data's last purchase \(2011-12-08\), .*every customer looks churned/);
  assert.match(r.stderr, /^floyo: warning: scoring as of 2030-01-01/m);
});

test('a lone credit note months after the last sale: the cutoffs follow the sales, and scoring as of that line is warned about', async () => {
  const stray = join(tempDir(), 'stray.csv');
  writeFileSync(stray, 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n' +
    'C999999,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-1,2013-04-01 10:00:00,2.55,17850,United Kingdom\n');
  const r = await floyo(['train', '--data', FIXTURE, stray, '--home', tempDir(), '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const report = r.json<TrainReport>();
  assert.equal(report.cutoff, '2011-09-09', 'the last purchase (2011-12-08) less 90 days, not the credit note\'s day');
  assert.match(report.warnings[0], /^scoring as of 2013-04-01, 480 days after the data's last purchase \(2011-12-08\), .*every customer looks churned; ingest the newer sales, or give a --now within the horizon$/);
});

test('train --now before the data ends looks back: cutoffs, labels and metrics are those of the data cut at --now', async () => {
  // the churn model used to learn from labels after --now (its cutoffs followed the data's end)
  const [header, ...lines] = readFileSync(FIXTURE, 'utf8').trim().split('\n');
  const stamped = lines.map((line) => [line, /,(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),/.exec(line)![1]] as const);
  // a day with sales before and after noon, so that a --now at noon cuts it in two
  const days = new Map<string, string[]>();
  for (const [, ts] of stamped) days.set(ts.slice(0, 10), [...(days.get(ts.slice(0, 10)) ?? []), ts.slice(11)]);
  const day = [...days].filter(([d, times]) => d <= '2011-11-15' && times.some((t) => t < '12:00:00') && times.some((t) => t > '12:00:00')).map(([d]) => d).sort().at(-1)!;
  const dir = tempDir();
  const cut = (name: string, until: string) => {
    writeFileSync(join(dir, name), [header, ...stamped.filter(([, ts]) => ts <= until).map(([line]) => line)].join('\n') + '\n');
    return join(dir, name);
  };
  const runs = await Promise.all([
    ['--data', FIXTURE, '--now', day],
    ['--data', cut('day.csv', `${day} 23:59:59`)],
    ['--data', FIXTURE, '--now', `${day}T12:00:00Z`],
    ['--data', cut('noon.csv', `${day} 12:00:00`)],
  ].map((args) => floyo(['train', ...args, '--home', tempDir(), '--json', '-q'])));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const [back, cutDay, noon, cutNoon] = runs.map((r) => r.json<TrainReport>());
  const learnt = (t: TrainReport) => [t.cutoff, t.validationCutoff, t.churn, t.recommendations, t.segmentation.k];
  assert.deepEqual(learnt(back), learnt(cutDay));
  assert.deepEqual(learnt(noon), learnt(cutNoon), 'the afternoon of --now\'s day is not in the labels');
  assert.notDeepEqual(noon.churn, back.churn, 'and that afternoon mattered: the check can fail');
  // the report says what was left out, and a run that did not look back has no lookBack
  assert.equal(noon.lookBack?.lastLine.slice(0, 10), day);
  assert.ok(noon.lookBack!.lastLine <= `${day}T12:00:00Z`);
  // warehouse lines: the file's rows after noon less those a preset rule excludes (postage)
  const after = lines.length - (readFileSync(join(dir, 'noon.csv'), 'utf8').trim().split('\n').length - 1);
  assert.ok(noon.lookBack!.linesLeftOut > 0.95 * after && noon.lookBack!.linesLeftOut <= after, `${noon.lookBack!.linesLeftOut} of ${after}`);
  assert.equal(cutNoon.lookBack, undefined);
});

test('train --data says where its rows went, as floyo ingest does: why rows were quarantined and where they are, what was excluded, files not read', async () => {
  const dir = tempDir();
  // the fixture with one more line whose quantity is not a number, beside a spreadsheet ingest cannot read
  writeFileSync(join(dir, 'sales.csv'), readFileSync(FIXTURE, 'utf8') + '599999,22423,REGENCY CAKESTAND 3 TIER,abc,2011-12-01 10:00:00,12.75,17850,United Kingdom\n');
  writeFileSync(join(dir, 'notes.xlsx'), '');
  const text = await floyo(['train', '--data', dir, '--home', tempDir(), '-q']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^ingested now: 1 source, 12,304 rows read \(12,181 accepted, 1 quarantined, 122 excluded\)$/m);
  assert.match(text.stdout, /^ {6}quarantined: not a number: quantity 1 \(the rows: .*\/quarantine\/ingest-[^/]*\.ndjson\)$/m);
  assert.match(text.stdout, /^ {6}excluded: non-product code 98, stock adjustment 24$/m);
  assert.match(text.stderr, /^floyo: warning: skipped 1 file with no data extension \(\.xlsx 1\)/m);

  const j = await floyo(['train', '--data', dir, '--home', tempDir(), '--json', '-q']);
  assert.equal(j.code, 0, j.stderr);
  const t = j.json<TrainReport>();
  const g = t.ingested!;
  assert.deepEqual(g.quarantinedByReason, { 'not a number: quantity': 1 });
  assert.deepEqual(g.excludedByReason, { 'non-product code': 98, 'stock adjustment': 24 });
  assert.ok(g.quarantineFile && existsSync(g.quarantineFile), 'the quarantine file is named and holds the row');
  assert.match(readFileSync(g.quarantineFile, 'utf8'), /"reason":"not a number"/);
  assert.deepEqual([g.filesNotRead.unsupported, g.filesNotRead.byExtension], [1, { '.xlsx': 1 }]);
  assert.match(t.warnings.join('\n'), /^skipped 1 file with no data extension \(\.xlsx 1\)/m, 'the warning stderr gave is in the report too');
});

test('train reconciles the warehouse with its sources, and warns when the data mixes currencies', async () => {
  const home = tempDir();
  const dir = tempDir();
  // order 581416 (the fixture's last) arrives again with one line, in euros: its 12 earlier lines give way
  writeFileSync(join(dir, 'euro.yaml'), [
    'columns: { orderId: InvoiceNo, customerId: CustomerID, productId: StockCode, quantity: Quantity, unitPrice: UnitPrice, timestamp: InvoiceDate, currency: { value: EUR } }',
  ].join('\n'));
  writeFileSync(join(dir, 'again.csv'), 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n581416,22466,2,2011-12-08 14:58:00,1.95,14569\n');
  assert.equal((await floyo(['ingest', FIXTURE, '--home', home, '-q'])).code, 0);
  const euro = await floyo(['ingest', join(dir, 'again.csv'), '--mapping', join(dir, 'euro.yaml'), '--home', home, '-q']);
  assert.equal(euro.code, 0, euro.stderr);
  const r = await floyo(['train', '--home', home, '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const t = r.json<TrainReport>();
  assert.equal(t.data.rowsAccepted, 12182);
  assert.equal(t.data.lines, t.data.rowsAccepted - t.data.linesReplaced);
  assert.equal(t.data.linesReplaced, 12);
  assert.deepEqual(t.data.currencies, ['EUR', 'GBP']);
  assert.match(t.warnings.join('\n'), /^the data holds 2 currencies \(EUR, GBP\); spend and order values add their amounts as they are/);
  assert.match(r.stderr, /^floyo: warning: the data holds 2 currencies/m);
  // with exchange rates for both: no warning, and the version records them; without a rate for one, refused
  const rates = { FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1,"EUR":0.86}' };
  const converted = await floyo(['train', '--home', home, '--json', '-q'], { env: rates });
  assert.equal(converted.code, 0, converted.stderr);
  const c = converted.json<TrainReport>();
  assert.deepEqual(c.warnings, []);
  const manifest = JSON.parse(readFileSync(join(home, 'models', c.modelVersion, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.data.exchangeRates, { GBP: 1, EUR: 0.86 });
  const missing = await floyo(['train', '--home', home, '-q'], { env: { FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1}' } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /features\.exchangeRates has no rate for a currency of the data: "EUR" \(1 line\)/);
  // score builds features with the version's rates, whatever is configured now, and says when they differ
  const stored = async () => (await floyo(['customer', '14569', '--home', home, '--json', '-q'])).json<{ churnProbability: number; segment: string }>();
  const before = await stored();
  const same = await floyo(['score', '--home', home, '--json', '-q'], { env: rates });
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(same.json<ScoreReport>().warnings, []);
  const changed = await floyo(['score', '--home', home, '--json', '-q'], { env: { FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1,"EUR":5}' } });
  assert.equal(changed.code, 0, changed.stderr);
  const why = `features.exchangeRates is { EUR: 5, GBP: 1 }, but model version ${c.modelVersion} was trained with { EUR: 0.86, GBP: 1 }: ` +
    'scores use the version\'s rates, in which its models learnt spend; train again to use the configured ones';
  assert.deepEqual(changed.json<ScoreReport>().warnings, [why]);
  assert.equal(changed.stderr, `floyo: warning: ${why}\n`);
  assert.deepEqual(await stored(), before, 'the EUR customer scored as in training');
  const unset = await floyo(['score', '--home', home, '-q']);
  assert.match(unset.stderr, /^floyo: warning: features\.exchangeRates is not set, but model version \S+ was trained with \{ EUR: 0\.86, GBP: 1 \}/);
  assert.deepEqual(await stored(), before);
  // a currency the version has no rate for is refused, naming the version's rates
  writeFileSync(join(dir, 'dollars.csv'), 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n581417,22466,1,2011-12-09 10:00:00,2.10,14569\n');
  writeFileSync(join(dir, 'dollars.yaml'), readFileSync(join(dir, 'euro.yaml'), 'utf8').replace('EUR', 'USD'));
  assert.equal((await floyo(['ingest', join(dir, 'dollars.csv'), '--mapping', join(dir, 'dollars.yaml'), '--home', home, '-q'])).code, 0);
  const dollars = await floyo(['score', '--home', home, '-q'], { env: { FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1,"EUR":0.86,"USD":0.8}' } });
  assert.equal(dollars.code, 2, dollars.stderr);
  assert.match(dollars.stderr, new RegExp(`model version ${c.modelVersion}'s exchange rates \\(data\\.exchangeRates, from the features\\.exchangeRates it was trained with\\) has no rate for a currency of the data: "USD" \\(1 line\\)`));
});

test('a source that fails to ingest stops train, naming it once and saying what was kept', async () => {
  const home = tempDir();
  const empty = join(home, 'empty.csv');
  writeFileSync(empty, '');
  const r = await floyo(['train', '--data', FIXTURE, empty, '--home', home, '-q']);
  assert.equal(r.code, 2);
  assert.ok(oneLine(r.stderr), r.stderr);
  assert.equal(r.stderr.split(empty).length, 2, 'the failed file is named once');
  assert.match(r.stderr, /^floyo: nothing was trained: .*empty\.csv: the file is empty.*; the other source was ingested; fix or leave out the failed file/);
  assert.ok(noVersions(home));

  // --json: the run's ingest report with the error added, as floyo ingest --json gives it
  const other = tempDir();
  const j = await floyo(['train', '--data', FIXTURE, empty, '--home', other, '--json', '-q']);
  assert.equal(j.code, 2, j.stderr);
  assertErrorStdout(j);
  const report = j.json<IngestSummary & { error: { message: string; exitCode: number; file?: string } }>();
  assert.deepEqual(report.sources.map((x) => [x.location, x.status]), [[FIXTURE, 'ingested'], [empty, 'failed']]);
  assert.equal(report.rowsRead, 12303);
  assert.equal(report.error.file, empty);
  assert.match(report.error.message, /^nothing was trained: /);
  const ingested = await floyo(['ingest', FIXTURE, empty, '--home', tempDir(), '--json', '-q']);
  assert.deepEqual(Object.keys(report).sort(), Object.keys(ingested.json()).sort(), 'the same report as floyo ingest --json');
});

test('data train cannot learn from is refused before anything is fitted, saying what to change', async () => {
  const [header, ...lines] = readFileSync(FIXTURE, 'utf8').trim().split('\n');
  const day = (line: string) => /,(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}:\d{2},/.exec(line)![1];
  const refused = async (name: string, rows: string[], pattern: RegExp) => {
    const file = join(tempDir(), `${name}.csv`);
    writeFileSync(file, [header, ...rows].join('\n') + '\n');
    const home = tempDir();
    const r = await floyo(['train', '--data', file, '--home', home, '-q']);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
    // the --data is in the warehouse all the same, and the message says so
    const kept = /; the --data stays ingested \(1 source, ([\d,]+) rows read = [\d,]+ accepted \+ [\d,]+ quarantined \+ [\d,]+ excluded\): floyo train without --data trains on it\n$/.exec(r.stderr);
    assert.ok(kept, `${name}: ${r.stderr}`);
    assert.equal(Number(kept[1].replaceAll(',', '')), rows.length);
    assert.match(`${r.stderr.slice(0, kept.index)}\n`, pattern, name);
    assert.ok(noVersions(home), `${name}: nothing published`);
    return { file, home };
  };
  // six months of data: the validation cutoff falls on the first days, with a handful of customers
  const short = await refused('short', lines.filter((l) => day(l) < '2011-06-01'),
    /^floyo: only \d+ customers? bought on or before the validation cutoff 2010-12-02; Floyo needs at least 20 to train: ingest a longer history, or use a shorter --horizon-days/);
  // --json: the ingest's report with the error added, as for a source that failed; the next run finds the data there
  const json = await floyo(['train', '--data', short.file, '--home', tempDir(), '--json', '-q']);
  assert.equal(json.code, 2, json.stderr);
  assertErrorStdout(json);
  const report = json.json<IngestSummary & { error: { message: string; exitCode: number } }>();
  assert.equal(report.sourcesIngested, 1);
  assert.equal(report.rowsRead, lines.filter((l) => day(l) < '2011-06-01').length);
  assert.match(report.error.message, /^only \d+ customers? .*; the --data stays ingested \(1 source, /);
  const withoutData = await floyo(['train', '--home', short.home, '-q']);
  assert.match(withoutData.stderr, /^floyo: only \d+ customers? bought on or before the validation cutoff 2010-12-02; .*--horizon-days[^;]*\)\n$/, 'without --data, nothing more to say');
  // nobody comes back after September but one customer buying once more on the last day
  const last = lines.find((l) => day(l) === '2011-08-31' && /^\d+,\d/.test(l))!; // a product, not POST (shipping is excluded)
  await refused('gone', [...lines.filter((l) => day(l) < '2011-09-01'), last.replace(/^\d+,/, '599999,').replace(/,2011-08-31 /, ',2011-12-08 ')],
    /^floyo: of the \d+ customers before the evaluation cutoff 2011-09-09, 1 bought again in the next 90 days and \d+ did not: churn needs at least 5 of each to learn from; a longer --horizon-days gives customers more time to come back\n$/);
  // ten customers come back, each buying again only what they bought before: nothing new to evaluate recommendations on
  const before = lines.filter((l) => day(l) < '2011-08-01');
  const customer = (line: string) => line.split(',').at(-2);
  const again = [...new Map(before.map((l) => [customer(l), l])).values()].slice(0, 10)
    .map((l, i) => l.replace(/^[^,]*,/, `${599990 + i},`).replace(/,\d{4}-\d{2}-\d{2} /, ',2011-12-01 ')); // new orders, new numbers
  await refused('nothing new', [...lines.filter((l) => day(l) < '2011-09-01'), ...again],
    /^floyo: no customer bought a product new to them in the 90 days after the evaluation cutoff 2011-09-02: there is nothing to evaluate recommendations on; use a longer --horizon-days or another --as-of\n$/);
  // a shop that sells one product has nothing to recommend (the fixture's last line, a manual credit note
  // of 2011-12-09, becomes a return of that product: not a purchase, so the cutoffs follow 2011-12-08)
  await refused('one product', lines.map((l) => l.replace(/^([^,]*),[^,]*,/, '$1,10001,')),
    /^floyo: the customers before the validation cutoff 2011-06-11 bought only one product: recommendations need at least two\n$/);
});

/**
 * A shop whose customers keep to their own group of products until the validation window, then all buy the
 * same few hits in the reported window: ALS wins at the validation cutoff and loses to popularity on the window.
 */
function shopThatTurnsToHits(): string {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (n: number) => Math.floor(rnd() * n);
  const day = (d: number) => new Date(Date.UTC(2024, 0, 1, 10) + d * 86_400_000).toISOString().slice(0, 19).replace('T', ' ');
  const rows = ['InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'];
  let invoice = 100000;
  const order = (customer: number, d: number, items: string[]) => {
    invoice++;
    for (const item of items) rows.push(`${invoice},${item},ITEM ${item},2,${day(d)},3.50,${customer},UK`);
  };
  const hit = (i: number) => String(90000 + i);
  for (let c = 0; c < 200; c++) {
    const own = new Set<number>();
    const fresh = () => {
      let i: number;
      do i = pick(20); while (own.has(i));
      own.add(i);
      return String(10000 + (c % 10) * 100 + i);
    };
    order(20000 + c, pick(60), [fresh(), fresh()]);
    order(20000 + c, 60 + pick(60), [fresh(), fresh()]);
    order(20000 + c, 120 + pick(60), c % 2 ? [fresh(), hit(pick(10))] : [fresh()]);
    if (rnd() < 0.7) order(20000 + c, 190 + pick(80), [fresh(), fresh()]); // the validation window: more of their group
    if (rnd() < 0.7) order(20000 + c, 280 + pick(80), [hit(pick(3)), hit(3 + pick(3))]); // the reported window: the hits
  }
  order(29999, 365, ['10000']);
  const file = join(tempDir(), 'hits.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

test('ALS below popularity on the window: a first train serves popularity rather than nothing, and so does the next while popularity is current', async () => {
  const home = tempDir();
  const data = shopThatTurnsToHits();
  const first = await floyo(['train', '--data', data, '--preset', 'online-retail', '--home', home, '--json', '-q']);
  assert.equal(first.code, 0, first.stderr);
  const t = first.json<TrainReport>();
  const rec = t.recommendations;
  assert.ok(rec.evaluatedUsers >= 30 && rec.als.ndcgAt10 < rec.popularity.ndcgAt10, JSON.stringify(rec));
  assert.ok(rec.validation.als.ndcgAt10 > rec.validation.popularity.ndcgAt10, 'ALS was chosen at the validation cutoff');
  assert.equal(rec.model, 'popularity');
  assert.match(rec.servedBecause, /^ALS, chosen at the validation cutoff, fell below popularity on the reported window \(ALS NDCG@10 0\.\d{4} is below popularity's 0\.\d{4}\) and no version is current to serve instead$/);
  assert.equal(rec.ndcgAt10, rec.popularity.ndcgAt10, 'the served metrics are popularity\'s');
  assert.deepEqual([t.promoted, t.gate.passed], [true, true]);
  const customer = await floyo(['customer', '20001', '--home', home, '--json', '-q']);
  assert.equal(customer.code, 0, customer.stderr);
  const recommended = customer.json<{ recommendations: Array<{ productId: string }> }>().recommendations.map((r) => r.productId);
  assert.ok(recommended.slice(0, 3).every((p) => p.startsWith('9000')), `the hits first: ${recommended.join(' ')}`);
  const human = await floyo(['models', 'show', '--home', home, '--json']);
  assert.equal(human.json<{ models: { recommendations: { algorithm: string } } }>().models.recommendations.algorithm, 'popularity');
  // the next train, with popularity current: nothing to protect, so it is promoted too
  const second = await floyo(['train', '--home', home, '--json', '-q']);
  assert.equal(second.code, 0, second.stderr);
  const s = second.json<TrainReport>();
  assert.deepEqual([s.promoted, s.recommendations.model], [true, 'popularity']);
  assert.match(s.recommendations.servedBecause, / and the current version serves popularity too$/);
});

// floyo models list | show | promote | rollback, through the CLI, on versions published by floyo train.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { assertErrorStdout, floyo, tempDir, FIXTURES, type CliResult } from '../support/cli.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { register } from '../../src/cli/models.js';
import type { ScoreReport } from '../../src/cli/score.js';
import type { TrainReport } from '../../src/cli/train.js';
import type { VersionSummary } from '../../src/models/registry.js';
import { PredictionStore, type AudiencePage } from '../../src/stores/predictions.js';

const FIXTURE = join(FIXTURES, 'online_retail_sample.csv');

const cli = (args: string[]): Promise<CliResult> => floyo(args);

interface ListJson {
  location: string;
  current: string | null;
  versions: VersionSummary[];
}

function assertOneLineError(r: CliResult, pattern: RegExp, code = 2): void {
  assert.equal(r.code, code, r.stderr);
  assertErrorStdout(r);
  assert.match(r.stderr, /^floyo: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

describe('floyo models', () => {
  const home = tempDir();
  let first: TrainReport;

  before(async () => {
    const r = await cli(['train', '--data', FIXTURE, '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    first = r.json<TrainReport>();
    assert.equal(first.promoted, true, 'the first version passes the gate');
  });

  test('list shows the one current version with its metrics; show --json is the manifest as stored', async () => {
    const [list, listText, show, showText, rollback] = await Promise.all([
      cli(['models', 'list', '--home', home, '--json']),
      cli(['models', 'list', '--home', home]),
      cli(['models', 'show', '--home', home, '--json']),
      cli(['models', 'show', first.modelVersion, '--home', home]),
      cli(['models', 'rollback', '--home', home]),
    ]);
    assert.equal(list.code, 0, list.stderr);
    const l = list.json<ListJson>();
    assert.equal(l.location, join(home, 'models'));
    assert.equal(l.current, first.modelVersion);
    assert.equal(l.versions.length, 1);
    const [v] = l.versions;
    assert.equal(v.version, first.modelVersion);
    assert.equal(v.current, true);
    assert.equal(v.promoted, true);
    assert.deepEqual(v.gate, { passed: true, reasons: [] });
    assert.equal(v.models.churn.metrics.rocAuc, first.churn.rocAuc);
    assert.equal(v.models.recommendations.metrics.precisionAt10, first.recommendations.precisionAt10);
    assert.equal(v.models.recommendations.metrics.popularityPrecisionAt10, first.recommendations.popularity.precisionAt10);
    // the gate's comparison, readable back from the manifest
    assert.equal(v.models.recommendations.metrics.ndcgAt10, first.recommendations.ndcgAt10);
    assert.equal(v.models.recommendations.metrics.popularityNdcgAt10, first.recommendations.popularity.ndcgAt10);

    assert.equal(listText.code, 0, listText.stderr);
    const [header, , row] = listText.stdout.split('\n').slice(3);
    assert.match(header, /^version +current +serves +churn AUC \(CV\) +p@10 \(pop\.\) +NDCG@10 \(pop\.\) +gate$/);
    const rec = first.recommendations;
    const beside = (a: number, b: number, digits: number) => `${a.toFixed(digits)} \\(${b.toFixed(digits)}\\)`;
    assert.match(row, new RegExp(`^${first.modelVersion} +\\* +${rec.model} +${beside(first.churn.rocAuc, first.churn.cvRocAucMean, 3)} +` +
      `${beside(rec.precisionAt10, rec.popularity.precisionAt10, 4)} +${beside(rec.ndcgAt10, rec.popularity.ndcgAt10, 4)} +passed$`));
    assert.ok(listText.stdout.split('\n').slice(1).every((line) => line.length <= 120), 'the table fits a 120-column terminal');

    assert.equal(show.code, 0, show.stderr);
    const stored = JSON.parse(readFileSync(join(home, 'models', first.modelVersion, 'manifest.json'), 'utf8'));
    assert.deepEqual(show.json(), stored);

    assert.equal(showText.code, 0, showText.stderr);
    assert.match(showText.stdout, new RegExp(`^model version ${first.modelVersion} \\(current\\)`));
    assert.match(showText.stdout, /quality gate: passed/);
    assert.match(showText.stdout, /cutoff: 2011-09-09/);
    assert.match(showText.stdout, /churn: L2 logistic regression/);
    assert.match(showText.stdout, /als\.itemFactors +float32 +[\d,]+ /);

    assertOneLineError(rollback, /no version was current before it/);
  });

  test('a second train publishes a second version; rollback returns to the first, promote brings the second back', async () => {
    const r = await cli(['train', '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const second = r.json<TrainReport>();
    assert.notEqual(second.modelVersion, first.modelVersion);
    assert.equal(second.promoted, true);

    const l = (await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>();
    assert.deepEqual(l.versions.map((v) => [v.version, v.current, v.promoted]), [[second.modelVersion, true, true], [first.modelVersion, false, true]], 'newest first');
    assert.deepEqual(l.versions.map((v) => v.rollbacksAway), [null, 1]);
    assert.match((await cli(['models', 'list', '--home', home])).stdout, new RegExp(`\n${first.modelVersion} +1 back +`));

    const back = await cli(['models', 'rollback', '--home', home]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, new RegExp(`^rolled back: ${first.modelVersion} is current again \\(was ${second.modelVersion}\\)\n`));
    // the stored predictions follow: every customer re-scored by the first version, as of the same time
    assert.match(back.stdout, new RegExp(`\nscored ${second.predictionsWritten} customers with model version ${first.modelVersion} as of ${second.scoredAsOf}: ` +
      `\\d+ changed segment since their stored prediction, 0 new\n`));
    assert.match(back.stdout, /\nhigh churn risk: probability ≥ 0\.1667 = wasted offer \/ \(wasted offer \+ missed churner\), with churn\.costWastedOffer 1 \(default\) and churn\.costMissedChurner 5 \(default\)\n/);
    const audience = await cli(['audience', '--home', home, '--json']);
    assert.equal(audience.code, 0, audience.stderr);
    const page = audience.json<AudiencePage>();
    assert.equal(page.total, second.predictionsWritten);
    for (const c of page.customers) assert.equal(c.modelVersion, first.modelVersion);

    // the JSON's `previous` shows that the rollback made the first version current
    // one at a time: promote re-scores the stored predictions, so it holds the home
    // the re-score flags high risk by the costs configured now, not those the version was trained with
    const promote = await floyo(['models', 'promote', second.modelVersion, '--home', home, '--json'], { env: { FLOYO_CHURN_COST_MISSED_CHURNER: '3' } });
    const unknown = await cli(['models', 'promote', '20110101T000000Z-00000000', '--home', home]);
    assert.equal(promote.code, 0, promote.stderr);
    const p = promote.json<{ current: string; previous: string; changed: boolean; rescored: ScoreReport }>();
    assert.deepEqual([p.current, p.previous, p.changed], [second.modelVersion, first.modelVersion, true]);
    assert.deepEqual([p.rescored.modelVersion, p.rescored.scoredAsOf, p.rescored.predictionsWritten], [second.modelVersion, second.scoredAsOf, second.predictionsWritten]);
    assert.deepEqual([p.rescored.churnThreshold.value, p.rescored.churnThreshold.trainedWith, p.rescored.churnThreshold.costMissedChurner.source], [0.25, 1 / 6, 'env FLOYO_CHURN_COST_MISSED_CHURNER']);
    assert.deepEqual([p.rescored.notRescored, p.rescored.newCustomers], [0, 0], 'every stored customer re-scored');
    const flagged = (await cli(['audience', '--home', home, '--json', '--limit', '100000'])).json<AudiencePage>();
    assert.equal(flagged.customers.length, second.predictionsWritten);
    for (const c of flagged.customers) assert.equal(c.churnRisk, c.churnProbability >= 0.25 ? 'high' : 'low', c.customerId);
    assertOneLineError(unknown, /no model version 20110101T000000Z-00000000 in .*; versions there, newest first: /, 1);

    const again = await cli(['models', 'promote', second.modelVersion, '--home', home]);
    assert.equal(again.stdout, `${second.modelVersion} is already current; nothing changed\n`);
  });

  test('a home that stores no predictions (its registry elsewhere) is told none were re-scored; a busy home is refused before the registry changes', async () => {
    const elsewhere = tempDir();
    const env = { FLOYO_MODELS_LOCATION: join(home, 'models') };
    const before = (await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>().current!;
    const other = (await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>().versions.find((v) => v.version !== before)!.version;

    const warehouse = await Warehouse.open(home, 'floyo train --data sales.csv');
    try {
      const busy = await cli(['models', 'promote', other, '--home', home]);
      assert.equal(busy.code, 3, busy.stderr);
      assert.match(busy.stderr, /in use by `floyo train --data sales\.csv`/);
      assert.equal((await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>().current, before, 'the refused promote changed nothing');
      const idle = await floyo(['models', 'promote', other, '--home', elsewhere], { env });
      assert.equal(idle.code, 0, idle.stderr);
      assert.match(idle.stdout, new RegExp(`^${other} is now current \\(was ${before}\\)\n`));
      assert.match(idle.stdout, /holds no transactions, so no customer was scored \(floyo ingest, then floyo score\)\n$/);
      assert.deepEqual(readdirSync(elsewhere), [], 'nothing made in a home that stores nothing');
    } finally {
      warehouse.close();
    }
    // the busy promote changed nothing; the other home's promote did (they share the registry): put it back
    const back = await cli(['models', 'promote', before, '--home', home, '--json']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.json<{ previous: string }>().previous, other);

    // a home with sales and nothing scored (as after a first train that the gate kept back): promote scores
    // every customer, so `floyo customer` answers, instead of sending the user back to train
    const sales = tempDir();
    assert.equal((await floyo(['ingest', FIXTURE, '--home', sales, '-q'])).code, 0);
    const scored = await floyo(['models', 'promote', before, '--home', sales, '--json'], { env });
    assert.equal(scored.code, 0, scored.stderr);
    const s = scored.json<{ changed: boolean; rescored: ScoreReport }>();
    assert.equal(s.changed, false, 'already current');
    assert.equal(s.rescored.modelVersion, before);
    assert.equal(s.rescored.predictionsWritten, first.predictionsWritten, 'every customer with a purchase, as train writes them');
    assert.equal(s.rescored.scoredAsOf, first.scoredAsOf, "as of the data's last timestamp");
    const shown = await floyo(['customer', '16552', '--home', sales, '-q'], { env });
    assert.equal(shown.code, 0, shown.stderr);
    // scoring stores no reason per product: the view says where to ask
    const hint = /^recommendations \(why: floyo (recommend --explain --home \S+ -- 16552)\):$/m.exec(shown.stdout);
    assert.ok(hint, shown.stdout);
    // and the command it names runs, in the same home
    const [command, ...args] = hint[1].split(' ');
    const explained = await floyo([command, '-q', ...args], { env }); // in the same environment, as in the shell that ran customer
    assert.equal(explained.code, 0, explained.stderr);
    assert.match(explained.stdout, /16552/);
  });

  test('a registry whose versions another shop trained is refused by train, score and promote, before anything changes', async () => {
    const other = tempDir();
    const sales = join(other, 'shop.csv');
    assert.equal((await floyo(['generate', '--customers', '200', '--products', '60', '--orders', '1500', '--out', sales, '-q'])).code, 0);
    const env = { FLOYO_MODELS_LOCATION: join(home, 'models') };
    const before = (await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>();
    const foreign = /was trained on another shop's data: \d+ of its [\d,]+ products \([\d.]+%\) appear in the sales of .*; a models\.location holds one shop's versions: give each shop its own$/m;
    const train = await floyo(['train', '--data', sales, '--home', other, '-q'], { env });
    assert.equal(train.code, 2, train.stderr);
    // its --data was ingested before the registry's version was found foreign, and stays: the message says so
    const kept = '; the --data stays ingested (1 source, ';
    assert.match(train.stderr.slice(0, train.stderr.indexOf(kept)) + '\n', foreign);
    assert.ok(train.stderr.includes(kept), train.stderr);
    const score = await floyo(['score', '--home', other], { env });
    assert.equal(score.code, 2, score.stderr);
    assert.match(score.stderr, foreign);
    const promote = await floyo(['models', 'promote', first.modelVersion, '--home', other], { env });
    assert.equal(promote.code, 2, promote.stderr);
    assert.match(promote.stderr, foreign);
    assert.deepEqual((await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>(), before, 'no version published, CURRENT unchanged');
  });

  test('a version made current whose predictions were never written (the run stopped) is said by the queries until floyo score', async () => {
    const copy = tempDir();
    cpSync(home, copy, { recursive: true });
    const clean = await cli(['segments', '--home', copy, '-q']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.doesNotMatch(clean.stderr, /run stopped/, 'train, promote and rollback leave nothing owed');
    // what a train killed between the registry's CURRENT and the prediction write leaves
    const warehouse = await Warehouse.open(copy, 'test');
    try {
      await new PredictionStore(warehouse).markPending('20261207T000000Z-0badc0de');
    } finally {
      warehouse.close();
    }
    const owed = await cli(['customer', '16552', '--home', copy, '-q']);
    assert.equal(owed.code, 0, owed.stderr);
    assert.match(owed.stderr, /^floyo: warning: a run making model version 20261207T000000Z-0badc0de current stopped at \S+ before writing its predictions: if it is current \(floyo models list\), these answers come from the version before it; floyo score writes the current version's$/m);
    const current = (await cli(['models', 'list', '--home', copy, '--json'])).json<ListJson>().current!;
    const warehouse2 = await Warehouse.open(copy, 'test');
    try {
      await new PredictionStore(warehouse2).markPending(current);
    } finally {
      warehouse2.close();
    }
    assert.equal((await cli(['score', '--home', copy, '-q'])).code, 0);
    const after = await cli(['customer', '16552', '--home', copy, '-q']);
    // the write of the current version removes what it owed, and the note of a version that never became
    // current (its run stopped before CURRENT), which would otherwise outlive every later write
    assert.doesNotMatch(after.stderr, /a run making model version/);
  });

  test('a damaged CURRENT: list still lists (saying so), score refuses, and promote rewrites it', async () => {
    const copy = tempDir();
    cpSync(home, copy, { recursive: true });
    const current = (await cli(['models', 'list', '--home', copy, '--json'])).json<ListJson>().current!;
    writeFileSync(join(copy, 'models', 'CURRENT'), '{"version": 5}');
    const list = await cli(['models', 'list', '--home', copy, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.json<ListJson>().current, null);
    assert.match(list.json<{ currentDamaged: string }>().currentDamaged, /CURRENT is invalid: expected/);
    assert.ok(list.json<ListJson>().versions.some((v) => v.version === current));
    assert.match(list.stderr, /warning: \S+CURRENT is invalid: .*, so no version is shown as current; promote one to rewrite it/);
    const score = await cli(['score', '--home', copy, '-q']);
    assert.equal(score.code, 2);
    assert.match(score.stderr, /CURRENT is invalid: .*; promote a version to rewrite it/);
    const promote = await cli(['models', 'promote', current, '--home', copy, '-q']);
    assert.equal(promote.code, 0, promote.stderr);
    assert.match(promote.stderr, new RegExp(`warning: \\S+CURRENT is invalid: .*: promoting ${current} rewrote it, without the rollback history it held`));
    assert.equal((await cli(['models', 'list', '--home', copy, '--json'])).json<ListJson>().current, current);
  });

  test('show checks every file: a truncated array is refused by name', async () => {
    const copy = join(tempDir(), 'models');
    cpSync(join(home, 'models'), copy, { recursive: true });
    const version = join(copy, first.modelVersion);
    const victim = readdirSync(version).find((f) => f.endsWith('.bin'))!;
    const ok = await floyo(['models', 'show', first.modelVersion, '--home', home], { env: { FLOYO_MODELS_LOCATION: copy } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`every file of ${first.modelVersion} checked against its size and SHA-256`));
    truncateSync(join(version, victim), 8);
    const bad = await floyo(['models', 'show', first.modelVersion, '--home', home, '--json'], { env: { FLOYO_MODELS_LOCATION: copy } });
    assertOneLineError(bad, new RegExp(victim.replace(/[.]/g, '\\.')));
  });

  test('a version that loads but cannot serve (format 0, as Floyo 0.0.1 wrote it) is listed and shown, but neither promote nor rollback makes it current', async () => {
    const copy = join(tempDir(), 'models');
    cpSync(join(home, 'models'), copy, { recursive: true });
    const old = '20240301T120000Z-0a1b2c3d';
    const weights = Buffer.from('000000000000f83f00000000000000c0000000000000d03f', 'hex'); // float64 [1.5, -2, 0.25]
    mkdirSync(join(copy, old));
    writeFileSync(join(copy, old, 'weights.bin'), weights);
    writeFileSync(join(copy, old, 'manifest.json'), JSON.stringify({
      formatVersion: 0, floyoVersion: '0.0.1', version: old, createdAt: '2024-03-01T12:00:00.000Z',
      models: { churn: { algorithm: 'logistic-l2', params: { C: 1 }, metrics: { rocAuc: 0.77 } } }, data: {}, report: {},
      arrays: [{ name: 'weights', dtype: 'float64', length: 3, bytes: 24, sha256: createHash('sha256').update(weights).digest('hex'), file: 'weights.bin' }],
    }));
    const env = { FLOYO_MODELS_LOCATION: copy };
    const current = (await floyo(['models', 'list', '--home', home, '--json'], { env })).json<ListJson>().current;
    const show = await floyo(['models', 'show', old, '--home', home], { env });
    assert.equal(show.code, 0, show.stderr);
    const promote = await floyo(['models', 'promote', old, '--home', home], { env });
    assertOneLineError(promote, new RegExp(`model version ${old} cannot serve predictions: it has no document customers, document products, document productNames and 18 more ` +
      `\\(Floyo 0\\.0\\.1 wrote it in format 0, which kept less\\); it can be listed and shown, not served: train a new version, or promote another`));
    assert.equal((await floyo(['models', 'list', '--home', home, '--json'], { env })).json<ListJson>().current, current, 'nothing changed');
    // the same check guards rollback: a CURRENT whose history names the old version
    writeFileSync(join(copy, 'CURRENT'), JSON.stringify({ version: current, history: [old] }));
    const rollback = await floyo(['models', 'rollback', '--home', home], { env });
    assertOneLineError(rollback, new RegExp(`cannot roll back to ${old}: model version ${old} cannot serve predictions`));
  });

  test('a current version that cannot serve (format 0) does not hold back train: the new version replaces it, saying nothing was compared', async () => {
    const copy = tempDir();
    cpSync(home, copy, { recursive: true });
    const old = '20240301T120000Z-0a1b2c3d';
    const weights = Buffer.from('000000000000f83f00000000000000c0000000000000d03f', 'hex'); // float64 [1.5, -2, 0.25]
    mkdirSync(join(copy, 'models', old));
    writeFileSync(join(copy, 'models', old, 'weights.bin'), weights);
    // a churn ROC-AUC no train on the sample reaches: compared with, it would keep every new version back
    writeFileSync(join(copy, 'models', old, 'manifest.json'), JSON.stringify({
      formatVersion: 0, floyoVersion: '0.0.1', version: old, createdAt: '2024-03-01T12:00:00.000Z',
      models: { churn: { algorithm: 'logistic-l2', params: { C: 1 }, metrics: { rocAuc: 0.99 } } }, data: {}, report: {},
      arrays: [{ name: 'weights', dtype: 'float64', length: 3, bytes: 24, sha256: createHash('sha256').update(weights).digest('hex'), file: 'weights.bin' }],
    }));
    writeFileSync(join(copy, 'models', 'CURRENT'), JSON.stringify({ version: old, history: [] }));
    // score says to train a new version...
    assertOneLineError(await cli(['score', '--home', copy]), /cannot serve predictions: .*train a new version, or promote another/);
    // ...and that train's version becomes current
    const r = await cli(['train', '--home', copy, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const t = r.json<TrainReport>();
    assert.equal(t.promoted, true, JSON.stringify(t.gate));
    assert.deepEqual(t.gate.reasons, []);
    assert.match(t.gate.notes?.[0] ?? '', new RegExp(`^the current version ${old} cannot serve predictions, so nothing was compared \\(it has no document customers, .*Floyo 0\\.0\\.1 wrote it in format 0, which kept less\\)\\)$`));
    assert.deepEqual(t.warnings, t.gate.notes);
    assert.equal((await cli(['models', 'list', '--home', copy, '--json'])).json<ListJson>().current, t.modelVersion);
  });

  /** A copy of the home whose current version's manifest is cut short (not valid JSON). */
  async function copyWithTruncatedCurrent(): Promise<{ copy: string; current: string }> {
    const copy = tempDir();
    cpSync(home, copy, { recursive: true });
    const current = (await cli(['models', 'list', '--home', copy, '--json'])).json<ListJson>().current!;
    const manifest = join(copy, 'models', current, 'manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').slice(0, 500));
    return { copy, current };
  }

  test('a current version whose manifest is broken does not block train: the new version replaces it, saying nothing was compared', async () => {
    const { copy, current } = await copyWithTruncatedCurrent();
    const r = await cli(['train', '--home', copy, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const t = r.json<TrainReport>();
    assert.equal(t.promoted, true);
    assert.match(t.gate.notes?.[0] ?? '', new RegExp(`^the current version ${current} cannot be read, so nothing was compared \\(.*manifest\\.json is not valid JSON`));
    assert.deepEqual(t.warnings, t.gate.notes);
    assert.match(r.stderr, /warning: the current version .* cannot be read/);
    // trained without --data, the version still records the data window it was trained on
    const shown = (await cli(['models', 'show', t.modelVersion, '--home', copy, '--json'])).json<{ data: Record<string, unknown> }>();
    assert.deepEqual([shown.data.from, shown.data.to, shown.data.rows], [t.data.from, t.data.to, t.data.lines]);
  });

  test('the current version damaged or gone: the commands serving from it say so and what to do; list says which', async () => {
    const { copy: damaged, current } = await copyWithTruncatedCurrent();
    const remedy = 'it is the current version: roll back to the version before it \\(floyo models rollback\\), promote another \\(floyo models promote <version>\\) or train a new one';
    const [show, score, list] = await Promise.all([['models', 'show'], ['score', '-q'], ['models', 'list']].map((a) => cli([...a, '--home', damaged])));
    assertOneLineError(show, new RegExp(`manifest\\.json is not valid JSON .*; ${remedy}$`, 'm'));
    assertOneLineError(score, new RegExp(`manifest\\.json is not valid JSON .*; ${remedy}$`, 'm'));
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${current} +\\* +unreadable\nmodel version ${current} in \\S+: manifest\\.json is not valid JSON`, 'm'));

    const gone = tempDir();
    cpSync(home, gone, { recursive: true });
    rmSync(join(gone, 'models', current), { recursive: true });
    const [score2, list2] = await Promise.all([['score', '-q'], ['models', 'list', '--json']].map((a) => cli([...a, '--home', gone])));
    // CURRENT's damage, not "no model version" the user asked for (exit 1)
    const named = `\\S+CURRENT names model version ${current}, which is not in \\S+ \\(was it deleted\\?\\); (roll back|promote another)`;
    assertOneLineError(score2, new RegExp(named));
    assert.equal(list2.code, 0, list2.stderr);
    assert.match(list2.stderr, new RegExp(`warning: ${named}`));
    assert.match(list2.json<{ currentGone: string }>().currentGone, new RegExp(named));
    // a folder left without its manifest is an interrupted publish, not a deletion
    mkdirSync(join(gone, 'models', current));
    const list3 = await cli(['models', 'list', '--home', gone]);
    assert.match(list3.stderr, new RegExp(`CURRENT names model version ${current}, whose manifest\\.json is missing \\(a publish was interrupted`));
    assert.doesNotMatch(list3.stdout, /no version is current/, 'the warning says what to do');
  });

  test('with no model versions yet, list says so (an empty list under --json) and the others exit 1 saying to run floyo train', async () => {
    const empty = tempDir();
    const [list, listJson, ...results] = await Promise.all([['list'], ['list', '--json'], ['show'], ['rollback']].map((a) => cli(['models', ...a, '--home', empty])));
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^no model versions yet in .*; run floyo train\n$/);
    assert.equal(listJson.code, 0, listJson.stderr);
    assert.deepEqual(listJson.json<{ current: null; versions: unknown[] }>().versions, []);
    for (const r of results) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^floyo: no model versions yet; run floyo train \(registry: .*\)\n$/);
    }
  });
});

test('a rollback stopped by SIGTERM after CURRENT changed is finished, not repeated, by the next rollback', async () => {
  const home = tempDir();
  for (let i = 0; i < 2; i++) assert.equal((await cli(['train', '--data', FIXTURE, '--home', home, '-q'])).code, 0);
  const list = () => cli(['models', 'list', '--home', home, '--json']).then((r) => r.json<ListJson>());
  const [second, first] = (await list()).versions.map((v) => v.version);
  const current = join(home, 'models', 'CURRENT');
  let stopped: CliResult | null = null;
  // stopped as soon as CURRENT names the version it rolls back to, before the re-score is written (tried
  // again the odd time the re-score is quicker than the poll)
  for (let attempt = 0; attempt < 5 && !stopped; attempt++) {
    const before = readFileSync(current, 'utf8');
    let poll: NodeJS.Timeout | undefined;
    const r = await floyo(['models', 'rollback', '--home', home], {
      started: (child) => (poll = setInterval(() => {
        if (readFileSync(current, 'utf8') !== before) {
          clearInterval(poll);
          child.kill('SIGTERM');
        }
      }, 1)),
    });
    clearInterval(poll);
    if (r.code === 143) stopped = r;
    else assert.equal((await cli(['models', 'promote', second, '--home', home])).code, 0, 'put back for another try');
  }
  assert.ok(stopped, 'a rollback was stopped between CURRENT and the re-score');
  assert.equal((await list()).current, first, 'CURRENT changed before the stop');
  assert.match(stopped.stderr, new RegExp(`^floyo: stopped by SIGTERM before it finished: it was making model version ${first} current: run floyo models rollback again to finish\n$`));
  const customer = await cli(['segments', '--home', home, '--json']);
  assert.match(customer.stderr, new RegExp(`a run making model version ${first} current stopped at .* before writing its predictions`));
  // run again, it finishes the stopped rollback: it re-scores with the version now current and goes back no further
  const again = await cli(['models', 'rollback', '--home', home, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const finished = again.json<{ current: string; previous: string; changed: boolean; note: string; rescored: ScoreReport }>();
  assert.deepEqual([finished.current, finished.previous, finished.changed], [first, first, false]);
  assert.match(finished.note, new RegExp(`^finished a stopped change to ${first}; run floyo models rollback again to go back from ${first}$`));
  assert.equal(finished.rescored.modelVersion, first);
  assert.equal((await list()).current, first, 'the second rollback did not go back one more version');
  assert.doesNotMatch((await cli(['segments', '--home', home])).stderr, /stopped/, 'the finished rollback settled it');
  // and, nothing being owed any more, the next rollback tries to go back again (there is nothing before the first)
  const next = await cli(['models', 'rollback', '--home', home]);
  assert.equal(next.code, 2, next.stderr);
  assert.match(next.stderr, new RegExp(`cannot roll back in .*: ${first} is current and no version was current before it`));
});

test('models.keepVersions prunes after each train; models prune does it on demand, holding the home', async () => {
  const home = tempDir();
  const env = { FLOYO_MODELS_KEEP_VERSIONS: '1' };
  const trainJson = async () => {
    const r = await floyo(['train', '--data', FIXTURE, '--home', home, '--json', '-q'], { env });
    assert.equal(r.code, 0, r.stderr);
    return r.json<TrainReport>();
  };
  const t1 = await trainJson();
  assert.deepEqual(t1.pruned, { keep: 1, removed: [], bytesRemoved: 0, rollbackTo: null });
  const t2 = await trainJson();
  assert.deepEqual(t2.pruned, { keep: 1, removed: [], bytesRemoved: 0, rollbackTo: t1.modelVersion }, 'the version rollback returns to stays');
  const t3 = await floyo(['train', '--home', home, '-q'], { env });
  assert.equal(t3.code, 0, t3.stderr);
  assert.match(t3.stdout, new RegExp(`\\npruned the registry to the newest version, the current one and the one rollback returns to \\(models\\.keepVersions\\): ` +
    `removed 1, \\d+\\.\\d KiB; floyo models rollback returns to ${t2.modelVersion}\\n`));
  const list = (await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>();
  assert.equal(list.versions.length, 2);
  assert.equal(list.versions[1].version, t2.modelVersion);
  for (const v of list.versions) assert.ok(v.bytes > 100_000, 'each version\'s size');
  const listText = await cli(['models', 'list', '--home', home]);
  assert.match(listText.stdout, /\n2 versions, \d+\.\d (KiB|MiB) in all; floyo models prune --keep N removes the older ones\n$/);

  // on demand: --keep, or the setting; a dry run says what it would do
  const t4 = await floyo(['train', '--home', home, '-q']); // no keepVersions: nothing pruned, nothing said
  assert.equal(t4.code, 0, t4.stderr);
  assert.doesNotMatch(t4.stdout, /pruned/);
  const dry = await cli(['models', 'prune', '--keep', '1', '--dry-run', '--home', home]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`keeping the 1 newest \\(--keep\\), the current one and the one rollback returns to\\nwould remove 1 \\(\\d+\\.\\d KiB\\): ${t2.modelVersion}\\n`));
  assert.match(dry.stdout, /nothing was removed \(--dry-run\)\n$/);
  assert.equal((await cli(['models', 'list', '--home', home, '--json'])).json<ListJson>().versions.length, 3);
  const pruned = await floyo(['models', 'prune', '--home', home, '--json'], { env });
  assert.equal(pruned.code, 0, pruned.stderr);
  const p = pruned.json<{ removed: string[]; kept: string[]; rollbackTo: string | null; dryRun: boolean }>();
  assert.deepEqual(p.removed, [t2.modelVersion]);
  assert.equal(p.kept.length, 2);
  assert.equal(p.dryRun, false);
  const back = await cli(['models', 'rollback', '--home', home]);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, new RegExp(`^rolled back: ${p.rollbackTo} is current again`));
  assertOneLineError(await cli(['models', 'rollback', '--home', home]), /the versions current before it were removed \(floyo models prune\)/);

  assertOneLineError(await cli(['models', 'prune', '--home', home]), /say how many versions to keep: --keep N \(or set models\.keepVersions/);
  for (const bad of ['0', '1e0', 'two']) assertOneLineError(await cli(['models', 'prune', '--keep', bad, '--home', home]), /--keep must be a whole number of at least 1, got "/);
  assertOneLineError(await cli(['models', 'prune', '--keep', '1', '--home', tempDir()]), /no model versions yet; run floyo train/, 1);
  // a train running in the home is waited for, then named, as for every command that changes it; a dry run answers
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo train', host: hostname(), since: new Date().toISOString() }));
  try {
    assertOneLineError(await cli(['models', 'prune', '--keep', '1', '--home', home]), /is in use by `floyo train`/, 3);
    assert.equal((await cli(['models', 'prune', '--keep', '1', '--dry-run', '--home', home])).code, 0);
  } finally {
    rmSync(join(home, 'lock.json'));
  }
});

test('every models subcommand has --help with the common options and --json', () => {
  // the help text is static: read from the registered commands instead of starting a process for each
  const program = new Command('floyo');
  register(program);
  const models = program.commands.find((c) => c.name() === 'models')!;
  assert.deepEqual(models.commands.map((c) => c.name()), ['list', 'show', 'promote', 'rollback', 'prune']);
  assert.match(models.helpInformation(), /list .*\n.*show \[options\] \[version\].*\n.*promote \[options\] <version>.*\n.*rollback.*\n.*prune \[options\]/s);
  for (const sub of models.commands) {
    const help = sub.helpInformation();
    assert.match(help, new RegExp(`^Usage: floyo models ${sub.name()} `));
    for (const option of ['--home <dir>', '--config <file>', '--json', '-q, --quiet', '-h, --help']) assert.ok(help.includes(option), `${sub.name()}: ${option}`);
  }
});

// floyo score through the CLI: it reproduces what floyo train stored, brings in transactions ingested since
// training without retraining, and its ALS path (fold-in from current purchases) recommends nothing bought.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { assertErrorStdout, floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { ScoreReport } from '../../src/cli/score.js';
import type { SegmentsReport } from '../../src/cli/segments.js';
import type { TrainReport } from '../../src/cli/train.js';
import { loadConfig } from '../../src/config.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { recommend } from '../../src/ml/als.js';
import { defaultRegistryLocation, openRegistry } from '../../src/models/registry.js';
import { scoreWithVersion, scoringTime } from '../../src/pipeline/score.js';
import { loadServing } from '../../src/pipeline/serving.js';

const SPLIT = '2011-11-15';

interface StoredRow {
  customer_id: string;
  segment: string;
  rf_cell: string;
  churn_probability: number;
  churn_risk: string;
  scored_at: string;
  churn_reasons: string;
  recommendations: string;
  model_version: string;
}

async function storedPredictions(home: string): Promise<Map<string, StoredRow>> {
  const db = await DuckDBInstance.create(join(home, 'warehouse.duckdb'));
  const connection = await db.connect();
  try {
    const rows = (await connection.runAndReadAll(
      `SELECT customer_id, segment, rf_cell, churn_probability, churn_risk, strftime(scored_at, '%Y-%m-%dT%H:%M:%SZ') AS scored_at, churn_reasons, recommendations, model_version FROM predictions`,
    )).getRowObjectsJS() as unknown as StoredRow[];
    return new Map(rows.map((r) => [r.customer_id, r]));
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** Products each customer bought (non-return lines), from the raw fixture rows. */
function boughtByCustomer(lines: string[][]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [invoice, code, , qty, , , customer] of lines) {
    if (!customer || invoice.startsWith('C') || Number(qty) <= 0) continue;
    if (!out.has(customer)) out.set(customer, new Set());
    out.get(customer)!.add(code);
  }
  return out;
}

/** The fields of one CSV line of the fixture (quoted fields, doubled quotes; no newlines inside fields). */
function fields(line: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= line.length; ) {
    if (line[i] === '"') {
      let value = '';
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '"' && line[j + 1] === '"') { value += '"'; j++; } else if (line[j] === '"') break; else value += line[j];
      }
      out.push(value);
      i = j + 2;
    } else {
      const end = line.indexOf(',', i);
      out.push(line.slice(i, end < 0 ? line.length : end));
      i = end < 0 ? line.length + 1 : end + 1;
    }
  }
  return out;
}

const productIds = (r: StoredRow): string[] => (JSON.parse(r.recommendations) as Array<{ productId: string }>).map((x) => x.productId);

describe('floyo score', () => {
  const home = tempDir();
  const header = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8').split('\n')[0];
  const rows = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8').trim().split('\n').slice(1);
  const parsed = rows.map(fields);
  const early = rows.filter((_, i) => parsed[i][4] < SPLIT);
  const late = rows.filter((_, i) => parsed[i][4] >= SPLIT);
  const earlyFile = join(home, 'early.csv'), lateFile = join(home, 'late.csv');
  let trained: TrainReport;

  before(async () => {
    assert.ok(parsed.every((f) => f.length === 8), 'every fixture line has its 8 fields');
    writeFileSync(earlyFile, [header, ...early].join('\n') + '\n');
    writeFileSync(lateFile, [header, ...late].join('\n') + '\n');
    const r = await floyo(['train', '--data', earlyFile, '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    trained = r.json<TrainReport>();
    assert.equal(trained.promoted, true);
  });

  test('right after floyo train it reproduces the stored predictions exactly, and moves nobody', async () => {
    const stored = await storedPredictions(home);
    const r = await floyo(['score', '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json<ScoreReport>();
    assert.equal(s.modelVersion, trained.modelVersion);
    assert.equal(s.scoredAsOf, trained.scoredAsOf);
    assert.equal(s.predictionsWritten, stored.size);
    assert.equal(s.segmentMoves, 0);
    assert.equal(s.segments.reduce((n, x) => n + x.customers, 0), stored.size);
    const again = await storedPredictions(home);
    for (const [id, before] of stored) {
      const after = again.get(id)!;
      assert.deepEqual(
        [after.segment, after.rf_cell, after.churn_probability, after.churn_reasons, after.model_version],
        [before.segment, before.rf_cell, before.churn_probability, before.churn_reasons, before.model_version],
        id,
      );
      // the same products in the same order, whichever recommender is served (ALS: the published vectors
      // come from an exact user step, which fold-in reproduces)
      assert.deepEqual(productIds(after), productIds(before), id);
    }
  });

  test('one instant, one set of scores: --now at the time train reported equals the default, to the bit', async () => {
    // The past used to end at the end of the day by default and at the instant with --now, so the recent-
    // activity windows moved by hours and every churn probability differed for the same reported time.
    const byDefault = await storedPredictions(home);
    const r = await floyo(['score', '--home', home, '--now', trained.scoredAsOf, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json<ScoreReport>().scoredAsOf, trained.scoredAsOf);
    const atInstant = await storedPredictions(home);
    assert.equal(atInstant.size, byDefault.size);
    for (const [id, p] of byDefault) assert.equal(atInstant.get(id)!.churn_probability, p.churn_probability, id);
  });

  test('after new transactions are ingested, every customer is scored as of the new data, new customers included', async () => {
    const before = await storedPredictions(home);
    const ingest = await floyo(['ingest', lateFile, '--home', home, '--json', '-q']);
    assert.equal(ingest.code, 0, ingest.stderr);
    // until floyo score, the queries answer from the stored predictions and say they lag the sales
    const [id] = before.keys();
    const stale = await floyo(['customer', id, '--home', home, '--json']);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /^floyo: warning: the predictions were scored as of 2011-\d\d-\d\dT[\d:]+Z at the latest, and the warehouse holds sales up to 2011-12-08T14:58:00Z: floyo score brings them up to date\n$/);
    const r = await floyo(['score', '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json<ScoreReport>();
    assert.equal(s.scoredAsOf, '2011-12-08T14:58:00Z', 'the data\'s last timestamp');
    assert.equal(s.modelVersion, trained.modelVersion, 'no retraining');
    const after = await storedPredictions(home);
    const bought = boughtByCustomer(parsed);
    const newcomers = [...bought.keys()].filter((id) => !before.has(id));
    assert.ok(newcomers.length > 0, 'the late file brings customers the model never saw');
    for (const id of newcomers) assert.ok(after.has(id), `new customer ${id} is scored`);
    assert.equal(s.predictionsWritten, after.size);
    for (const [id, p] of after) {
      assert.equal(p.model_version, trained.modelVersion);
      for (const product of productIds(p)) assert.ok(!bought.get(id)?.has(product), `${id} is not recommended ${product}, which they bought`);
    }
    const fresh = await floyo(['segments', '--home', home, '--json']);
    assert.equal(fresh.stderr, '', 'scored as of the data: nothing lags');
    const text = await floyo(['score', '--home', home]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^scored ${after.size} customers with model version ${trained.modelVersion} as of 2011-12-08T14:58:00Z: ` +
      `0 changed segment since their stored prediction, 0 new\n`));
    assert.match(text.stdout, /segment +customers +high churn risk/);
  });

  test('a late file dated before the scoring time, or a corrected order, is said by the queries (stderr and --json) until floyo score', async () => {
    // a copy of the home, scored as of 2011-12-08T14:58:00Z: the lines below are dated before that, so
    // times alone cannot tell (the copy keeps them from the tests after this one)
    const copy = tempDir();
    cpSync(home, copy, { recursive: true });
    const [invoice, code, name, , date, price, customer, country] = parsed.find((f) => f[4] < '2011-12-01' && f[6] && !f[0].startsWith('C'))!;
    const corrected = `${invoice},${code},"${name}",999,${date},${price},${customer},${country}`;
    const lateOrder = `990001,${code},"${name}",1,2011-12-01 09:00:00,${price},${customer},${country}`;
    const file = join(copy, 'corrections.csv');
    writeFileSync(file, [header, corrected, lateOrder].join('\n') + '\n');
    assert.equal((await floyo(['ingest', file, '--home', copy, '-q'])).code, 0);
    const expected = /^the predictions were scored as of 2011-12-08T14:58:00Z at the latest, and 2 lines dated by then were ingested after they were written; 1 earlier order was replaced since: floyo score brings them up to date$/;
    for (const args of [['customer', customer], ['segments'], ['audience']]) {
      const r = await floyo([...args, '--home', copy, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const { warnings } = r.json<{ warnings: string[] }>();
      assert.equal(warnings.length, 1, args[0]);
      assert.match(warnings[0], expected);
      assert.equal(r.stderr, `floyo: warning: ${warnings[0]}\n`);
    }
    assert.equal((await floyo(['score', '--home', copy, '-q'])).code, 0);
    const fresh = await floyo(['customer', customer, '--home', copy, '--json']);
    assert.deepEqual([fresh.stderr, fresh.json<{ warnings: string[] }>().warnings], ['', []]);
    // a home from before Floyo kept what its predictions saw is taken to be up to date, not all unseen ...
    const fromBefore = async () => {
      const db = await DuckDBInstance.create(join(copy, 'warehouse.duckdb'));
      const connection = await db.connect();
      await connection.run('DROP TABLE prediction_inputs');
      connection.closeSync();
      db.closeSync();
    };
    await fromBefore();
    const upgraded = await floyo(['segments', '--home', copy, '--json']);
    assert.deepEqual([upgraded.stderr, upgraded.json<{ warnings: string[] }>().warnings], ['', []]);
    // ... and a source its first ingest brings is not: the record is made when the warehouse opens
    await fromBefore();
    const another = join(copy, 'another.csv');
    writeFileSync(another, [header, `990002,${code},"${name}",2,2011-12-02 09:00:00,${price},${customer},${country}`].join('\n') + '\n');
    assert.equal((await floyo(['ingest', another, '--home', copy, '-q'])).code, 0);
    const seen = await floyo(['segments', '--home', copy, '--json']);
    assert.match(seen.json<{ warnings: string[] }>().warnings[0] ?? '', /1 line dated by then was ingested after they were written/);
    // a source ingested again (--replace) is data the predictions have not seen either
    assert.equal((await floyo(['score', '--home', copy, '-q'])).code, 0);
    assert.equal((await floyo(['ingest', another, '--replace', '--home', copy, '-q'])).code, 0);
    const replaced = await floyo(['segments', '--home', copy, '--json']);
    assert.match(replaced.json<{ warnings: string[] }>().warnings[0] ?? '', /1 line dated by then was ingested after they were written; 1 earlier order was replaced since/);
  });

  test('with ALS served, each customer is folded in from their purchases now: unchanged customers get exactly the published vectors\' top 10', async () => {
    const { config } = loadConfig({ env: {}, flags: { home } });
    const registry = openRegistry(defaultRegistryLocation(home), config.s3);
    const warehouse = await Warehouse.open(home, 'score test');
    try {
      // train published the final ALS model after an exact user half-step, which fold-in reproduces
      const models = { ...(await loadServing(registry)), served: 'als' as const };
      // the inputs' own correlations with churn travel with the version: reasons are worded from them
      assert.equal(models.churn.alone?.length, models.churn.logistic.coef.length);
      for (const r of models.churn.alone!) assert.ok(Math.abs(r) <= 1);
      const exclude = [models.products.ids[0]];
      const progress: Array<[number, number]> = [];
      const { scored } = await scoreWithVersion(warehouse, models, {
        time: await scoringTime(warehouse, trained.scoredAsOf), horizonDays: 90, rules: { exclude, count: 10, includeBought: false }, onProgress: (done, total) => progress.push([done, total]),
      });
      const bought = boughtByCustomer(parsed.filter((line) => line[4] < SPLIT));
      assert.ok(scored.ids.length > 0);
      scored.ids.forEach((id, i) => {
        const recommended = Array.from(scored.recommendations[i].items, (item) => scored.itemIds[item]);
        assert.equal(recommended.length, 10);
        for (const product of recommended) {
          assert.ok(!bought.get(id)?.has(product), `${id} bought ${product}`);
          assert.notEqual(product, exclude[0], 'the excluded product never appears');
        }
        const user = models.customers.index.get(id);
        assert.ok(user !== undefined, `as of the training time ${id} is a customer the model knows`);
        const published = Array.from(recommend(models.als, user, 10, { exclude: [0] }).items, (item) => models.products.ids[item]);
        assert.deepEqual(recommended, published, id);
      });
      // progress: every customer once, and once more for the ranking of each one ALS places, which is all of
      // them here; the total is known from the first update and never grows
      const total = 2 * scored.ids.length;
      assert.ok(progress.length >= 2);
      for (const [done, t] of progress) {
        assert.equal(t, total);
        assert.ok(done <= t);
      }
      assert.deepEqual(progress.at(-1), [total, total]);
    } finally {
      warehouse.close();
      registry.close();
    }
  });

  test('the serving rules set how many recommendations each customer gets and whether what they bought may come back', async () => {
    const { config } = loadConfig({ env: {}, flags: { home } });
    const registry = openRegistry(defaultRegistryLocation(home), config.s3);
    const warehouse = await Warehouse.open(home, 'score test');
    try {
      const models = { ...(await loadServing(registry)), served: 'als' as const };
      const time = await scoringTime(warehouse, trained.scoredAsOf);
      const { scored } = await scoreWithVersion(warehouse, models, { time, horizonDays: 90, rules: { exclude: [], count: 3, includeBought: true } });
      let boughtComesBack = 0;
      scored.ids.forEach((id, i) => {
        const user = models.customers.index.get(id)!;
        const recommended = Array.from(scored.recommendations[i].items, (item) => scored.itemIds[item]);
        // unchanged customers: the published vectors' top 3 over every product, bought or not
        const published = Array.from(recommend(models.als, user, 3, { filterAlreadyBought: false }).items, (item) => models.products.ids[item]);
        assert.deepEqual(recommended, published, id);
        const bought = new Set(Array.from(models.als.confidence.indices.subarray(models.als.confidence.indptr[user], models.als.confidence.indptr[user + 1]), (item) => models.products.ids[item]));
        if (recommended.some((p) => bought.has(p))) boughtComesBack++;
      });
      assert.ok(boughtComesBack > 0, 'with includeBought, a customer\'s own purchases rank among their top 3 for some customers');
    } finally {
      warehouse.close();
      registry.close();
    }
  });

  test('with a second version trained, each floyo score reports what it changed, and floyo segments keeps the version change apart from re-scoring', async () => {
    const r = await floyo(['train', '--home', home, '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const second = r.json<TrainReport>();
    assert.equal(second.promoted, true);
    assert.ok(second.segmentMoves > 0, 'the new version moves customers, or this test could not tell the two counts apart');
    const segmentsBefore = await floyo(['segments', '--home', home, '--json']);
    assert.equal(segmentsBefore.code, 0, segmentsBefore.stderr);
    const before = segmentsBefore.json<SegmentsReport>();
    assert.deepEqual([before.modelVersion, before.movement.length], [second.modelVersion, 1]);
    assert.equal(before.movement[0].moved, second.segmentMoves);
    assert.deepEqual([before.rescoring, before.rescoringAsOf], [[], null]);

    for (let run = 0; run < 2; run++) {
      const again = await floyo(['score', '--home', home, '--json', '-q']);
      assert.equal(again.code, 0, again.stderr);
      const s = again.json<ScoreReport>();
      assert.deepEqual([s.modelVersion, s.segmentMoves, s.newCustomers, s.notRescored], [second.modelVersion, 0, 0, 0], `run ${run + 1}: nothing changed`);
    }

    // an earlier --now re-scores with the same version: its moves are the run's, not the version change's
    const stored = await storedPredictions(home);
    const older = await floyo(['score', '--home', home, '--now', '2011-10-01', '--allow-older', '--json', '-q']);
    assert.equal(older.code, 0, older.stderr);
    assert.equal(older.stderr, '', 'no warning: 2011-10-01 is within the data');
    const o = older.json<ScoreReport>();
    assert.ok(o.segmentMoves > 0);
    const segmentsAfter = (await floyo(['segments', '--home', home, '--json'])).json<SegmentsReport>();
    assert.deepEqual(segmentsAfter.movement, before.movement, 'the matrix of the version change is not blamed for the re-score');
    assert.equal(segmentsAfter.rescoring.reduce((n, m) => n + m.customers, 0), o.segmentMoves);
    assert.deepEqual(segmentsAfter.rescoringAsOf, { from: '2011-10-01T23:59:59Z', to: '2011-10-01T23:59:59Z' }, 'when those re-scores were scored as of');
    assert.ok(segmentsAfter.moves.some((m) => m.fromVersion === second.modelVersion && m.toVersion === second.modelVersion));
    const human = await floyo(['segments', '--home', home]);
    assert.match(human.stdout, new RegExp(`movement from model ${trained.modelVersion} to ${second.modelVersion}: ${second.segmentMoves} of \\d+ customers \\([\\d.]+%\\) changed segment when ${second.modelVersion} replaced`));
    assert.match(human.stdout, new RegExp(`\nre-scoring with model ${second.modelVersion} itself \\(scored as of 2011-10-01T23:59:59Z: the same model on newer data or another --now, not a model change\\) moved customers ${o.segmentMoves} times:\n`));

    // back to the data's last timestamp: nobody is left at a later time, so it is not refused
    const back = await floyo(['score', '--home', home, '--json', '-q']);
    assert.equal(back.code, 0, back.stderr);
    const b = back.json<ScoreReport>();
    assert.deepEqual([b.predictionsWritten, b.notRescored, b.segmentMoves], [stored.size, 0, o.segmentMoves]);
  });

  test('a --now earlier than the stored predictions is refused before writing, unless --allow-older, which reports every row it left', async () => {
    const stored = await storedPredictions(home);
    const version = [...stored.values()][0].model_version;
    const refused = await floyo(['score', '--home', home, '--now', '2011-06-01', '-q']);
    assert.equal(refused.code, 2, refused.stderr);
    assertErrorStdout(refused);
    assert.match(refused.stderr, /^floyo: --now 2011-06-01 \(2011-06-01T23:59:59Z\) is earlier than the stored predictions \(scored as of up to 2011-12-08T14:58:00Z\): (\d+) of them, customers with no purchase by 2011-06-01, would keep their later predictions and the store would mix two points in time; nothing was written \(pass --allow-older to score as of it anyway\)\n$/);
    assert.deepEqual(await storedPredictions(home), stored, 'nothing was written');
    // a time of day is not the whole day: those who bought that afternoon are among the customers left
    const atTen = await floyo(['score', '--home', home, '--now', '2011-12-08T10:00:00Z', '-q']);
    assert.equal(atTen.code, 2, atTen.stderr);
    assert.match(atTen.stderr, /: \d+ of them, customers with no purchase by 2011-12-08T10:00:00Z, would keep their later predictions/);

    const json = await floyo(['score', '--home', home, '--now', '2011-06-01', '--allow-older', '--json', '-q']);
    assert.equal(json.code, 0, json.stderr);
    const s = json.json<ScoreReport>();
    const left = Number(/: (\d+) of them/.exec(refused.stderr)![1]);
    assert.ok(left > 0 && s.predictionsWritten > 0);
    assert.equal(s.predictionsWritten + s.notRescored, stored.size, 'every stored prediction is either re-scored or reported');
    assert.equal(s.notRescored, left);
    assert.deepEqual(s.notRescoredBy, [{ modelVersion: version, scoredAt: '2011-12-08T14:58:00Z', customers: left }]);
    const after = await storedPredictions(home);
    assert.equal([...after.values()].filter((p) => p.scored_at === '2011-12-08T14:58:00Z').length, left);

    const text = await floyo(['score', '--home', home, '--now', '2011-06-01', '--allow-older', '-q']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`\n${left} stored predictions were not re-scored: those customers have no purchase by 2011-06-01, so they keep an earlier run's prediction:\n` +
      `  ${left} by model version ${version} \\(this version\\) as of 2011-12-08T14:58:00Z \\(later than this run\\)\n`));

    const back = await floyo(['score', '--home', home, '-q', '--json']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.json<ScoreReport>().notRescored, 0);
  });

  test('the high-risk threshold comes from the costs configured now, says where from, and the stored flags and floyo segments follow', async () => {
    const env = { FLOYO_CHURN_COST_MISSED_CHURNER: '1' };
    const r = await floyo(['score', '--home', home, '--json', '-q'], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = r.json<ScoreReport>();
    assert.deepEqual(s.churnThreshold, {
      value: 0.5,
      costMissedChurner: { value: 1, source: 'env FLOYO_CHURN_COST_MISSED_CHURNER' },
      costWastedOffer: { value: 1, source: 'default' },
      trainedWith: 1 / 6,
    });
    const stored = [...(await storedPredictions(home)).values()];
    for (const p of stored) assert.equal(p.churn_risk, p.churn_probability >= 0.5 ? 'high' : 'low', p.customer_id);
    const high = stored.filter((p) => p.churn_risk === 'high').length;
    assert.ok(high < stored.filter((p) => p.churn_probability >= 1 / 6).length, 'fewer flagged than at the trained threshold');
    assert.equal(s.segments.reduce((n, x) => n + x.highRisk, 0), high);
    const segments = (await floyo(['segments', '--home', home, '--json'])).json<SegmentsReport>();
    assert.equal(segments.segments.reduce((n, x) => n + x.highRisk, 0), high);

    const text = await floyo(['score', '--home', home, '-q'], { env });
    assert.match(text.stdout, /\nhigh churn risk: probability ≥ 0\.5000 = wasted offer \/ \(wasted offer \+ missed churner\), with churn\.costWastedOffer 1 \(default\) and churn\.costMissedChurner 1 \(env FLOYO_CHURN_COST_MISSED_CHURNER\); version \S+ was trained with 0\.1667\n/);

    const defaults = await floyo(['score', '--home', home, '--json', '-q']);
    assert.equal(defaults.json<ScoreReport>().churnThreshold.value, 1 / 6);
    for (const p of (await storedPredictions(home)).values()) assert.equal(p.churn_risk, p.churn_probability >= 1 / 6 ? 'high' : 'low');
  });

  test('a --now that is not a real date, or not ISO, is refused in one line with exit 2', async () => {
    // refused before the home is opened, so both can run at once
    const nows = ['2011-02-30', '12/01/2011'];
    const results = await Promise.all(nows.map((now) => floyo(['score', '--home', home, '--now', now])));
    for (const [i, r] of results.entries()) {
      const now = nows[i];
      assert.equal(r.code, 2, r.stderr);
      assertErrorStdout(r);
      assert.equal(r.stderr, `floyo: --now must be a date (YYYY-MM-DD) or an ISO timestamp (YYYY-MM-DDTHH:MM:SS, optionally with Z or ±HH:MM), got "${now}"\n`);
    }
  });

  test('a --now more than the churn horizon after the data is scored, with a warning on stderr that every customer looks churned', async () => {
    const r = await floyo(['score', '--home', home, '--now', '2030-01-01', '--json', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const warning = 'scoring as of 2030-01-01, 6,599 days after the data\'s last purchase (2011-12-08), more than the 90-day churn horizon: ' +
      'every customer looks churned; ingest the newer sales, or give a --now within the horizon';
    assert.equal(r.stderr, `floyo: warning: ${warning}\n`);
    assert.deepEqual(r.json<ScoreReport>().warnings, [warning]);
    const within = await floyo(['score', '--home', home, '--now', '2012-03-07', '-q']);
    assert.equal(within.code, 0, within.stderr);
    assert.equal(within.stderr, '', '90 days after the data: no warning');
    // the horizon is the one the version learnt its labels on (90 days), not the one configured now, as train judges it
    const configured = await floyo(['score', '--home', home, '--now', '2012-03-07', '-q'], { env: { FLOYO_FEATURES_HORIZON_DAYS: '30' } });
    assert.equal(configured.code, 0, configured.stderr);
    assert.equal(configured.stderr, '', 'a version trained on 90-day labels: no warning 90 days after the data');
    const back = await floyo(['score', '--home', home, '-q']);
    assert.equal(back.code, 0, back.stderr);
  });

  test('--now before the first transaction is refused in one line that names --now', async () => {
    const r = await floyo(['score', '--home', home, '--now', '2001-01-01']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^floyo: --now 2001-01-01 is before the first transaction \(2010-12-01T[\d:]+Z\)[^\n]*\n$/);
  });

  test('with no model version yet it says to train first, and creates nothing in the home', async () => {
    const empty = tempDir();
    const r = await floyo(['score', '--home', empty]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^floyo: no model versions yet; run floyo train \(registry: .*\)\n$/);
    assertErrorStdout(r);
    assert.deepEqual(readdirSync(empty), [], 'no warehouse, no registry folder');
  });
});

test('predictions of customers no longer in the warehouse (their orders ingested again under other ids) are removed, not kept for ever', async () => {
  const home = tempDir();
  const fixture = readFileSync(join(FIXTURES, 'online_retail_sample.csv'), 'utf8').trim().split('\n');
  const train = await floyo(['train', '--data', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '--json', '-q']);
  assert.equal(train.code, 0, train.stderr);
  const before = await storedPredictions(home);
  // the same orders, at the same times, with the customer ids written another way (a fixed export)
  const recoded = join(home, 'recoded.csv');
  writeFileSync(recoded, [fixture[0], ...fixture.slice(1).map((line) => {
    const f = fields(line);
    return f[6] ? line.replace(new RegExp(`,${f[6]},([^,]*)$`), `,C${f[6]},$1`) : line;
  })].join('\n') + '\n');
  const ingest = await floyo(['ingest', recoded, '--home', home, '--json', '-q']);
  assert.equal(ingest.code, 0, ingest.stderr);
  // scored as of a day before the stored predictions: only the old ids' rows are later, and they are gone, so
  // this is no mixing of two points in time (it was refused, with the old rows still there)
  const dayBefore = new Date(Date.parse(train.json<TrainReport>().scoredAsOf) - 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const r = await floyo(['score', '--home', home, '--now', dayBefore, '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json<ScoreReport>();
  assert.equal(s.predictionsRemoved, before.size, 'every customer under the old ids');
  assert.equal(s.notRescored, 0);
  const after = await storedPredictions(home);
  assert.equal(after.size, s.predictionsWritten);
  assert.ok([...after.keys()].every((id) => id.startsWith('C')), 'only the ids the warehouse holds now');
  const old = await floyo(['customer', [...before.keys()][0], '--home', home]);
  assert.equal(old.code, 1, old.stderr);
  const human = await floyo(['score', '--home', home]);
  assert.equal(human.code, 0, human.stderr);
  assert.doesNotMatch(human.stdout, /removed/, 'nothing left to remove');
});

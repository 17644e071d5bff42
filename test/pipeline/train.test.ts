// floyo train end to end on the committed UCI fixture: the report, the published version, the stored predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { TrainReport } from '../../src/cli/train.js';

const FIXTURE = join(FIXTURES, 'online_retail_sample.csv');

test('floyo train: the protocol\'s cutoffs, every metric of the report, a promoted version, one prediction per customer', async () => {
  const home = tempDir();
  const r = await floyo(['train', '--data', FIXTURE, '--home', home, '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const t = r.json<TrainReport>();
  assert.equal(t.data.rowsRead, 12303);
  assert.equal(t.data.rowsRead, t.data.rowsAccepted + t.data.rowsQuarantined + t.data.rowsExcluded);
  assert.deepEqual(t.ingested && [t.ingested.sourcesIngested, t.ingested.rowsRead, t.ingested.rowsAccepted], [1, 12303, 12181]);
  assert.equal(t.data.to, '2011-12-08T14:58:00Z');
  assert.equal(t.cutoff, '2011-09-09'); // last day minus 90
  assert.equal(t.validationCutoff, '2011-06-11'); // a further 90 days back
  assert.equal(t.scoredAsOf, '2011-12-08T14:58:00Z', 'scored as of the data, not the wall clock');
  // segments: named, distinct, sizes add up
  const names = t.segmentation.segments.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.every((n) => /^(champions|loyal|big spenders|small baskets|new|at risk|infrequent shoppers|hibernating|lost)$/.test(n)), names.join());
  assert.ok(t.segmentation.k >= 4 && t.segmentation.k <= 8);
  assert.ok(t.segmentation.silhouette > 0 && t.segmentation.silhouette <= 1);
  assert.ok(t.segmentation.kScores.some((s) => s.k === t.segmentation.k), 'the silhouettes that chose k');
  // churn: every metric present and sane
  for (const k of ['rocAuc', 'prAuc', 'logLoss', 'brier', 'positiveRate', 'cvRocAucMean', 'cvRocAucStd', 'baselineRecencyRocAuc', 'threshold'] as const) {
    assert.ok(Number.isFinite(t.churn[k]), k);
  }
  assert.ok(t.churn.rocAuc > 0.5 && t.churn.rocAuc <= 1);
  assert.ok(Math.abs(t.churn.nTest / (t.churn.nTrain + t.churn.nTest) - 0.2) < 0.03, 'a stratified 80/20 split');
  assert.equal(t.churn.threshold, 1 / 6, 'cost 5 for a missed churner, 1 for a wasted offer');
  // recommendations: never worse than popularity on what it was chosen on
  const rec = t.recommendations;
  assert.ok(rec.model === 'als' || rec.model === 'popularity');
  if (rec.model === 'als') assert.ok(rec.validation.als.ndcgAt10 > rec.validation.popularity.ndcgAt10);
  for (const k of ['precisionAt10', 'recallAt10', 'mapAt10', 'ndcgAt10', 'hitRateAt10', 'coverage'] as const) assert.ok(rec[k] >= 0 && rec[k] <= 1, k);
  assert.ok(rec.evaluatedUsers > 0);
  // published and promoted, predictions for every scored customer
  assert.equal(t.promoted, true);
  assert.match(t.modelVersion, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
  assert.ok(existsSync(join(home, 'models', t.modelVersion, 'manifest.json')));
  assert.ok(readdirSync(join(home, 'models', t.modelVersion)).some((f) => f.endsWith('.bin')));
  assert.ok(t.predictionsWritten > 100);
  assert.equal(t.previousVersion, null);
  for (const k of ['ingest', 'features', 'segmentation', 'churn', 'recommendations', 'scoring', 'total'] as const) assert.ok(t.timingsMs[k] >= 0, k);

  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const rows = (await db.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(DISTINCT model_version)::INTEGER AS versions FROM predictions`)).getRowObjectsJS();
  db.closeSync();
  assert.deepEqual(rows[0], { n: t.predictionsWritten, versions: 1 });
});

test('the same data and seed give the same models; a second run publishes a second version', async () => {
  const home = tempDir();
  const a = (await floyo(['train', '--data', FIXTURE, '--home', home, '--json', '-q'])).json<TrainReport>();
  const b = (await floyo(['train', '--home', home, '--json', '-q'])).json<TrainReport>();
  assert.notEqual(a.modelVersion, b.modelVersion);
  assert.equal(b.promoted, true, 'equal quality passes the gate');
  assert.deepEqual(b.churn, a.churn);
  assert.deepEqual(b.segmentation, a.segmentation);
  assert.deepEqual({ ...b.recommendations }, { ...a.recommendations });
  assert.deepEqual(b.data, a.data, 'the data summary is the warehouse\'s, with or without --data');
  assert.equal(b.ingested, null);
  assert.equal(b.previousVersion, a.modelVersion);
});

test('--now scores as of another time; errors are one line', async () => {
  const home = tempDir();
  const r = await floyo(['train', '--data', FIXTURE, '--home', home, '--now', '2011-12-31', '--json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json<TrainReport>().scoredAsOf, '2011-12-31T23:59:59Z');
  // a time of day: that afternoon's orders are not in the past yet (customer 14569 first buys at 14:58)
  const morning = await floyo(['train', '--home', home, '--now', '2011-12-08T10:00:00Z', '--json', '-q']);
  assert.equal(morning.code, 0, morning.stderr);
  assert.equal(morning.json<TrainReport>().scoredAsOf, '2011-12-08T10:00:00Z');
  const instance = await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' });
  const db = await instance.connect();
  const [counts] = (await db.runAndReadAll(
    `SELECT count(*) FILTER (WHERE customer_id = '14569')::INTEGER AS late,
            count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM transactions WHERE NOT is_return AND ts <= TIMESTAMP '2011-12-08 10:00:00'))::INTEGER AS unseen
     FROM predictions WHERE model_version = '${morning.json<TrainReport>().modelVersion}'`,
  )).getRowObjectsJS();
  db.closeSync();
  instance.closeSync(); // the next floyo command needs the warehouse
  assert.deepEqual(counts, { late: 0, unseen: 0 }, 'only customers with a purchase by 10:00 are scored');
  const empty = await floyo(['train', '--home', tempDir()]);
  assert.equal(empty.code, 1, 'nothing ingested yet: nothing to train on');
  assert.match(empty.stderr, /^floyo: the warehouse .* holds no transactions/);
  const short = await floyo(['train', '--home', home, '--horizon-days', '200']);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /too short for a 200-day horizon/);
});

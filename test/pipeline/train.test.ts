// floyo train end to end on the committed UCI fixture: the report, the published version, the stored predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { TrainReport } from '../../src/cli/train.js';
import { loadConfig } from '../../src/config.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { csrFromTriplets } from '../../src/ml/sparse.js';
import { train, tuningSample, type TrainProgress } from '../../src/pipeline/train.js';

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
  assert.deepEqual(t.tuning, { customers: 91, of: 91, evaluatedUsers: 40 }, 'hyperparameters chosen on every customer at V: fewer than tuning.maxCustomers');
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

  const instance = await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' });
  const db = await instance.connect();
  const rows = (await db.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(DISTINCT model_version)::INTEGER AS versions FROM predictions`)).getRowObjectsJS();
  db.closeSync();
  instance.closeSync(); // not left to the garbage collector, holding the file for later commands

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
  // a time of day: that afternoon's orders are not in the past yet (customer 14569 first buys at 14:58).
  // Customers first seen later keep their rows as of 2011-12-31: refused, as floyo score refuses it,
  // before anything is published, unless --allow-older
  // looking back to 10:00 leaves the rest of that day out of the labels: on 139 customers the CV ROC-AUC
  // moves more than the gate's 0.02, and the gate is not what this tests
  const env = { FLOYO_CHURN_MAX_AUC_DROP: '1' };
  const refused = await floyo(['train', '--home', home, '--now', '2011-12-08T10:00:00Z', '--json', '-q'], { env });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^floyo: --now 2011-12-08T10:00:00Z .* is earlier than the stored predictions \(scored as of up to 2011-12-31T23:59:59Z\): \d+ of them, .*nothing was published or written \(pass --allow-older/);
  const listed = await floyo(['models', 'list', '--home', home, '--json']);
  assert.equal(listed.json<{ versions: unknown[] }>().versions.length, 1, 'the refused train published no version');
  const morning = await floyo(['train', '--home', home, '--now', '2011-12-08T10:00:00Z', '--allow-older', '--json', '-q'], { env });
  assert.equal(morning.code, 0, morning.stderr);
  const m = morning.json<TrainReport>();
  assert.equal(m.scoredAsOf, '2011-12-08T10:00:00Z');
  assert.ok(m.notRescored > 0, 'the rows left at the later time are reported');
  assert.deepEqual(m.notRescoredBy.map((g) => [g.modelVersion, g.scoredAt, g.customers]), [[r.json<TrainReport>().modelVersion, '2011-12-31T23:59:59Z', m.notRescored]]);
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
  const nowhere = tempDir();
  const empty = await floyo(['train', '--home', nowhere]);
  assert.equal(empty.code, 1, 'nothing ingested yet: nothing to train on');
  assert.match(empty.stderr, /^floyo: .* holds no transactions \(no warehouse there; --home, FLOYO_HOME or home in the config\): give --data or run `floyo ingest` first/);
  assert.deepEqual(readdirSync(nowhere), [], 'and it makes no warehouse there');
  const short = await floyo(['train', '--home', home, '--horizon-days', '200']);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /too short for a 200-day horizon/);
});

test('progress names each of the twelve stages in order, and says how far the long ones are', async () => {
  const home = tempDir();
  assert.equal((await floyo(['ingest', FIXTURE, '--home', home, '-q'])).code, 0);
  const { config } = loadConfig({ env: {}, flags: { home } });
  const warehouse = await Warehouse.open(home, 'train progress test');
  const seen: TrainProgress[] = [];
  try {
    await train(warehouse, { horizonDays: 90, seed: 0, config, onProgress: (p) => seen.push(p) });
  } finally {
    warehouse.close();
  }
  assert.ok(seen.every((p) => p.total === 12), 'one total throughout');
  seen.forEach((p, i) => assert.ok(i === 0 || p.done >= seen[i - 1].done, `stages never go back: ${JSON.stringify(seen.slice(i - 1, i + 1))}`));
  // each stage announces itself (no detail) before it reports details
  const starts = seen.filter((p) => !p.what.includes(': '));
  assert.deepEqual(starts.map((p) => p.done), [...Array(12).keys()]);
  assert.deepEqual(starts.map((p) => p.what.replace(/\d[\d,]*/g, 'N')), [
    'features as of N-N-N', 'segments of N customers', 'churn regularisation by N-fold CV', 'recommender choice (ALS settings against popularity)',
    'features as of N-N-N', 'churn evaluation', 'recommendations evaluation',
    'churn refit on every labelled customer', 'features as of N-N-N', 'segments (k = N)', 'ALS refit on all the data', 'scoring N customers',
  ]);
  const details = seen.map((p) => p.what);
  for (const detail of [
    'segments of 91 customers: k = 4', 'segments of 91 customers: k = 8', 'churn regularisation by 5-fold CV: fold 5/5',
    'recommender choice (ALS settings against popularity): setting 3/3, 15/15 iterations done', 'churn evaluation: fold 1/5',
    'recommendations evaluation: 1/15 iterations done', 'ALS refit on all the data: exact user step',
  ]) assert.ok(details.includes(detail), `${detail} in ${details.join(' | ')}`);
});

test('tuningSample: at most max customers, the churn rate kept, each sampled row carrying its own features, purchases and holdout', () => {
  const n = 5000;
  const rng = createRng(7);
  const churned = Uint8Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  // row i's feature and purchases encode i, so a mixed-up row shows
  const features = matrix(n, 2, Float64Array.from({ length: 2 * n }, (_, k) => (k % 2 ? churned[k >> 1] : k >> 1)));
  const interactions = csrFromTriplets(n, 50, Array.from({ length: n }, (_, i) => i), Array.from({ length: n }, (_, i) => i % 50), Array.from({ length: n }, (_, i) => i));
  const holdoutUsers = Int32Array.from({ length: n / 10 }, (_, k) => 10 * k);
  const holdout = { users: holdoutUsers, items: Array.from(holdoutUsers, (u) => Int32Array.of((u + 1) % 50)) };
  const s = { customers: { features, churned }, interactions: { matrix: interactions }, holdout };

  assert.equal(tuningSample(s, n, 0).features, features, 'no more than max: everyone, as they are');
  const t = tuningSample(s, 1000, 0);
  assert.equal(t.churned.length, 1000);
  const rate = (y: Uint8Array) => y.reduce((a, b) => a + b, 0) / y.length;
  assert.ok(Math.abs(rate(t.churned) - rate(churned)) < 0.001, `${rate(t.churned)} vs ${rate(churned)}`);
  const ids = Array.from({ length: 1000 }, (_, k) => t.features.data[2 * k]);
  assert.equal(new Set(ids).size, 1000, 'no customer twice');
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'rows keep their order');
  ids.forEach((id, k) => {
    assert.equal(t.churned[k], churned[id]);
    assert.equal(t.features.data[2 * k + 1], churned[id]);
    assert.deepEqual([...t.interactions.data.subarray(t.interactions.indptr[k], t.interactions.indptr[k + 1])], [id]);
  });
  assert.deepEqual(Array.from(t.holdout.users, (u) => ids[u]), ids.filter((id) => id % 10 === 0), 'the sampled holdout customers, renumbered');
  t.holdout.users.forEach((u, k) => assert.deepEqual([...t.holdout.items[k]], [(ids[u] + 1) % 50]));
  assert.deepEqual(tuningSample(s, 1000, 0).features.data, t.features.data, 'seeded');
  assert.notDeepEqual(tuningSample(s, 1000, 1).features.data, t.features.data);
});

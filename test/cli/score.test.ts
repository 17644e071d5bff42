// floyo score through the CLI: it reproduces what floyo train stored, brings in transactions ingested since
// training without retraining, and its ALS path (fold-in from current purchases) recommends nothing bought.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { ScoreReport } from '../../src/cli/score.js';
import type { TrainReport } from '../../src/cli/train.js';
import { loadConfig } from '../../src/config.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { recommend } from '../../src/ml/als.js';
import { defaultRegistryLocation, openRegistry } from '../../src/models/registry.js';
import { scoreWithVersion } from '../../src/pipeline/score.js';
import { loadServing } from '../../src/pipeline/serving.js';

const SPLIT = '2011-11-15';

interface StoredRow {
  customer_id: string;
  segment: string;
  rf_cell: string;
  churn_probability: number;
  churn_reasons: string;
  recommendations: string;
  model_version: string;
}

async function storedPredictions(home: string): Promise<Map<string, StoredRow>> {
  const db = await DuckDBInstance.create(join(home, 'warehouse.duckdb'));
  const connection = await db.connect();
  try {
    const rows = (await connection.runAndReadAll(
      'SELECT customer_id, segment, rf_cell, churn_probability, churn_reasons, recommendations, model_version FROM predictions',
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

  test('after new transactions are ingested, every customer is scored as of the new data, new customers included', async () => {
    const before = await storedPredictions(home);
    const ingest = await floyo(['ingest', lateFile, '--home', home, '--json', '-q']);
    assert.equal(ingest.code, 0, ingest.stderr);
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
    const text = await floyo(['score', '--home', home]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^scored ${after.size} customers with model version ${trained.modelVersion} as of 2011-12-08T14:58:00Z \\(0 moved segment\\)\n`));
    assert.match(text.stdout, /segment +customers +high churn risk/);
  });

  test('with ALS served, each customer is folded in from their purchases now: unchanged customers get exactly the published vectors\' top 10', async () => {
    const { config } = loadConfig({ env: {}, flags: { home } });
    const registry = openRegistry(defaultRegistryLocation(home), config.s3);
    const warehouse = await Warehouse.open(home, 'score test');
    try {
      // train published the final ALS model after an exact user half-step, which fold-in reproduces
      const models = { ...(await loadServing(registry)), served: 'als' as const };
      const exclude = [models.products.ids[0]];
      const { scored } = await scoreWithVersion(warehouse, models, { now: trained.scoredAsOf, horizonDays: 90, exclude });
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
    } finally {
      warehouse.close();
      registry.close();
    }
  });

  test('--now before the first transaction is refused in one line that names --now', async () => {
    const r = await floyo(['score', '--home', home, '--now', '2001-01-01']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^floyo: --now 2001-01-01 is before the first transaction \(2010-12-01\)[^\n]*\n$/);
  });

  test('with no model version yet it says to train first, and creates nothing in the home', async () => {
    const empty = tempDir();
    const r = await floyo(['score', '--home', empty]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^floyo: no model versions yet; run floyo train \(registry: .*\)\n$/);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(empty), [], 'no warehouse, no registry folder');
  });
});

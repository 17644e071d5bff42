import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { floyo, tempDir, FIXTURES } from '../support/cli.js';
import type { FeatureSummary } from '../../src/features/build.js';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

// Cutoff 2011-03-31, horizon 30 days → window 2011-04-01 .. 2011-04-30.
const LINES = [
  // customer A: two orders before the cutoff (one on the cutoff day itself, 23:59), buys again in the window
  '1,10001,P1,2,2011-01-01 10:00:00,5,A,UK',
  '1,10002,P2,1,2011-01-01 10:00:00,10,A,UK',
  '2,10001,P1,1,2011-03-31 23:59:00,5,A,UK',
  'C3,10002,P2,-1,2011-03-15 09:00:00,10,A,UK', // returns P2
  '4,10003,P3,1,2011-04-10 10:00:00,7,A,UK', // window: a new product for A → holdout
  '4,10001,P1,1,2011-04-10 10:00:00,5,A,UK', // window: P1 already bought → not holdout
  '4,10009,P9,1,2011-04-10 10:00:00,3,A,UK', // window: P9 never seen in the past → dropped from holdout
  // customer B: one order, nothing after → churned
  '5,10003,P3,4,2011-02-01 10:00:00,7,B,UK',
  // customer C: first purchase after the cutoff → not a customer as of the cutoff
  '6,10001,P1,1,2011-04-02 10:00:00,5,C,UK',
  // customer D: buys only after the window → churned (the window is (cutoff, cutoff + 30])
  '7,10001,P1,1,2011-03-01 10:00:00,5,D,UK',
  '8,10001,P1,1,2011-05-01 00:00:00,5,D,UK',
  // customer E: bought P2 before the retention lag date (cutoff − 60 days = 2011-01-31) and never came back
  '10,10002,P2,1,2011-01-10 10:00:00,10,E,UK',
  // anonymous line: never a customer
  '9,10001,P1,1,2011-02-01 10:00:00,5,,UK',
];

async function features(home: string, args: string[]) {
  const r = await floyo(['features', '--home', home, '--json', '-q', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.json<FeatureSummary>();
}

test('features as of a cutoff: the cutoff day is past, labels look only at the window, holdout rules hold', async () => {
  const home = tempDir();
  const file = join(tempDir(), 'tx.csv');
  writeFileSync(file, [HEADER, ...LINES].join('\n') + '\n');
  const ing = await floyo(['ingest', file, '--home', home, '-q']);
  assert.equal(ing.code, 0, ing.stderr);
  const out = join(tempDir(), 'f.csv');
  const s = await features(home, ['--as-of', '2011-03-31', '--horizon-days', '30', '--out', out, '--holdout', join(tempDir(), 'h.parquet')]);
  assert.equal(s.cutoff, '2011-03-31');
  assert.deepEqual(s.window, { from: '2011-04-01', to: '2011-04-30' });
  assert.equal(s.customers, 4); // A, B, D, E
  assert.equal(s.churned, 3); // B, D, E
  assert.deepEqual(s.holdout, { pairs: 1, users: 1, droppedNewItems: 1 });
  assert.equal(s.interactions.pairs, 5); // A×P1, A×P2, B×P3, D×P1, E×P2; no anonymous pairs
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const rows = (await db.runAndReadAll(`SELECT * FROM read_csv('${out}') ORDER BY customer_id`))
    .getRowObjectsJS()
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  const a = rows[0];
  assert.equal(a.customer_id, 'A');
  assert.equal(a.recency_days, 0); // last purchase on the cutoff day
  assert.equal(a.frequency, 2); // the credit note is not a purchase
  assert.equal(a.monetary, 20 - 10 + 5); // 2×5 + 10, minus the return of 10, plus 5
  assert.equal(a.tenure_days, 89);
  assert.equal(a.avg_order_value, (20 + 5) / 2);
  assert.equal(a.distinct_products, 2);
  assert.equal(a.returns_rate, 10 / 25);
  assert.equal(a.churned, 0);
  assert.equal(rows[1].customer_id, 'B');
  assert.equal(rows[1].churned, 1);
  assert.equal(rows[1].mean_days_between_orders, null);
  // counts and days are written as the whole numbers they are (the tables hold them as DOUBLE for the models)
  const [head, first] = readFileSync(out, 'utf8').split('\n');
  const cell = (name: string) => first.split(',')[head.split(',').indexOf(name)];
  assert.deepEqual([cell('customer_id'), cell('frequency'), cell('recency_days'), cell('tenure_days'), cell('distinct_products')], ['A', '2', '0', '89', '2']);
  assert.equal(rows[2].customer_id, 'D');
  assert.equal(rows[2].churned, 1);
  assert.equal(a.last_order_lines, 1); // order 2; order 1 had two lines
  assert.equal(a.credit_notes, 1); // C3
  // last_basket_retention: of the buyers before 2011-01-31 (A, E) only A came back: the shop's rate is
  // 1/2. P1: 1 buyer who came back → (1 + 10·½)/(1 + 10) = 6/11; P2: 2 buyers, 1 back → (1 + 5)/12 = ½;
  // P3 was first sold after the lag date → the shop's rate.
  const retention = Object.fromEntries(rows.map((r) => [r.customer_id, r.last_basket_retention as number]));
  for (const [id, want] of Object.entries({ A: 6 / 11, B: 0.5, D: 6 / 11, E: 0.5 })) {
    assert.ok(Math.abs(retention[id] - want) < 1e-12, `${id}: ${retention[id]} vs ${want}`);
  }
  assert.equal(rows[3].customer_id, 'E');
  assert.equal(rows[3].credit_notes, 0);
  db.closeSync();
});

test('default cutoff is the last purchase\'s date minus the horizon; a cutoff too late is flagged as incomplete labels', async () => {
  const home = tempDir();
  assert.equal((await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '-q'])).code, 0);
  const s = await features(home, []);
  assert.equal(s.dataTo, '2011-12-08'); // the fixture's last line
  assert.equal(s.cutoff, '2011-09-09'); // 90 days earlier
  assert.equal(s.horizonDays, 90);
  assert.equal(s.labelsComplete, true);
  assert.ok(s.customers > 100 && s.churned > 0 && s.churned < s.customers);
  const late = await features(home, ['--as-of', '2011-11-30']);
  assert.equal(late.labelsComplete, false);
  // said as every warning is: on stderr, stdout keeping the report
  const lateText = await floyo(['features', '--home', home, '--as-of', '2011-11-30']);
  assert.equal(lateText.code, 0, lateText.stderr);
  assert.equal(lateText.stderr, 'floyo: warning: the data\'s last purchase (2011-12-08) is before the window ends; churn labels overstate churn\n');
  assert.doesNotMatch(lateText.stdout, /warning/);
  // an export it cannot write is refused before anything is computed: not even a missing home is looked at
  const xlsx = await floyo(['features', '--home', join(tempDir(), 'none'), '--out', 'features.xlsx']);
  assert.equal(xlsx.code, 2, xlsx.stderr);
  assert.equal(xlsx.stderr, 'floyo: cannot tell the format of features.xlsx: name it .parquet or .csv\n');
  const early = await floyo(['features', '--home', home, '--as-of', '2009-01-01']);
  assert.equal(early.code, 2);
  assert.match(early.stderr, /before the first transaction/);
  const bad = await floyo(['features', '--home', home, '--as-of', '31/12/2011']);
  assert.match(bad.stderr, /--as-of must be a date YYYY-MM-DD/);
  const fresh = tempDir();
  const empty = await floyo(['features', '--home', fresh]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^floyo: no transactions in .* yet: run `floyo ingest` first\n$/);
  assert.deepEqual(readdirSync(fresh), [], 'a fresh home stays empty');

  // a stray credit note long after the last sale is not a purchase: the cutoff stays with the sales
  const stray = join(tempDir(), 'stray-return.csv');
  writeFileSync(stray, `${HEADER}\nC999999,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-1,2013-04-01 10:00:00,2.55,17850,United Kingdom\n`);
  assert.equal((await floyo(['ingest', stray, '--home', home, '-q'])).code, 0);
  const after = await features(home, []);
  assert.equal(after.dataTo, '2013-04-01');
  assert.equal(after.lastPurchase, '2011-12-08');
  assert.equal(after.cutoff, '2011-09-09');
  assert.equal(after.labelsComplete, true);
});

test('features never look past the cutoff: changing only the future leaves them unchanged', async () => {
  const base = [HEADER, ...LINES];
  const changed = [...base, '99,10001,P1,50,2011-04-05 10:00:00,100,B,UK', '98,10005,P5,1,2011-04-20 10:00:00,1,D,UK'];
  const results = [];
  for (const lines of [base, changed]) {
    const home = tempDir();
    const file = join(tempDir(), 'tx.csv');
    writeFileSync(file, lines.join('\n') + '\n');
    await floyo(['ingest', file, '--home', home, '-q']);
    const out = join(tempDir(), 'f.csv');
    await features(home, ['--as-of', '2011-03-31', '--horizon-days', '30', '--out', out]);
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    results.push((await db.runAndReadAll(`SELECT * EXCLUDE (churned) FROM read_csv('${out}') ORDER BY customer_id`)).getRowObjectsJson());
    db.closeSync();
  }
  assert.deepEqual(results[1], results[0]);
});

test('features.exchangeRates adds the spend of several currencies in one; a currency without a rate is refused', async () => {
  const home = tempDir();
  const dir = tempDir();
  const file = join(dir, 'tx.csv');
  // the same basket bought in GBP by A and in EUR (written in lower case) by B, and a guest's line in USD
  writeFileSync(file, [
    'order,customer,product,quantity,price,time,currency',
    '1,A,P1,2,10,2011-01-01 10:00:00,GBP',
    '2,B,P1,2,10,2011-01-02 10:00:00,eur',
    '3,B,P2,1,5,2011-01-03 10:00:00,eur',
    '4,,P2,1,5,2011-01-04 10:00:00,USD',
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'm.yaml'), 'columns: { orderId: order, customerId: customer, productId: product, quantity: quantity, unitPrice: price, timestamp: time, currency: currency }\n');
  assert.equal((await floyo(['ingest', file, '--mapping', join(dir, 'm.yaml'), '--home', home, '-q'])).code, 0);
  const monetary = async (env: Record<string, string>) => {
    const out = join(tempDir(), 'f.csv');
    const r = await floyo(['features', '--home', home, '-q', '--as-of', '2011-01-31', '--horizon-days', '30', '--out', out], { env });
    assert.equal(r.code, 0, r.stderr);
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const rows = (await db.runAndReadAll(`SELECT customer_id, monetary, avg_order_value FROM read_csv('${out}') ORDER BY customer_id`)).getRowObjectsJS();
    return rows.map((x) => [x.customer_id, Number(x.monetary), Number(x.avg_order_value)]);
  };
  assert.deepEqual(await monetary({}), [['A', 20, 20], ['B', 25, 12.5]], 'as they are, without rates');
  assert.deepEqual(await monetary({ FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1,"EUR":0.8,"usd":0.7}' }), [['A', 20, 20], ['B', 20, 10]]);
  const missing = await floyo(['features', '--home', home, '-q', '--as-of', '2011-01-31'], { env: { FLOYO_FEATURES_EXCHANGE_RATES: '{"GBP":1}' } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /features\.exchangeRates has no rate for 2 currencies of the data: "eur" \(2 lines\), "USD" \(1 line\); give each a rate to the currency of rate 1 \(rates now: GBP 1\)/);
  // a config file writes them as a map; a code that is not one is refused naming the setting
  writeFileSync(join(dir, 'floyo.config.yaml'), 'features:\n  exchangeRates: { GBP: 1, EUR: 0.8, USD: 0.7 }\n');
  const config = await floyo(['config', '--home', home, '--config', join(dir, 'floyo.config.yaml'), '--json']);
  assert.equal(config.code, 0, config.stderr);
  assert.match(config.stdout, /"GBP": 1,\s*"EUR": 0\.8,\s*"USD": 0\.7/);
  writeFileSync(join(dir, 'bad.yaml'), 'features:\n  exchangeRates: { Pound: 1 }\n');
  const bad = await floyo(['features', '--home', home, '--config', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /features\.exchangeRates\.Pound.*a currency is a three-letter code such as EUR/);
});

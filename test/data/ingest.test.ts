// End to end through the CLI: every row is accounted for, bad input gets a clear error or a quarantined row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';
import { assertErrorStdout, floyo, tempDir, FIXTURES, SHARED_DATASETS } from '../support/cli.js';
import type { IngestSummary } from '../../src/data/ingest.js';
import { withHomeLock } from '../../src/data/warehouse.js';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

async function ingestJson(home: string, args: string[], env: Record<string, string> = {}) {
  const r = await floyo(['ingest', ...args, '--home', home, '--json', '-q'], { env });
  return { r, s: r.json<IngestSummary>() };
}

function reconciles(s: IngestSummary) {
  assert.equal(s.rowsRead, s.rowsAccepted + s.rowsQuarantined + s.rowsExcluded, 'rows read = accepted + quarantined + excluded');
  for (const src of s.sources) assert.equal(src.rowsRead, src.rowsAccepted + src.rowsQuarantined + src.rowsExcluded, src.location);
  const q = Object.values(s.quarantinedByReason).reduce((a, b) => a + b, 0);
  const e = Object.values(s.excludedByReason).reduce((a, b) => a + b, 0);
  assert.equal(q, s.rowsQuarantined);
  assert.equal(e, s.rowsExcluded);
}

test('the committed UCI fixture: every row accounted for; returns kept; postage and adjustments excluded', async () => {
  const home = tempDir();
  const { r, s } = await ingestJson(home, [join(FIXTURES, 'online_retail_sample.csv')]);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.equal(s.rowsRead, 12303);
  assert.equal(s.rowsQuarantined, 0);
  assert.ok(s.excludedByReason['non-product code'] > 0);
  assert.equal(s.excludedByReason['stock adjustment'], 24); // counted in the fixture: not a credit note, quantity < 0, price 0
  assert.equal(s.sources[0].status, 'ingested');
  assert.match(s.sources[0].fingerprint!, /^[0-9a-f]{16}$/);
  assert.equal(s.warehouse.rows, s.rowsAccepted);
  // cancellations are kept as returns with negative quantities
  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const rows = (await db.runAndReadAll(`SELECT count(*) FILTER (WHERE is_return) AS r, count(*) FILTER (WHERE is_return AND quantity >= 0) AS bad,
    count(*) FILTER (WHERE order_id LIKE 'C%' AND NOT is_return) AS c, min(row_number) AS first_row FROM transactions`)).getRowObjectsJS()[0];
  assert.ok(Number(rows.r) > 200);
  assert.equal(Number(rows.bad), 0);
  assert.equal(Number(rows.c), 0);
  assert.equal(Number(rows.first_row), 1);
  db.closeSync();
});

test('the same file twice adds nothing; a copy under another name is recognised; a new file appends', async () => {
  const home = tempDir();
  const dir = tempDir();
  const a = join(dir, 'a.csv');
  writeFileSync(a, `${HEADER}\n536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n`);
  const first = await ingestJson(home, [a]);
  assert.equal(first.s.rowsAccepted, 2);
  const again = await ingestJson(home, [a]);
  assert.equal(again.s.sources[0].status, 'already ingested');
  assert.equal(again.s.rowsRead, 0);
  assert.equal(again.s.warehouse.rows, 2);
  copyFileSync(a, join(dir, 'copy.csv'));
  const copy = await ingestJson(home, [join(dir, 'copy.csv')]);
  assert.equal(copy.s.sources[0].status, 'already ingested');
  assert.equal(copy.s.sources[0].firstIngestedFrom, a);
  const b = join(dir, 'b.csv');
  writeFileSync(b, `${HEADER}\n536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n`);
  const next = await ingestJson(home, [b]);
  assert.equal(next.s.rowsAccepted, 2, 'identical lines are both kept: rows are never deduplicated by content');
  assert.equal(next.s.warehouse.rows, 4);
});

test('an order that arrives again from a later source replaces its earlier lines, and the summary says so', async () => {
  const home = tempDir();
  const dir = tempDir();
  writeFileSync(join(dir, 'day.csv'), `${HEADER}\n1001,10001,A,1,2011-01-01 10:00:00,5,42,UK\n1001,10002,B,1,2011-01-01 10:00:00,5,42,UK\n1002,10001,A,2,2011-01-01 11:00:00,5,43,UK\n`);
  await ingestJson(home, [join(dir, 'day.csv')]);
  writeFileSync(join(dir, 'nightly.csv'), `${HEADER}\n1001,10001,A,1,2011-01-01 10:00:00,5,42,UK\n1001,10002,B,1,2011-01-01 10:00:00,5,42,UK\n1001,10003,C,3,2011-01-01 10:00:00,5,42,UK\n1003,10004,D,1,2011-01-02 09:00:00,7,44,UK\n`);
  const { s } = await ingestJson(home, [join(dir, 'nightly.csv')]);
  assert.equal(s.ordersReplaced, 1);
  assert.equal(s.linesReplaced, 2);
  assert.equal(s.warehouse.rows, 5, 'order 1001 now has the 3 nightly lines, plus 1002 and 1003');
  assert.equal(s.warehouse.orders, 3);
});

test('order ids that name several orders (receipts numbered again each day) are refused, within a file and against an earlier one: nothing merges, nothing is deleted', async () => {
  const home = tempDir();
  const dir = tempDir();
  // receipt 1 of two days, and of two customers: one id, two orders
  writeFileSync(join(dir, 'pos.csv'), `${HEADER}\n1,10001,A,1,2011-01-01 10:00:00,5,42,UK\n2,10002,B,1,2011-01-01 11:00:00,5,43,UK\n1,10003,C,1,2011-01-02 09:00:00,5,44,UK\n`);
  const within = await ingestJson(home, [join(dir, 'pos.csv')]);
  assert.equal(within.r.code, 2);
  assert.equal(within.s.sources[0].status, 'failed');
  assert.match(within.s.sources[0].error!, /pos\.csv: 1 of its 2 order ids name several orders: lines of other customers, or bought on days far apart \(order "1": .*pos\.csv row 1: 2011-01-01, customer "42"; .*pos\.csv row 3: 2011-01-02, customer "44"\)\. Floyo takes the lines of one order id as one order\. If the numbers restart .* orderId: \{ columns: \[<date column>, <receipt column>\] \}/);
  assert.equal(within.s.warehouse.rows, 0);
  // a guest's line first: the quote also shows the first customer's, which the other customer's differs from
  writeFileSync(join(dir, 'guest-first.csv'), `${HEADER}\n7,10001,A,1,2011-01-01 10:00:00,5,,UK\n7,10002,B,1,2011-01-01 10:00:00,5,42,UK\n7,10003,C,1,2011-01-01 10:05:00,5,44,UK\n`);
  const guestFirst = await ingestJson(home, [join(dir, 'guest-first.csv')]);
  assert.equal(guestFirst.r.code, 2);
  assert.match(guestFirst.s.sources[0].error!, /order "7": .*guest-first\.csv row 1: 2011-01-01, a guest; .*guest-first\.csv row 2: 2011-01-01, customer "42"; .*guest-first\.csv row 3: 2011-01-01, customer "44"\)/);
  // a day's file at a time: the second day's receipt 1 is not a correction of the first day's
  writeFileSync(join(dir, 'day1.csv'), `${HEADER}\n1,10001,A,1,2011-01-01 10:00:00,5,42,UK\n1,10002,B,2,2011-01-01 10:00:00,5,42,UK\n2,10002,B,1,2011-01-01 11:00:00,5,43,UK\n`);
  writeFileSync(join(dir, 'day2.csv'), `${HEADER}\n1,10003,C,1,2011-01-02 09:00:00,5,44,UK\n`);
  assert.equal((await ingestJson(home, [join(dir, 'day1.csv')])).r.code, 0);
  const across = await ingestJson(home, [join(dir, 'day2.csv')]);
  assert.equal(across.r.code, 2);
  assert.match(across.s.sources[0].error!, /day2\.csv: 1 of its order ids are those of other orders already ingested, on another day or of another customer at another time \(order "1": .*day1\.csv row 1: 2011-01-01, customer "42"; .*day2\.csv row 1: 2011-01-02, customer "44"\)\. .*which would delete 2 lines of those orders\./);
  assert.equal(across.s.warehouse.rows, 3, "day 1's lines are all there");
  // the same when the later receipt 1 holds only an excluded line (postage): it would delete day 1's order as well
  writeFileSync(join(dir, 'day5.csv'), `${HEADER}\n1,POST,POSTAGE,1,2011-01-05 09:00:00,18,44,UK\n`);
  const postage = await ingestJson(home, [join(dir, 'day5.csv')]);
  assert.equal(postage.r.code, 2);
  assert.match(postage.s.sources[0].error!, /order "1": .*day1\.csv row 1: 2011-01-01, customer "42"; .*day5\.csv row 1: 2011-01-05 \(excluded\), customer "44"\)/);
  assert.equal(postage.s.warehouse.rows, 3);
  // a corrected export of the same order (same customer and day, a line added, a return days later) still replaces it
  writeFileSync(join(dir, 'fixed.csv'), `${HEADER}\n1,10001,A,1,2011-01-01 10:00:00,5,42,UK\n1,10002,B,2,2011-01-01 10:00:00,5,42,UK\n1,10004,D,1,2011-01-01 10:05:00,5,42,UK\n1,10004,D,-1,2011-01-09 10:00:00,5,42,UK\n`);
  const fixed = await ingestJson(home, [join(dir, 'fixed.csv')]);
  assert.equal(fixed.r.code, 0, fixed.r.stderr);
  assert.equal(fixed.s.ordersReplaced, 1);
  assert.equal(fixed.s.warehouse.rows, 5);
  // so does one whose customer id was fixed (the same order, at the same time); another till's receipt 2 does not
  writeFileSync(join(dir, 'recoded.csv'), `${HEADER}\n2,10002,B,1,2011-01-01 11:00:00,5,C-43,UK\n`);
  const recoded = await ingestJson(home, [join(dir, 'recoded.csv')]);
  assert.equal(recoded.r.code, 0, recoded.r.stderr);
  assert.equal(recoded.s.ordersReplaced, 1);
  writeFileSync(join(dir, 'till2.csv'), `${HEADER}\n2,10003,C,1,2011-01-01 15:30:00,5,45,UK\n`);
  const till = await ingestJson(home, [join(dir, 'till2.csv')]);
  assert.equal(till.r.code, 2);
  assert.match(till.s.sources[0].error!, /order "2": .*recoded\.csv row 1: 2011-01-01, customer "C-43"; .*till2\.csv row 1: 2011-01-01, customer "45"/);
});

test('an order a later source excludes (voided since) loses its earlier lines too', async () => {
  const home = tempDir();
  const dir = tempDir();
  const header = 'Name,Email,Financial Status,Currency,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Country,Refunded Amount,Cancelled at';
  writeFileSync(join(dir, 'monday.csv'), [
    header,
    '#1,ann@example.com,paid,EUR,2025-05-11 09:55:16 -0400,1,Board,300.00,B-1,DE,0.00,',
    '#1,ann@example.com,,,2025-05-11 09:55:16 -0400,2,Wax,25.00,W-1,,,',
    '#2,bob@example.com,paid,EUR,2025-05-11 10:00:00 -0400,1,Board,300.00,B-1,FR,0.00,',
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'tuesday.csv'), [header, '#1,ann@example.com,voided,EUR,2025-05-11 09:55:16 -0400,1,Board,300.00,B-1,DE,0.00,'].join('\n') + '\n');
  await ingestJson(home, [join(dir, 'monday.csv'), '--preset', 'shopify']);
  const { r, s } = await ingestJson(home, [join(dir, 'tuesday.csv'), '--preset', 'shopify']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.excludedByReason, { 'voided order': 1 });
  assert.equal(s.ordersReplaced, 1);
  assert.equal(s.linesReplaced, 2);
  assert.equal(s.warehouse.orders, 1, 'only #2 is left');
  assert.equal(s.warehouse.rows, 1);
});

test('a source none of whose rows can be used fails and is not recorded; --replace ingests a file again after a mapping fix', async () => {
  const home = tempDir();
  const dir = tempDir();
  // auto reads ISO, and cannot tell day from month in 1/2/2011
  writeFileSync(join(dir, 'day-first.csv'), `${HEADER}\n1,10001,A,1,13/2/2011 10:00,5,42,UK\n2,10002,B,1,13/2/2011 11:00,5,43,UK\n3,POST,Postage,1,13/2/2011 11:00,5,43,UK\n`);
  const failed = await ingestJson(home, [join(dir, 'day-first.csv')]);
  assert.equal(failed.r.code, 2);
  assert.equal(failed.s.sources[0].status, 'failed');
  assert.match(failed.s.sources[0].error!,
    /day-first\.csv: no row could be used: 2 of 3 quarantined \(not a timestamp \(set timestamp\.format: D\/M\/YYYY H:mm\): timestamp \(2, e\.g\. "13\/2\/2011 10:00"\)\), 1 excluded\. The mapping \(preset online-retail\) probably does not fit this file/);
  assert.equal(failed.s.warehouse.rows, 0);
  // under --json the failure is also the report's `error`, with the message stderr prints
  assertErrorStdout(failed.r);
  assert.equal(failed.r.json<{ error: { file: string } }>().error.file, join(dir, 'day-first.csv'));
  writeFileSync(join(dir, 'empty.csv'), '');
  const two = await floyo(['ingest', join(dir, 'day-first.csv'), join(dir, 'empty.csv'), '--home', home, '--json', '-q']);
  assert.equal(two.code, 2);
  assertErrorStdout(two);
  assert.match(two.json<{ error: { message: string } }>().error.message, /^2 sources failed, nothing from them was ingested:\n {2}\S+day-first\.csv: no row could be used: .*\n {2}\S+empty\.csv: the file is empty/);
  const human = await floyo(['ingest', join(dir, 'day-first.csv'), '--home', home, '-q']);
  assert.match(human.stderr, /^floyo: failed \S+day-first\.csv: no row could be used: .* — nothing from it was ingested\n$/, 'the file is named once');

  writeFileSync(join(dir, 'mixed.csv'), `${HEADER}\n1,10001,A,1,2011-01-01 10:00:00,5,42,UK\n2,10002,B,1,1/2/2011 10:00,5,43,UK\n3,10003,C,2,1/2/2011 12:00,5,44,UK\n`);
  const first = await ingestJson(home, [join(dir, 'mixed.csv')]);
  assert.equal(first.s.rowsAccepted, 1);
  assert.equal(first.s.quarantinedByReason['not a timestamp (set timestamp.format: M/D/YYYY H:mm or D/M/YYYY H:mm): timestamp'], 2);
  const again = await floyo(['ingest', join(dir, 'mixed.csv'), '--home', home, '-q']);
  assert.match(again.stdout, /skipped \S+mixed\.csv: already ingested; --replace ingests it again/);
  // a --replace that fails replaces nothing, and says nothing was
  writeFileSync(join(dir, 'wrong.yaml'), 'columns: { orderId: Order, customerId: CustomerID, productId: StockCode, quantity: Quantity, unitPrice: UnitPrice, timestamp: InvoiceDate }');
  const badReplace = await floyo(['ingest', join(dir, 'mixed.csv'), '--mapping', join(dir, 'wrong.yaml'), '--replace', '--home', home]);
  assert.equal(badReplace.code, 2);
  assert.doesNotMatch(badReplace.stdout, /re-ingested/);
  assert.match(badReplace.stdout, /warehouse \S+: 1 line,/, 'the earlier ingest stands');
  writeFileSync(join(dir, 'day-first.yaml'), [
    'columns: { orderId: InvoiceNo, customerId: CustomerID, productId: StockCode, quantity: Quantity, unitPrice: UnitPrice, timestamp: InvoiceDate }',
    'timestamp: { format: "D/M/YYYY H:mm" }',
  ].join('\n'));
  const { r, s } = await ingestJson(home, [join(dir, 'mixed.csv'), '--mapping', join(dir, 'day-first.yaml'), '--replace']);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.equal(s.sources[0].reingested, true);
  assert.equal(s.rowsAccepted, 2, 'the day-first rows now read; the ISO one does not fit this pattern');
  assert.equal(s.linesReplaced, 1, "the earlier ingest's one line");
  assert.equal(s.warehouse.rows, 2, 'the earlier ingest is gone, not added to');
  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const [src] = (await db.runAndReadAll(`SELECT count(*)::INT AS n, max(rows_accepted)::INT AS accepted FROM sources`)).getRowObjectsJS();
  const dates = (await db.runAndReadAll(`SELECT strftime(ts, '%Y-%m-%d') AS d FROM transactions ORDER BY order_id`)).getRowObjectsJS().map((x) => x.d);
  db.closeSync();
  assert.deepEqual(src, { n: 1, accepted: 2 });
  assert.deepEqual(dates, ['2011-02-01', '2011-02-01']);
});

test('bad rows are quarantined with file, row, line, field and reason; the rest lands', async () => {
  const home = tempDir();
  const dir = tempDir();
  const file = join(dir, 'messy.csv');
  const future = new Date(Date.now() + 30 * 86400_000).toISOString().slice(0, 19).replace('T', ' ');
  writeFileSync(
    file,
    '\ufeff' + [
      HEADER,
      '1,10001,OK ROW,1,2011-01-01 10:00:00,1.5,42,UK',
      '2,10001,BAD QTY,two,2011-01-01 10:00:00,1.5,42,UK',
      '3,10001,BAD DATE,1,not a date,1.5,42,UK',
      `4,10001,FUTURE,1,${future},1.5,42,UK`,
      '5,10001,ABSURD,99999999999,2011-01-01 10:00:00,1.5,42,UK',
      '6,10001,NEG PRICE,1,2011-01-01 10:00:00,-3,42,UK',
      '7,10001,"BROKEN QUOTE,1,2011-01-01 10:00:00,1.5,42,UK',
      '8,10001,TOO FEW,1',
      '9,,NO PRODUCT,1,2011-01-01 10:00:00,1.5,42,UK',
      '10,10001,"Crème brûlée, ""deluxe"" 日本",2,2011-01-01 10:00:00,1.5,42,Österreich',
      '11,POST,POSTAGE,1,2011-01-01 10:00:00,18,42,UK',
      '12,10001,ZERO,0,2011-01-01 10:00:00,1.5,42,UK',
    ].join('\r\n') + '\r\n',
  );
  const { r, s } = await ingestJson(home, [file]);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.equal(s.rowsRead, 12);
  assert.equal(s.rowsAccepted, 2);
  assert.equal(s.rowsExcluded, 1);
  assert.equal(s.rowsQuarantined, 9);
  assert.deepEqual(s.quarantinedByReason, {
    'not a number: quantity': 1, 'not a timestamp: timestamp': 1, 'in the future: timestamp': 1, 'out of range: quantity': 1,
    'negative price: unitPrice': 1, 'unbalanced quote': 1, 'wrong number of fields (expected 8, got 4)': 1,
    'missing value: productId': 1, 'zero quantity: quantity': 1,
  });
  assert.ok(s.quarantineFile && existsSync(s.quarantineFile));
  const entries = readFileSync(s.quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(entries.length, 9);
  const qty = entries.find((e) => e.field === 'quantity' && e.reason === 'not a number');
  assert.deepEqual([qty.source, qty.row, qty.line, qty.value], [file, 2, 3, 'two']);
  const broken = entries.find((e) => e.reason === 'unbalanced quote');
  assert.equal(broken.line, 8);
  assert.match(broken.raw, /BROKEN QUOTE/);
  // unicode survives
  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const names = (await db.runAndReadAll(`SELECT product_name, country FROM transactions ORDER BY row_number`)).getRowObjectsJS();
  assert.deepEqual(names.map((n) => n.product_name), ['OK ROW', 'Crème brûlée, "deluxe" 日本']);
  assert.equal(names[1].country, 'Österreich');
  db.closeSync();
  // the human summary names the reasons and the quarantine file
  const human = await floyo(['ingest', file, '--home', tempDir(), '-q']);
  assert.match(human.stdout, /rows read 12 = accepted 2 \+ quarantined 9 \+ excluded 1/);
  assert.match(human.stdout, /quarantine file: .*\.ndjson/);
});

test('implausible values: two exports concatenated, NULL guests, a timestamp before ingest.notBefore; each row accounted for', async () => {
  const dir = tempDir();
  const file = join(dir, 'concatenated.csv');
  const guests = Array.from({ length: 300 }, (_, i) => `${2000 + i},10001,GUEST,1,2011-01-0${1 + (i % 9)} 10:00:00,1.5,NULL,UK`);
  writeFileSync(file, [
    HEADER,
    '1,10001,A,1,2011-01-01 10:00:00,1.5,42,UK',
    ...guests,
    `\ufeff${HEADER}`, // the second export, with its own BOM
    '3,10001,B,1,2011-01-02 10:00:00,1.5,n/a,UK',
    '4,10001,C,1,1970-01-01 00:00:00,1.5,43,UK',
    '5,10001,D,1,2009-06-01 00:00:00,1.5,43,UK',
  ].join('\n') + '\n');
  const { r, s } = await ingestJson(tempDir(), [file]);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.deepEqual([s.rowsRead, s.rowsAccepted, s.rowsQuarantined, s.rowsExcluded], [305, 303, 2, 0]);
  // the repeated header is not excluded as a non-product code ("StockCode"), nor is it a bad number
  assert.deepEqual(s.quarantinedByReason, { 'repeated header line': 1, 'before 1990-01-01 (ingest.notBefore): timestamp': 1 });
  assert.equal(s.warehouse.customers, 2, 'customer 42 and 43; the NULL and n/a rows are guests, not one customer');
  // a later bound, from the environment
  const later = await ingestJson(tempDir(), [file], { FLOYO_INGEST_NOT_BEFORE: '2010-01-01' });
  assert.deepEqual(later.s.quarantinedByReason, { 'repeated header line': 1, 'before 2010-01-01 (ingest.notBefore): timestamp': 2 });
});

test('a quarantine that cannot be written fails its source: nothing of it lands, and it goes in once the quarantine can be written', async () => {
  const home = tempDir();
  const dir = tempDir();
  writeFileSync(join(dir, 'one.csv'), `${HEADER}\n1,10001,OK,1,2011-01-01 10:00:00,1.5,42,UK\n2,10001,BAD,two,2011-01-01 10:00:00,1.5,42,UK\n`);
  writeFileSync(join(dir, 'two.csv'), `${HEADER}\n3,10001,OK,1,2011-01-02 10:00:00,1.5,43,UK\n4,10001,BAD,three,2011-01-02 10:00:00,1.5,43,UK\n`);
  // a file where the quarantine folder should be: the write fails whoever runs the test (root included)
  writeFileSync(join(home, 'quarantine'), 'in the way');
  const blocked = await ingestJson(home, [join(dir, 'one.csv')]);
  assert.equal(blocked.r.code, 2);
  const [src] = blocked.s.sources;
  assert.equal(src.status, 'failed');
  assert.match(src.error!, /one\.csv: its quarantined rows could not be written to \S+quarantine\S+\.ndjson \(.+\)$/);
  assert.deepEqual([src.rowsRead, src.rowsAccepted, src.rowsQuarantined], [0, 0, 0]);
  assert.equal(blocked.s.warehouse.rows, 0, 'its accepted line was rolled back with it');
  rmSync(join(home, 'quarantine'));
  // not recorded as ingested: the same file goes in once the quarantine can be written
  const { r, s } = await ingestJson(home, [join(dir, 'one.csv'), join(dir, 'two.csv')]);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.deepEqual([s.rowsAccepted, s.rowsQuarantined, s.warehouse.rows], [2, 2, 2]);
  const rows = readFileSync(s.quarantineFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l).value);
  assert.deepEqual(rows, ['two', 'three']);
});

test('whole-file problems get one clear error naming the file, nothing lands, exit code 2, other files still ingest', async () => {
  const home = tempDir();
  const dir = tempDir();
  writeFileSync(join(dir, 'empty.csv'), '');
  writeFileSync(join(dir, 'header-only.csv'), HEADER + '\n');
  writeFileSync(join(dir, 'wrong-columns.csv'), 'order,sku,qty\n1,2,3\n');
  const good = `${HEADER}\n` + Array.from({ length: 2000 }, (_, i) => `${5000 + i},10001,X,1,2011-01-01 10:00:00,1.5,42,UK`).join('\n') + '\n';
  writeFileSync(join(dir, 'truncated.csv.gz'), gzipSync(good).subarray(0, 3000));
  writeFileSync(join(dir, 'fake.parquet'), 'this is not parquet');
  writeFileSync(join(dir, 'good.csv'), `${HEADER}\n1,10001,X,1,2011-01-01 10:00:00,1.5,42,UK\n`);
  const { r, s } = await ingestJson(home, [dir]);
  assert.equal(r.code, 2);
  const by = Object.fromEntries(s.sources.map((x) => [x.location.split('/').pop(), x]));
  assert.match(by['empty.csv'].error!, /empty\.csv: the file is empty/);
  assert.equal(by['header-only.csv'].status, 'ingested');
  assert.equal(by['header-only.csv'].rowsRead, 0);
  assert.match(by['wrong-columns.csv'].error!, /wrong-columns\.csv: missing required columns "InvoiceNo" \(columns\.orderId\), "CustomerID" \(columns\.customerId\), .*the file has "order", "sku", "qty"\); read with the mapping \(preset online-retail\); for another export's columns choose a preset \(--preset NAME; floyo presets lists them\) or write a mapping \(--mapping FILE\)$/);
  assert.match(by['truncated.csv.gz'].error!, /truncated\.csv\.gz: the gzip data is truncated/);
  assert.equal(by['truncated.csv.gz'].rowsAccepted, 0);
  assert.match(by['fake.parquet'].error!, /fake\.parquet: .*not a Parquet file/);
  assert.equal(by['good.csv'].status, 'ingested');
  assert.equal(s.warehouse.rows, 1, 'nothing from the truncated file landed');
  assert.equal(s.sourcesFailed, 4);
  // no stack traces on stderr in human mode
  const human = await floyo(['ingest', join(dir, 'wrong-columns.csv'), '--home', tempDir(), '-q']);
  assert.equal(human.code, 2);
  assert.match(human.stderr, /failed .*wrong-columns\.csv: .*missing required columns/);
  assert.doesNotMatch(human.stderr, /\n\s+at /);
  // a mapping file copied from a preset keeps the preset's name; the error names the file it was read from
  const copy = await floyo(['presets', 'online-retail']);
  writeFileSync(join(dir, 'ours.yaml'), copy.stdout);
  const ours = await floyo(['ingest', join(dir, 'wrong-columns.csv'), '--mapping', join(dir, 'ours.yaml'), '--home', tempDir(), '-q']);
  assert.equal(ours.code, 2);
  assert.match(ours.stderr, /the mapping \(file \S+ours\.yaml\)/);
});

test('a large source that fails after some of it was loaded leaves nothing behind', async () => {
  const dir = tempDir();
  const home = tempDir();
  // 400k lines: several staged parts are loaded inside the transaction before the truncation shows up
  const body = Array.from({ length: 400_000 }, (_, i) => `${100000 + (i >> 3)},1${String(i % 9000).padStart(4, '0')},ITEM,1,2011-01-01 10:00:00,1.5,${(i >> 3) % 500},UK`).join('\n');
  const gz = gzipSync(`${HEADER}\n${body}\n`);
  writeFileSync(join(dir, 'big.csv.gz'), gz.subarray(0, Math.floor(gz.length * 0.9)));
  const { r, s } = await ingestJson(home, [join(dir, 'big.csv.gz')]);
  assert.equal(r.code, 2);
  assert.match(s.sources[0].error!, /truncated/);
  assert.equal(s.warehouse.rows, 0);
  const ok = await ingestJson(home, [join(FIXTURES, 'online_retail_sample.csv')]);
  assert.equal(ok.s.warehouse.rows, ok.s.rowsAccepted, 'the warehouse is usable afterwards');
});

test('stopped by SIGTERM (cron\'s timeout) mid-load: it says so, frees the home at once, and nothing of the source is kept', async () => {
  const dir = tempDir();
  const home = tempDir();
  const body = Array.from({ length: 400_000 }, (_, i) => `${100000 + (i >> 3)},1${String(i % 9000).padStart(4, '0')},ITEM,1,2011-01-01 10:00:00,1.5,${(i >> 3) % 500},UK`).join('\n');
  writeFileSync(join(dir, 'big.csv'), `${HEADER}\n${body}\n`);
  let poll: NodeJS.Timeout | undefined;
  const r = await floyo(['ingest', join(dir, 'big.csv'), '--home', home, '--json', '-q'], {
    // once it has staged a part (the load under way), as a timeout would find it
    started: (child) => (poll = setInterval(() => {
      if (existsSync(join(home, 'tmp')) && readdirSync(join(home, 'tmp')).some((f) => f.startsWith('stage-'))) {
        clearInterval(poll);
        child.kill('SIGTERM');
      }
    }, 20)),
  });
  clearInterval(poll);
  assert.equal(r.code, 143, r.stderr);
  assert.equal(r.stderr, 'floyo: stopped by SIGTERM before it finished: what it had not committed is not kept; run it again\n');
  assert.deepEqual(r.json(), { error: { message: 'stopped by SIGTERM before it finished: what it had not committed is not kept; run it again', exitCode: 143 } });
  assert.equal(existsSync(join(home, 'lock.json')), false, 'the lock is released');
  assert.deepEqual(readdirSync(join(home, 'tmp')).filter((f) => f !== 'duckdb'), [], 'its staged files are removed');
  const again = await ingestJson(home, [join(dir, 'big.csv')]);
  assert.equal(again.r.code, 0, again.r.stderr);
  assert.equal(again.s.sources[0].status, 'ingested', 'not recorded as ingested by the run that was stopped');
  assert.equal(again.s.warehouse.rows, 400_000);

  // stopped while it waits for another process's lock: that lock stays, and nothing of its own is left
  const other = JSON.stringify({ pid: process.pid, command: 'floyo train', host: (await import('node:os')).hostname(), since: 'x' });
  writeFileSync(join(home, 'lock.json'), other);
  // once it waits (its own lock file written aside, lock.json.<pid>.<ms>): a fixed delay could come before its
  // signal handlers are there on a busy machine, and the signal would kill it outright
  const waiting = await floyo(['ingest', join(dir, 'big.csv'), '--home', home, '-q'], {
    started: (child) => (poll = setInterval(() => {
      if (readdirSync(home).some((f) => f.startsWith('lock.json.'))) {
        clearInterval(poll);
        setTimeout(() => child.kill('SIGTERM'), 100);
      }
    }, 20)),
  });
  clearInterval(poll);
  assert.equal(waiting.code, 143, waiting.stderr);
  assert.deepEqual(readdirSync(home).filter((f) => f.startsWith('lock.json')), ['lock.json']);
  assert.equal(readFileSync(join(home, 'lock.json'), 'utf8'), other);
  rmSync(join(home, 'lock.json'));
});

test('stopped by SIGTERM or Ctrl-C during its COMMIT: a source that lands keeps its quarantined rows', async () => {
  const dir = tempDir();
  // some rows quarantined: they are written to the quarantine file just before the COMMIT
  const body = Array.from({ length: 20_000 }, (_, i) => `${100000 + (i >> 3)},1${String(i % 9000).padStart(4, '0')},ITEM,1,2011-01-01 10:00:00,${i % 1000 === 7 ? 'abc' : '1.5'},${(i >> 3) % 500},UK`).join('\n');
  writeFileSync(join(dir, 'sales.csv'), `${HEADER}\n${body}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const home = tempDir();
    let poll: NodeJS.Timeout | undefined;
    const r = await floyo(['ingest', join(dir, 'sales.csv'), '--home', home, '-q'], {
      // the quarantine file appears once the COMMIT is on its way: stopped then, as a timeout can
      started: (child) => (poll = setInterval(() => {
        if (existsSync(join(home, 'quarantine')) && readdirSync(join(home, 'quarantine')).length) {
          clearInterval(poll);
          child.kill(signal);
        }
      }, 1)),
    });
    clearInterval(poll);
    assert.equal(r.code, signal === 'SIGTERM' ? 143 : 130, r.stderr);
    assert.equal(existsSync(join(home, 'lock.json')), false, 'the lock is released');
    const quarantined = () => readdirSync(join(home, 'quarantine')).flatMap((f) => readFileSync(join(home, 'quarantine', f), 'utf8').split('\n').filter(Boolean));
    const again = await ingestJson(home, [join(dir, 'sales.csv')]);
    assert.equal(again.r.code, 0, again.r.stderr);
    const source = again.s.sources[0];
    if (source.status === 'already ingested') {
      // the COMMIT landed: its 20 quarantined rows are kept
      assert.equal(quarantined().length, 20, `${signal}: the source landed, and its quarantined rows must be in the quarantine file`);
    } else {
      // it did not: ingested now, with its rows quarantined once
      assert.equal(source.rowsQuarantined, 20);
      assert.equal(quarantined().length, 20);
    }
    assert.equal(again.s.warehouse.rows, 20_000 - 20);
  }
});

test('locations that do not exist, and bad options, are refused clearly', async () => {
  const home = tempDir();
  const missing = await floyo(['ingest', '/no/such/file.csv', '--home', home]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim(), 'floyo: no such file or folder: /no/such/file.csv');
  const noMatch = await floyo(['ingest', join(tempDir(), '*.csv'), '--home', home]);
  assert.match(noMatch.stderr, /no files match/);
  const both = await floyo(['ingest', 'x.csv', '--preset', 'shopify', '--mapping', 'm.json', '--home', home]);
  assert.match(both.stderr, /either --preset or --mapping/);
  const preset = await floyo(['ingest', 'x.csv', '--preset', 'woo', '--home', home]);
  assert.match(preset.stderr, /ingest\.preset .*"online-retail"\|"shopify"/);
});

test('gzip CSV, NDJSON and Parquet give the same canonical rows as the CSV; folders and globs expand', async () => {
  const dir = tempDir();
  const csv = readFileSync(join(FIXTURES, 'online_retail_sample.csv'));
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'sample.csv.gz'), gzipSync(csv));
  // NDJSON and Parquet copies made by DuckDB from the CSV (all columns as text, like an export would)
  const inst = await DuckDBInstance.create(':memory:');
  const db = await inst.connect();
  const src = `read_csv('${join(FIXTURES, 'online_retail_sample.csv')}', all_varchar=true)`;
  await db.run(`COPY (SELECT * FROM ${src}) TO '${join(dir, 'sample.ndjson')}' (FORMAT json)`);
  await db.run(`COPY (SELECT * REPLACE (CAST(Quantity AS INTEGER) AS Quantity, CAST(UnitPrice AS DOUBLE) AS UnitPrice, CAST(InvoiceDate AS TIMESTAMP) AS InvoiceDate) FROM ${src}) TO '${join(dir, 'sample.parquet')}' (FORMAT parquet)`);
  db.closeSync();
  const totals = [];
  for (const location of [join(FIXTURES, 'online_retail_sample.csv'), join(dir, 'in'), join(dir, '*.ndjson'), join(dir, 'sample.parquet')]) {
    const { r, s } = await ingestJson(tempDir(), [location]);
    assert.equal(r.code, 0, r.stderr);
    reconciles(s);
    totals.push([s.rowsRead, s.rowsAccepted, s.rowsExcluded, s.warehouse.orders, s.warehouse.customers, s.warehouse.from, s.warehouse.to]);
  }
  for (const t of totals.slice(1)) assert.deepEqual(t, totals[0]);
});

test('files a folder holds that Floyo does not read are reported in --json and on stderr, not skipped unseen', async () => {
  const dir = tempDir();
  copyFileSync(join(FIXTURES, 'online_retail_sample.csv'), join(dir, 'sales.csv'));
  for (const name of ['sales-2010.csv.bz2', 'sales-2009.csv.gzip', 'notes.xlsx', '_SUCCESS']) writeFileSync(join(dir, name), 'x');
  const { r, s } = await ingestJson(tempDir(), [dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.sources.map((x) => x.location), [join(dir, 'sales.csv')]);
  assert.deepEqual(s.filesNotRead, {
    unsupported: 3,
    byExtension: { '.xlsx': 1, '.gzip': 1, '.bz2': 1 },
    examples: ['notes.xlsx', 'sales-2009.csv.gzip', 'sales-2010.csv.bz2'].map((f) => join(dir, f)),
    sideFiles: 1,
  });
  assert.equal(
    r.stderr,
    `floyo: warning: skipped 3 files with no data extension (.xlsx 1, .gzip 1, .bz2 1): ${join(dir, 'notes.xlsx')}, ${join(dir, 'sales-2009.csv.gzip')}, ` +
      `${join(dir, 'sales-2010.csv.bz2')}; Floyo reads .csv, .tsv, .txt, .parquet, .ndjson, .jsonl, .json, optionally .gz (decompress or convert them to ingest them)\n`,
  );
  // nothing to say when there is nothing else
  const only = await ingestJson(tempDir(), [join(FIXTURES, 'online_retail_sample.csv')]);
  assert.equal(only.r.stderr, '');
  assert.deepEqual(only.s.filesNotRead, { unsupported: 0, byExtension: {}, examples: [], sideFiles: 0 });
});

test('a Parquet file with the wrong schema names the missing columns', async () => {
  const dir = tempDir();
  const inst = await DuckDBInstance.create(':memory:');
  const db = await inst.connect();
  await db.run(`COPY (SELECT 1 AS id, 'x' AS thing) TO '${join(dir, 'other.parquet')}' (FORMAT parquet)`);
  db.closeSync();
  const { r, s } = await ingestJson(tempDir(), [join(dir, 'other.parquet')]);
  assert.equal(r.code, 2);
  assert.match(s.sources[0].error!, /other\.parquet: missing required columns "InvoiceNo".* \(the file has "id", "thing"\)/);
});

test('NDJSON objects without a key the mapping reads fail the source as a CSV without that column does; a key some objects have is enough', async () => {
  const dir = tempDir();
  const line = (o: Record<string, unknown>) => JSON.stringify({ InvoiceNo: '1', StockCode: '10001', Description: 'A', Quantity: 1, InvoiceDate: '2011-01-01 10:00:00', UnitPrice: 5, CustomerID: '42', ...o });
  writeFileSync(join(dir, 'no-country.ndjson'), [line({}), line({ InvoiceNo: '2' })].join('\n') + '\n');
  writeFileSync(join(dir, 'some-country.ndjson'), [line({ InvoiceNo: '3' }), line({ InvoiceNo: '4', Country: 'UK' })].join('\n') + '\n');
  const home = tempDir();
  const { r, s } = await ingestJson(home, [join(dir, 'no-country.ndjson'), join(dir, 'some-country.ndjson')]);
  assert.equal(r.code, 2);
  const [none, some] = s.sources;
  assert.equal(none.status, 'failed');
  assert.match(none.error!, /no-country\.ndjson: missing required column "Country" \(columns\.country\)/);
  assert.equal(some.status, 'ingested', some.error);
  assert.equal(s.warehouse.rows, 2, 'nothing of the failed file landed');
});

test('the shopify preset: line items of one order share its order-level fields; customers are e-mails', async () => {
  const { r, s } = await ingestJson(tempDir(), [join(FIXTURES, 'shopify_orders_export_sample.csv'), '--preset', 'shopify']);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.equal(s.rowsRead, 40);
  assert.equal(s.warehouse.orders + 0, s.warehouse.orders);
  assert.ok(s.excludedByReason['gift card'] > 0);
  assert.ok(s.warehouse.customers > 0);
});

test('shopify refunds: an order-level refunded amount is spread over the order\'s lines by value', async () => {
  const dir = tempDir();
  const header = 'Name,Email,Financial Status,Currency,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Refunded Amount,Billing Country,Cancelled at';
  writeFileSync(join(dir, 'orders.csv'), [
    header,
    '#1,Ann@Example.com,partially_refunded,EUR,2025-05-11 09:55:16 -0400,1,Board,300.00,B-1,100.00,DE,',
    '#1,Ann@Example.com,,,2025-05-11 09:55:16 -0400,2,Wax,50.00,,,,',
    '#2,bob@example.com,voided,EUR,2025-05-12 10:00:00 -0400,1,Board,300.00,B-1,0.00,FR,',
    // shipping refunded too: 12.50 beyond the mug's 10, reported, not taken off goods spend
    '#3,bob@example.com,refunded,EUR,2025-05-13 10:00:00 -0400,1,Mug,10.00,M-1,22.50,FR,',
  ].join('\n') + '\n');
  const home = tempDir();
  const { s } = await ingestJson(home, [join(dir, 'orders.csv'), '--preset', 'shopify']);
  reconciles(s);
  assert.equal(s.rowsAccepted, 3);
  assert.deepEqual(s.refundsBeyondLines, { orders: 1, amount: 12.5 });
  assert.deepEqual(s.sources[0].refundsBeyondLines, { orders: 1, amount: 12.5 });
  const human = await floyo(['ingest', join(dir, 'orders.csv'), '--preset', 'shopify', '--replace', '--home', home]);
  assert.match(human.stdout, /refunds: 1 order was refunded 12\.50 more than the value of its lines kept \(shipping, tax, lines a rule excluded\)/);
  assert.deepEqual(s.excludedByReason, { 'voided order': 1 });
  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const rows = (await db.runAndReadAll(`SELECT customer_id, product_id, amount, refunded, currency, country, ts FROM transactions WHERE order_id = '#1' ORDER BY row_number`)).getRowObjectsJS();
  db.closeSync();
  assert.deepEqual(rows.map((x) => [x.customer_id, x.product_id, x.amount, Math.round(Number(x.refunded) * 100) / 100, x.currency, x.country]), [
    ['ann@example.com', 'B-1', 300, 75, 'EUR', 'DE'],
    ['ann@example.com', 'Wax', 100, 25, 'EUR', 'DE'],
  ]);
  assert.equal(new Date(String(rows[0].ts)).toISOString(), '2025-05-11T13:55:16.000Z');
});

test('a mapping file for another layout: semicolons, decimal commas, day-first dates, a constant currency', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'woo.yaml'), [
    'name: woocommerce-de',
    'csv: { delimiter: ";" }',
    'columns:',
    '  orderId: Bestellnummer',
    '  customerId: { column: E-Mail, lowercase: true }',
    '  productId: Artikelnummer',
    '  productName: Artikel',
    '  quantity: Menge',
    '  unitPrice: Preis',
    '  timestamp: Datum',
    '  currency: { value: EUR }',
    'timestamp: { format: "DD.MM.YYYY HH:mm", timezone: "+01:00" }',
    'numbers: { decimal: ",", thousands: "." }',
    'exclude:',
    '  - { reason: shipping, when: [ { field: productId, matches: "^VERSAND$" } ] }',
  ].join('\n'));
  writeFileSync(join(dir, 'export.csv'), 'Bestellnummer;E-Mail;Artikelnummer;Artikel;Menge;Preis;Datum\n77;A@B.DE;S-1;Schal;2;1.234,50;24.12.2024 18:30\n77;a@b.de;VERSAND;Versand;1;4,90;24.12.2024 18:30\n');
  const home = tempDir();
  const { r, s } = await ingestJson(home, [join(dir, 'export.csv'), '--mapping', join(dir, 'woo.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.rowsAccepted, 1);
  assert.deepEqual(s.excludedByReason, { shipping: 1 });
  const db = await (await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' })).connect();
  const [row] = (await db.runAndReadAll(`SELECT customer_id, unit_price, amount, currency, strftime(ts, '%Y-%m-%d %H:%M') AS ts FROM transactions`)).getRowObjectsJS();
  db.closeSync();
  assert.deepEqual(row, { customer_id: 'a@b.de', unit_price: 1234.5, amount: 2469, currency: 'EUR', ts: '2024-12-24 17:30' });
  // an invalid mapping names the key
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ columns: { orderId: 'a', productId: 'b', quantity: 'c', unitPrice: 'd', timestamp: 'e', colour: 'f' } }));
  const bad = await floyo(['ingest', join(dir, 'export.csv'), '--mapping', join(dir, 'bad.json'), '--home', tempDir()]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /mapping file .*bad\.json is invalid:\n\s+columns: unknown key "colour"; allowed: orderId, customerId, /);
  writeFileSync(join(dir, 'no-time.json'), JSON.stringify({ columns: { orderId: 7, productId: 'b', quantity: 'c', unitPrice: 'd' } }));
  const noTime = await floyo(['ingest', join(dir, 'export.csv'), '--mapping', join(dir, 'no-time.json'), '--home', tempDir()]);
  assert.equal(noTime.code, 2);
  assert.match(noTime.stderr, /\n\s+columns\.orderId: expected a column reference \(the name of a source column, .*\), got 7\n/);
  assert.match(noTime.stderr, /\n\s+columns\.timestamp: required: a column reference \(the name of a source column/);
  const missing = await floyo(['ingest', join(dir, 'export.csv'), '--mapping', join(dir, 'nope.yaml'), '--home', tempDir()]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^floyo: cannot read mapping file .*nope\.yaml: no such file\n$/);
});

test('the later layer picks the mapping: --preset overrides a config file\'s mapping, and the reverse', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'uk.yaml'), 'name: uk\ncolumns: { orderId: InvoiceNo, customerId: CustomerID, productId: StockCode, quantity: Quantity, unitPrice: UnitPrice, timestamp: InvoiceDate }\n');
  writeFileSync(join(dir, 'with-mapping.yaml'), `ingest:\n  mapping: ${join(dir, 'uk.yaml')}\n`);
  writeFileSync(join(dir, 'with-preset.yaml'), 'ingest:\n  preset: shopify\n');
  writeFileSync(join(dir, 'with-both.yaml'), `ingest:\n  preset: shopify\n  mapping: ${join(dir, 'uk.yaml')}\n`);
  const shopify = join(FIXTURES, 'shopify_orders_export_sample.csv');
  // the config file names a mapping for another layout; the flag wins
  const viaFlag = await ingestJson(tempDir(), [shopify, '--preset', 'shopify', '--config', join(dir, 'with-mapping.yaml')]);
  assert.equal(viaFlag.r.code, 0, viaFlag.r.stderr);
  assert.equal(viaFlag.s.rowsRead, 40);
  assert.ok(viaFlag.s.warehouse.customers > 0);
  // the config file names a preset; a --mapping flag wins
  const file = join(dir, 'tx.csv');
  writeFileSync(file, [HEADER, '1,10001,P1,2,2011-01-01 10:00:00,5,A,UK'].join('\n') + '\n');
  const viaMapping = await ingestJson(tempDir(), [file, '--mapping', join(dir, 'uk.yaml'), '--config', join(dir, 'with-preset.yaml')]);
  assert.equal(viaMapping.r.code, 0, viaMapping.r.stderr);
  assert.equal(viaMapping.s.rowsAccepted, 1);
  // both in one layer cannot be told apart
  const both = await floyo(['ingest', file, '--home', tempDir(), '--config', join(dir, 'with-both.yaml')]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /ingest\.mapping and ingest\.preset are both set \(file .*with-both\.yaml, file .*with-both\.yaml\); keep one/);
});

test('a warehouse written by a newer Floyo (a higher schema) is refused by every command, and left as it is', async () => {
  const home = tempDir();
  await ingestJson(home, [join(FIXTURES, 'online_retail_sample.csv')]);
  const db = await DuckDBInstance.create(join(home, 'warehouse.duckdb'));
  const connection = await db.connect();
  await connection.run("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  connection.closeSync();
  db.closeSync();
  for (const args of [['ingest', join(FIXTURES, 'online_retail_sample.csv')], ['segments'], ['train']]) {
    const r = await floyo([...args, '--home', home, '--json']);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /the warehouse .*warehouse\.duckdb was written by a newer Floyo \(schema 99; this one knows up to \d+\): upgrade Floyo to use this home/, args[0]);
  }
  const after = await DuckDBInstance.create(join(home, 'warehouse.duckdb'));
  const check = await after.connect();
  const rows = (await check.runAndReadAll("SELECT value FROM meta WHERE key = 'schema_version'")).getRowObjectsJS();
  check.closeSync();
  after.closeSync();
  assert.deepEqual(rows, [{ value: '99' }]);
});

test('a second process on the same home is told who holds it', async () => {
  const home = tempDir();
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo ingest', host: (await import('node:os')).hostname(), since: '2026-01-01T00:00:00Z' }));
  const r = await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /in use by `floyo ingest` \(pid \d+ on .*since 2026-01-01/);
  // a lock left by a dead process is taken over, and so are the files the killed run left in tmp
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: 2 ** 22 + 12345, command: 'floyo ingest', host: (await import('node:os')).hostname(), since: 'x' }));
  mkdirSync(join(home, 'tmp', 'duckdb'), { recursive: true });
  for (const left of ['download-4206665-big.csv', 'stage-4206665-1.tsv', 'predictions-4206665-ab.tsv', 'duckdb/spill.block']) writeFileSync(join(home, 'tmp', left), 'x');
  const ok = await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '-q']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(existsSync(join(home, 'lock.json')), false, 'the lock is released at exit');
  assert.deepEqual(readdirSync(join(home, 'tmp')).filter((f) => f !== 'duckdb'), [], 'a killed run\'s downloads and staged files are removed');
  assert.equal(existsSync(join(home, 'tmp', 'duckdb', 'spill.block')), false);
  // a holder that finishes within the wait (3 s) is waited for: the command then runs
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo customer 1', host: (await import('node:os')).hostname(), since: 'x' }));
  const queued = floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home, '-q', '--json']);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  rmSync(join(home, 'lock.json'));
  const waited = await queued;
  assert.equal(waited.code, 0, waited.stderr);
  // an unreadable lock file is named after the wait, never silently taken
  writeFileSync(join(home, 'lock.json'), '{"pid": 12');
  const garbled = await floyo(['ingest', join(FIXTURES, 'online_retail_sample.csv'), '--home', home]);
  assert.equal(garbled.code, 3);
  assert.match(garbled.stderr, /^floyo: cannot read the lock .*lock\.json; if no Floyo process is running, delete that file\n$/);
});

test('a lock whose pid another process has since is taken over: a container restarted, PID 1 again; what killed waiters left beside it goes', { skip: !existsSync('/proc/self/stat') && 'needs Linux /proc' }, async () => {
  const home = tempDir();
  const host = (await import('node:os')).hostname();
  const sample = join(FIXTURES, 'online_retail_sample.csv');
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const ownStart = `${boot}/${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  // the pid the lock names is alive (this test process), but started later than the run that wrote it: that run is gone
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo train', host, since: '2026-01-01T00:00:00Z', started: `${boot}/1` }));
  mkdirSync(join(home, 'tmp'), { recursive: true });
  writeFileSync(join(home, 'tmp', 'stage-1-ab-0.tsv'), 'x');
  // what commands killed (kill -9) while they waited for the lock left beside it, and a command waiting now
  const deadWaiter = `lock.json.${2 ** 22 + 12345}.1796687631188`;
  writeFileSync(join(home, deadWaiter), JSON.stringify({ pid: 2 ** 22 + 12345, command: 'floyo score', host, since: '2026-01-01T00:00:00Z' }));
  const liveWaiter = `lock.json.${process.pid}.1796687631189`;
  writeFileSync(join(home, liveWaiter), JSON.stringify({ pid: process.pid, command: 'floyo score', host, since: '2026-01-01T00:00:00Z', started: ownStart }));
  const taken = await floyo(['ingest', sample, '--home', home, '-q', '--lock-wait-seconds', '0']);
  assert.equal(taken.code, 0, taken.stderr);
  assert.equal(existsSync(join(home, 'lock.json')), false, 'the lock is released at exit');
  assert.deepEqual(readdirSync(home).filter((f) => f.startsWith('lock.json')), [liveWaiter], 'a dead waiter\'s file is removed, a live one\'s kept');
  rmSync(join(home, liveWaiter));
  assert.deepEqual(readdirSync(join(home, 'tmp')).filter((f) => f !== 'duckdb'), [], 'what the killed run left in tmp is removed');
  // the process that wrote it, still running: waited for, then named
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo train', host, since: '2026-01-01T00:00:00Z', started: ownStart }));
  const busy = await floyo(['ingest', sample, '--home', home, '-q', '--lock-wait-seconds', '0']);
  assert.equal(busy.code, 3, busy.stderr);
  assert.match(busy.stderr, /in use by `floyo train` \(pid \d+ on /);
  // another machine's lock is never taken over: named, with how to free it once that command is gone
  writeFileSync(join(home, 'lock.json'), JSON.stringify({ pid: 1, command: 'floyo train', host: 'other-machine', since: '2026-01-01T00:00:00Z', started: `${boot}/1` }));
  const elsewhere = await floyo(['ingest', sample, '--home', home, '--lock-wait-seconds', '0']);
  assert.equal(elsewhere.code, 3, elsewhere.stderr);
  assert.match(elsewhere.stderr, /taken on another machine \(other-machine\), whose processes this one cannot see: if that command is no longer running there .*delete .*lock\.json\n$/);
  rmSync(join(home, 'lock.json'));
  // a lock this Floyo writes carries its holder's start
  const held = floyo(['ingest', sample, '--home', home, '-q'], {
    started: () => undefined,
  });
  let seen: { pid: number; started?: string } | null = null;
  while (!seen) {
    try {
      seen = JSON.parse(readFileSync(join(home, 'lock.json'), 'utf8')) as { pid: number; started?: string };
    } catch {
      if ((await Promise.race([held.then(() => 'done'), new Promise((r) => setTimeout(() => r('wait'), 10))])) === 'done') break;
    }
  }
  assert.equal((await held).code, 0);
  assert.ok(seen, 'the lock was seen while the ingest held it');
  assert.match(seen.started ?? '', /^[\w-]+\/\d+$/);
});

test('a lock of Floyo 0.2.0 naming this very process, which did not take it (a container\'s PID 1 again), is taken over', async () => {
  const home = tempDir();
  const lock = join(home, 'lock.json');
  // Floyo 0.2.0 wrote no start time: that the pid is this process's own, in a file it did not write, tells the holder is gone
  writeFileSync(lock, JSON.stringify({ pid: process.pid, command: 'floyo train', host: hostname(), since: '2026-01-01T00:00:00Z' }));
  const holder = await withHomeLock(home, 'floyo models prune', async () => (JSON.parse(readFileSync(lock, 'utf8')) as { command: string }).command, { ms: 0 });
  assert.equal(holder, 'floyo models prune');
  assert.equal(existsSync(lock), false, 'the lock is released');
  // a lock this process holds is its own, not a leftover: a second take within it is named
  await withHomeLock(home, 'floyo train', async () => {
    await assert.rejects(withHomeLock(home, 'floyo score', async () => undefined, { ms: 0 }), /in use by `floyo train` \(pid \d+ on /);
  });
});

test('the full UCI Online Retail file (when ../shared/datasets is present)', { skip: !existsSync(join(SHARED_DATASETS, 'online_retail.csv.gz')) && 'needs ../shared/datasets/online_retail.csv.gz' }, async () => {
  const { r, s } = await ingestJson(tempDir(), [join(SHARED_DATASETS, 'online_retail.csv.gz')]);
  assert.equal(r.code, 0, r.stderr);
  reconciles(s);
  assert.equal(s.rowsRead, 541909);
  // the dataset's README: 1,336 stock adjustments (negative, no price, no customer, not a credit note)
  assert.equal(s.excludedByReason['stock adjustment'], 1336);
  assert.equal(s.rowsQuarantined, 0);
  assert.equal(s.warehouse.customers, 4363);
  assert.equal(s.warehouse.from, '2010-12-01T08:26:00Z');
  assert.equal(s.warehouse.to, '2011-12-09T12:50:00Z');
});

test('a file ingested again with other content: the orders it dropped keep their lines, and a warning says how many', async () => {
  const dir = tempDir();
  const home = join(dir, 'home');
  const file = join(dir, 'export.csv');
  const header = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n';
  writeFileSync(file, `${header}536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,UK\n536366,71053,LANTERN,2,2010-12-01 09:00:00,3.39,17851,UK\n`);
  assert.equal((await floyo(['ingest', file, '--home', home, '-q'])).code, 0);
  // corrected in place: 536366 dropped, 536365's quantity changed
  writeFileSync(file, `${header}536365,85123A,HEART,8,2010-12-01 08:26:00,2.55,17850,UK\n`);
  const again = await floyo(['ingest', file, '--home', home, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const src = again.json<IngestSummary>().sources[0];
  assert.deepEqual(src.earlierContent, { sources: 1, ordersKept: 1 });
  assert.match(again.stderr, /^floyo: warning: .*export\.csv was ingested before with other content: orders in both now have the new lines, and 1 of its orders is not in the new content and keeps its earlier lines/m);
  assert.equal(again.json<IngestSummary>().warehouse.orders, 2, 'the dropped order is still there, as the warning says');
});

test('many sources already ingested are summed up in one line, not one line each', async () => {
  const dir = tempDir();
  const home = join(dir, 'home');
  const header = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n';
  mkdirSync(join(dir, 'daily'));
  for (let d = 1; d <= 12; d++) writeFileSync(join(dir, 'daily', `day-${d}.csv`), `${header}5364${d},85123A,HEART,6,2010-12-${String(d).padStart(2, '0')} 08:26:00,2.55,17850,UK\n`);
  assert.equal((await floyo(['ingest', join(dir, 'daily'), '--home', home, '-q'])).code, 0);
  const again = await floyo(['ingest', join(dir, 'daily'), '--home', home, '-q']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^\(and 12 sources already ingested, skipped\)$/m);
  assert.match(again.stdout, /^skipped 12 sources: already ingested; --replace ingests them again$/m);
  assert.doesNotMatch(again.stdout, /day-1\.csv/);
  assert.ok(again.stdout.split('\n').length < 12, again.stdout);
});

test('a warehouse another program has open (a DuckDB session, not a Floyo command) is named with its holder: exit 3, no DuckDB advice', async () => {
  const home = tempDir();
  const file = join(tempDir(), 'one.csv');
  writeFileSync(file, `${HEADER}\n536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n`);
  assert.equal((await floyo(['ingest', file, '--home', home, '-q'])).code, 0);
  const instance = await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' });
  try {
    const busy = await floyo(['ingest', file, '--home', home, '-q']);
    assert.equal(busy.code, 3, busy.stderr);
    assert.match(busy.stderr, new RegExp(`^floyo: the warehouse \\S+ is open in another program \\(\\S+, pid ${process.pid}\\), not a Floyo command: close it there and run this again\\n$`));
  } finally {
    instance.closeSync();
  }
  assert.equal((await floyo(['ingest', file, '--home', home, '-q'])).code, 0, 'closed there, the home is free again');
});

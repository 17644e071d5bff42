// What the readers hand the mapping, end to end through ingest(): typed values stay typed, ids read the same
// from every format, delimiters, JSON arrays, raw text in the quarantine, and encodings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { silentProgress } from '../../src/cli/progress.js';
import { ingest, type IngestSummary } from '../../src/data/ingest.js';
import { parseMapping, presetMapping, type Mapping } from '../../src/data/mapping.js';
import { RAW_MAX_CHARS } from '../../src/data/rows.js';
import { Warehouse } from '../../src/data/warehouse.js';
import { floyo, tempDir } from '../support/cli.js';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

interface Quarantine {
  source: string;
  row: number;
  line: number;
  field: string | null;
  reason: string;
  value: string | null;
  raw: string | null;
}

interface Line {
  row_number: number;
  order_id: string;
  customer_id: string | null;
  product_id: string;
  quantity: number;
  unit_price: number;
  ts: string;
}

/** Ingests into a fresh home; returns the summary, the stored lines, the quarantine and what went to stderr. */
async function run(locations: string[], mapping: Mapping = presetMapping('online-retail')) {
  const home = tempDir();
  const warehouse = await Warehouse.open(home, 'test');
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  let s: IngestSummary;
  let lines: Line[];
  try {
    s = await ingest(warehouse, {
      locations, mapping, format: 'auto', s3: { region: 'us-east-1', forcePathStyle: false },
      rules: { latestAllowedTs: Date.now(), maxAbsQuantity: 1e6, maxUnitPrice: 1e6 }, progress: () => silentProgress(),
    });
    lines = await warehouse.query<Line>(
      `SELECT row_number, order_id, customer_id, product_id, quantity, unit_price, strftime(ts, '%Y-%m-%d %H:%M:%S') AS ts FROM transactions ORDER BY order_id, row_number`,
    );
  } finally {
    process.stderr.write = write;
    warehouse.close();
  }
  assert.equal(s.rowsRead, s.rowsAccepted + s.rowsQuarantined + s.rowsExcluded, 'rows read = accepted + quarantined + excluded');
  const quarantine: Quarantine[] = s.quarantineFile ? readFileSync(s.quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  return { s, lines, quarantine, stderr };
}

async function duckdb(sql: string[]): Promise<void> {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  for (const q of sql) await db.run(q);
  db.closeSync();
}

/** A German shop's conventions: decimal comma, dot for thousands, day-first dates at +01:00. */
function germanMapping(timestampColumn = 'ts'): Mapping {
  return parseMapping({
    name: 'german',
    columns: { orderId: 'order', customerId: 'customer', productId: 'product', quantity: 'qty', unitPrice: 'price', timestamp: timestampColumn },
    timestamp: { format: 'DD.MM.YYYY HH:mm', timezone: '+01:00' },
    numbers: { decimal: ',', thousands: '.' },
  }, 'german');
}

test('typed NDJSON numbers are used as they are; the text conventions apply to text only', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'sales.ndjson'), [
    '{"order":"1","customer":17850,"product":"A","qty":2,"price":3.55,"ts":"24.12.2024 18:30"}',
    '{"order":"2","customer":"17851","product":"B","qty":"1.000","price":"1.234,50","ts":"24.12.2024 18:30"}',
    '{"order":"3","customer":12345678901234567890,"product":"C","qty":1e0,"price":1000,"ts":"24.12.2024 18:30"}',
  ].join('\n') + '\n');
  const { s, lines } = await run([join(dir, 'sales.ndjson')], germanMapping());
  assert.equal(s.rowsAccepted, 3, JSON.stringify(s.quarantinedByReason));
  assert.deepEqual(lines.map((l) => [l.customer_id, l.quantity, l.unit_price, l.ts]), [
    ['17850', 2, 3.55, '2024-12-24 17:30:00'],
    ['17851', 1000, 1234.5, '2024-12-24 17:30:00'],
    ['12345678901234567890', 1, 1000, '2024-12-24 17:30:00'], // an integer beyond 2^53 keeps every digit
  ]);
});

test('typed Parquet values: DECIMAL, FLOAT and BIGINT exactly; TIMESTAMP in the mapping\'s zone, TIMESTAMPTZ as the instant it is', async () => {
  const dir = tempDir();
  const file = join(dir, 'sales.parquet');
  await duckdb([`COPY (SELECT * FROM (VALUES
      ('1', 17850::BIGINT, 'A', 2::BIGINT, 3.55::DECIMAL(10,2), TIMESTAMP '2024-12-24 18:30:00', TIMESTAMPTZ '2024-12-24 18:30:00+00', DATE '2024-12-24'),
      ('2', 9007199254740993::BIGINT, 'B', 1::BIGINT, 1234.5::DECIMAL(10,2), TIMESTAMP '2024-12-24 18:30:00', TIMESTAMPTZ '2024-12-24 18:30:00+05', DATE '2024-12-25'),
      ('3', NULL, 'C', 3::BIGINT, 3.55::FLOAT, TIMESTAMP '2024-12-24 18:30:00', TIMESTAMPTZ '2024-12-24 18:30:00+00', DATE '2024-12-24')
    ) t("order", customer, product, qty, price, ts, tstz, day)) TO '${file}' (FORMAT parquet)`]);
  // every price arrives typed: FLOAT 3.55 read through its decimal text, not as 3.5499999523
  const naive = await run([file], germanMapping('ts'));
  assert.equal(naive.s.rowsAccepted, 3, JSON.stringify(naive.s.quarantinedByReason));
  assert.deepEqual(naive.lines.map((l) => [l.customer_id, l.quantity, l.unit_price, l.ts]), [
    ['17850', 2, 3.55, '2024-12-24 17:30:00'],
    ['9007199254740993', 1, 1234.5, '2024-12-24 17:30:00'],
    [null, 3, 3.55, '2024-12-24 17:30:00'],
  ]);
  const zoned = await run([file], germanMapping('tstz'));
  assert.deepEqual(zoned.lines.map((l) => l.ts), ['2024-12-24 18:30:00', '2024-12-24 13:30:00', '2024-12-24 18:30:00']);
  const dates = await run([file], germanMapping('day'));
  assert.deepEqual(dates.lines.map((l) => l.ts), ['2024-12-23 23:00:00', '2024-12-24 23:00:00', '2024-12-23 23:00:00']);
  // quantity typed too: a DOUBLE column with a fraction stays a fraction under a thousands separator
  const doubles = join(dir, 'doubles.parquet');
  await duckdb([`COPY (SELECT '9' AS "order", 'x' AS customer, 'D' AS product, 1.5::DOUBLE AS qty, 2.25::DOUBLE AS price, TIMESTAMP '2024-12-24 18:30:00' AS ts) TO '${doubles}' (FORMAT parquet)`]);
  assert.deepEqual((await run([doubles], germanMapping())).lines.map((l) => [l.quantity, l.unit_price]), [[1.5, 2.25]]);
});

test('whole-number ids stored as floats read as integers, so a customer is one across Parquet, CSV and NDJSON', async () => {
  const dir = tempDir();
  // pandas with gaps in the column: Parquet DOUBLE, CSV 13869.0
  await duckdb([`COPY (SELECT '536365' AS InvoiceNo, '85123A' AS StockCode, 'HEART' AS Description, 6 AS Quantity,
    TIMESTAMP '2010-12-01 08:26:00' AS InvoiceDate, 2.55::DOUBLE AS UnitPrice, 13869.0::DOUBLE AS CustomerID, 'UK' AS Country
    UNION ALL SELECT '536366', '85123A', 'HEART', 1, TIMESTAMP '2010-12-01 09:00:00', 2.55, NULL, 'UK') TO '${join(dir, 'a.parquet')}' (FORMAT parquet)`]);
  writeFileSync(join(dir, 'b.csv'), `${HEADER}\n536367.0,85123A,HEART,6,2010-12-02 08:26:00,2.55,13869.0,UK\n536368,85123A,HEART,6,2010-12-02 09:26:00,2.55,13869,UK\n536369,85123A,HEART,6,2010-12-02 10:26:00,2.55,13869.5,UK\n`);
  writeFileSync(join(dir, 'c.ndjson'), '{"InvoiceNo":536370,"StockCode":"85123A","Description":"HEART","Quantity":1,"InvoiceDate":"2010-12-03 08:00:00","UnitPrice":2.55,"CustomerID":13869.0,"Country":"UK"}\n');
  const { s, lines } = await run([join(dir, 'a.parquet'), join(dir, 'b.csv'), join(dir, 'c.ndjson')]);
  assert.equal(s.rowsAccepted, 6);
  assert.deepEqual(lines.map((l) => [l.order_id, l.customer_id]), [
    ['536365', '13869'], ['536366', null], ['536367', '13869'], ['536368', '13869'], ['536369', '13869.5'], ['536370', '13869'],
  ]);
  assert.equal(s.warehouse.customers, 2, '13869 and 13869.5 (a fraction is not a float-stored integer)');
});

test('a timestamp pattern with an unknown token is refused when the mapping loads, naming the file, the key and the token', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'shop.yaml'), 'columns: { orderId: o, productId: p, quantity: q, unitPrice: u, timestamp: t }\ntimestamp: { format: "dd.MM.yyyy HH:mm" }\n');
  writeFileSync(join(dir, 'x.csv'), 'o,p,q,u,t\n1,2,3,4,5\n');
  const r = await floyo(['ingest', join(dir, 'x.csv'), '--mapping', join(dir, 'shop.yaml'), '--home', tempDir()]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^floyo: mapping file .*shop\.yaml: timestamp\.format: timestamp format "dd\.MM\.yyyy HH:mm": "dd" is not a pattern token \(did you mean DD\?\); the tokens are YYYY, YY, MM, M, DD, D, HH, H, hh, h, mm, ss, SSS, A, Z/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('dates auto cannot read without guessing day or month are quarantined with the patterns that would read them', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'us.csv'), `${HEADER}\n1,10001,A,1,1/4/2011 10:00,1.5,42,UK\n2,10001,A,1,1/5/2011 10:00,1.5,42,UK\n3,10001,A,1,13/4/2011 10:00,1.5,42,UK\n4,10001,A,1,soon,1.5,42,UK\n5,10001,A,1,2011-01-05 10:00:00,1.5,42,UK\n`);
  // (one readable row: a source with none fails as a whole, see test/data/ingest.test.ts)
  const { s, quarantine } = await run([join(dir, 'us.csv')]);
  assert.deepEqual(s.quarantinedByReason, {
    'not a timestamp (set timestamp.format: M/D/YYYY H:mm or D/M/YYYY H:mm): timestamp': 2,
    'not a timestamp (set timestamp.format: D/M/YYYY H:mm): timestamp': 1,
    'not a timestamp: timestamp': 1,
  });
  assert.deepEqual(quarantine.map((q) => q.value), ['1/4/2011 10:00', '1/5/2011 10:00', '13/4/2011 10:00', 'soon']);
});

test('.tsv files are read with tabs unless the mapping says otherwise; a header split by another delimiter says which', async () => {
  const dir = tempDir();
  const tsv = [HEADER, '536365,85123A,WHITE HEART, 6 PACK,6,2010-12-01 08:26:00,2.55,17850,United Kingdom'].map((l) => l.replace(/,(?! )/g, '\t')).join('\n') + '\n';
  writeFileSync(join(dir, 'sales.tsv'), tsv);
  writeFileSync(join(dir, 'zipped.tsv.gz'), gzipSync(tsv.replace('536365', '536366')));
  const { s, lines } = await run([join(dir, 'sales.tsv'), join(dir, 'zipped.tsv.gz')]);
  assert.equal(s.rowsAccepted, 2, JSON.stringify(s.sources));
  assert.deepEqual(lines.map((l) => l.order_id), ['536365', '536366']);
  // the mapping's delimiter wins over the extension
  const commas = parseMapping({ ...presetMapping('online-retail'), csv: { delimiter: ',' } }, 'commas');
  const forced = await run([join(dir, 'sales.tsv')], commas);
  assert.match(forced.s.sources[0].error!, /sales\.tsv: missing required columns .*; the header looks tab-separated: set csv\.delimiter: "\\t" in the mapping$/);
  // the same content named .csv, and a semicolon file: the error names the delimiter to set
  writeFileSync(join(dir, 'tabs.csv'), tsv);
  writeFileSync(join(dir, 'semi.csv'), tsv.replace(/\t/g, ';'));
  const named = await run([join(dir, 'tabs.csv'), join(dir, 'semi.csv')]);
  assert.match(named.s.sources[1].error!, /semi\.csv: missing required columns .*; the header looks semicolon-separated: set csv\.delimiter: ";" in the mapping$/);
  assert.match(named.s.sources[0].error!, /tabs\.csv: missing required columns .*; the header looks tab-separated: set csv\.delimiter: "\\t"/);
  // columns that are simply absent get no such hint
  writeFileSync(join(dir, 'other.csv'), 'a;b\n1;2\n');
  assert.doesNotMatch((await run([join(dir, 'other.csv')])).s.sources[0].error!, /looks/);
});

test('a .json file holding an array of objects is read element by element, whatever its layout', async () => {
  const dir = tempDir();
  const row = (order: number, extra = '') => `{"InvoiceNo": "${order}", "StockCode": "10001", "Description": "A [1], {x}",${extra}
    "Quantity": 2, "InvoiceDate": "2011-01-04 10:00:00", "UnitPrice": 1.95, "CustomerID": 13313, "Country": "UK"}`;
  writeFileSync(join(dir, 'orders.json'), `\ufeff[\n  ${row(1)},\n  ${row(2, ' "note": "a \\"quoted\\" ] bracket",')},\n  "not an object", \n  ${row(3)}\n]\n`);
  const { s, lines, quarantine } = await run([join(dir, 'orders.json')]);
  assert.equal(s.rowsRead, 4);
  assert.equal(s.rowsAccepted, 3);
  assert.deepEqual(s.quarantinedByReason, { 'not a JSON object': 1 });
  assert.deepEqual(lines.map((l) => [l.order_id, l.customer_id, l.unit_price]), [['1', '13313', 1.95], ['2', '13313', 1.95], ['3', '13313', 1.95]]);
  assert.deepEqual([quarantine[0].row, quarantine[0].line, quarantine[0].raw], [3, 6, '"not an object"']);
  // an array cut short, or followed by more text, fails the file with one message; nothing lands
  writeFileSync(join(dir, 'cut.json'), `[\n${row(1)},\n${row(2)}`);
  writeFileSync(join(dir, 'two.json'), `[${row(1)}]\n[${row(2)}]\n`);
  const bad = await run([join(dir, 'cut.json'), join(dir, 'two.json')]);
  assert.deepEqual(bad.s.sources.map((x) => x.status), ['failed', 'failed']);
  assert.match(bad.s.sources[0].error!, /cut\.json: not a JSON array of objects: the array is not closed \(the file ends inside it\) \(line 5\); NDJSON \(one object per line\) is read too/);
  assert.match(bad.s.sources[1].error!, /two\.json: not a JSON array of objects: there is more text after the array closes \(line 3\)/);
  assert.equal(bad.s.warehouse.rows, 0);
  // one JSON document spread over lines is neither
  writeFileSync(join(dir, 'doc.json'), '{\n  "orders": []\n}\n');
  assert.match((await run([join(dir, 'doc.json')])).s.sources[0].error!, /doc\.json: expected NDJSON \(one JSON object per line\) or a JSON array of objects/);
});

test('NDJSON lines that are not JSON share one reason; the parser\'s message is the value, the line the raw text', async () => {
  const dir = tempDir();
  const ok = '{"InvoiceNo":"1","StockCode":"10001","Description":"A","Quantity":1,"InvoiceDate":"2011-01-04 10:00:00","UnitPrice":1,"CustomerID":"1","Country":"UK"}';
  writeFileSync(join(dir, 'x.ndjson'), [ok, '{"InvoiceNo":"2",', '{"InvoiceNo" "3"}', ok.replace('"1"', '"4"').slice(0, 60) + '}', '[1,2]', ok].join('\n'));
  const { s, quarantine } = await run([join(dir, 'x.ndjson')]);
  assert.equal(s.rowsRead, 6);
  assert.deepEqual(s.quarantinedByReason, { 'invalid JSON': 3, 'not a JSON object': 1 });
  const invalid = quarantine.filter((q) => q.reason === 'invalid JSON');
  assert.deepEqual(invalid.map((q) => [q.row, q.line, q.field]), [[2, 2, null], [3, 3, null], [4, 4, null]]);
  assert.match(invalid[1].value!, /position 13/);
  assert.equal(invalid[0].raw, '{"InvoiceNo":"2",');
  assert.equal(quarantine.find((q) => q.reason === 'not a JSON object')!.value, 'an array');
});

test('every quarantined row carries its source text: the CSV line(s) as read, the NDJSON line, a JSON rendering of a Parquet row', async () => {
  const dir = tempDir();
  const semi = parseMapping({ ...presetMapping('online-retail'), csv: { delimiter: ';' } }, 'semicolons');
  const long = 'x'.repeat(10_000);
  writeFileSync(join(dir, 'semi.csv'), [
    HEADER.replace(/,/g, ';'),
    '1;10001;OK;1;2011-01-01 10:00:00;1,5;42;UK',
    '2;10001;TOO FEW;1',
    '3;10001;"two\nlines";-1;2011-01-01 10:00:00;-1;42;UK',
    `4;10001;${long};two;2011-01-01 10:00:00;1;42;UK`,
    '5;;NO PRODUCT;1;2011-01-01 10:00:00;1;42;UK',
    '6;10001;GOOD;1;2011-01-01 10:00:00;1.5;42;UK', // a source with no usable row fails as a whole
  ].join('\r\n') + '\r\n');
  const csv = await run([join(dir, 'semi.csv')], semi);
  const byRow = new Map(csv.quarantine.map((q) => [q.row, q]));
  assert.equal(byRow.get(1)!.raw, '1;10001;OK;1;2011-01-01 10:00:00;1,5;42;UK', 'a price with a decimal comma is not a number here');
  assert.equal(byRow.get(2)!.raw, '2;10001;TOO FEW;1');
  assert.equal(byRow.get(2)!.reason, 'wrong number of fields (expected 8, got 4)');
  assert.equal(byRow.get(3)!.raw, '3;10001;"two\nlines";-1;2011-01-01 10:00:00;-1;42;UK');
  assert.equal(byRow.get(3)!.line, 4);
  assert.equal(byRow.get(4)!.raw!.length, RAW_MAX_CHARS + `… [${10_030 + 13 - RAW_MAX_CHARS} more characters]`.length);
  assert.match(byRow.get(4)!.raw!, /^4;10001;x+… \[\d+ more characters\]$/);
  assert.equal(byRow.get(5)!.raw, '5;;NO PRODUCT;1;2011-01-01 10:00:00;1;42;UK');
  assert.ok(csv.quarantine.every((q) => typeof q.raw === 'string'));

  const line = '{"InvoiceNo":"7","StockCode":"10001","Description":"A","Quantity":"lots","InvoiceDate":"2011-01-04 10:00:00","UnitPrice":1,"CustomerID":"1","Country":"UK"}';
  writeFileSync(join(dir, 'x.ndjson'), `${line}\n${line.replace('"lots"', '1')}\n`);
  assert.equal((await run([join(dir, 'x.ndjson')])).quarantine[0].raw, line);

  await duckdb([`COPY (SELECT '8' AS InvoiceNo, '10001' AS StockCode, NULL AS Description, -2 AS Quantity, TIMESTAMP '2011-01-04 10:00:00' AS InvoiceDate,
    -1.25::DECIMAL(6,2) AS UnitPrice, 42.0::DOUBLE AS CustomerID, 'UK' AS Country
    UNION ALL SELECT '9', '10001', 'A', 1, TIMESTAMP '2011-01-04 10:00:00', 1.25, 42.0, 'UK') TO '${join(dir, 'x.parquet')}' (FORMAT parquet)`]);
  const pq = (await run([join(dir, 'x.parquet')])).quarantine[0];
  assert.equal(pq.reason, 'negative price');
  assert.deepEqual(JSON.parse(pq.raw!), {
    InvoiceNo: '8', StockCode: '10001', Description: null, Quantity: -2, InvoiceDate: '2011-01-04 10:00:00', UnitPrice: -1.25, CustomerID: 42, Country: 'UK',
  });
});

test('a Latin-1 file read as UTF-8 is warned about, naming the file, the first bad line and csv.encoding', async () => {
  const dir = tempDir();
  const text = `${HEADER}\n1,10001,PLAIN,1,2011-01-01 10:00:00,1.5,42,UK\n2,10001,CRÈME BRÛLÉE,1,2011-01-01 10:00:00,1.5,42,Österreich\n`;
  writeFileSync(join(dir, 'latin1.csv'), Buffer.from(text, 'latin1'));
  writeFileSync(join(dir, 'utf8.csv'), `${text}3,10001,REPLACEMENT \ufffd IN THE FILE,1,2011-01-01 10:00:00,1.5,42,UK\n`);
  const warned = await run([join(dir, 'latin1.csv'), join(dir, 'utf8.csv')]);
  assert.equal(warned.s.rowsAccepted, 5, 'the rows still land');
  assert.equal(
    warned.stderr,
    `floyo: warning: ${join(dir, 'latin1.csv')}: not valid UTF-8 from line 3 on (bad bytes were read as U+FFFD); ` +
      'if the file is Latin-1 (ISO-8859-1), set csv.encoding: latin1 in the mapping (encodings: utf-8, latin1)\n',
    'one warning, for the Latin-1 file only',
  );
  const latin1 = parseMapping({ ...presetMapping('online-retail'), csv: { encoding: 'latin1' } }, 'latin1');
  const right = await run([join(dir, 'latin1.csv')], latin1);
  assert.equal(right.stderr, '');
  const home = tempDir();
  const r = await floyo(['ingest', join(dir, 'latin1.csv'), '--home', home, '--json', '-q']);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^floyo: warning: .*latin1\.csv: not valid UTF-8 from line 3 on/);
});

// What the readers hand the mapping, end to end through ingest(): typed values stay typed, ids read the same
// from every format, delimiters, JSON arrays, raw text in the quarantine, and encodings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { rowRules } from '../../src/cli/ingest.js';
import { silentProgress } from '../../src/cli/progress.js';
import { ConfigSchema } from '../../src/config.js';
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
  product_name: string | null;
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
      rules: rowRules(ConfigSchema.parse({}).ingest), progress: () => silentProgress(),
    });
    lines = await warehouse.query<Line>(
      `SELECT row_number, order_id, customer_id, product_id, product_name, quantity, unit_price, strftime(ts, '%Y-%m-%d %H:%M:%S') AS ts FROM transactions ORDER BY order_id, row_number`,
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
  assert.match(forced.s.sources[0].error!, /sales\.tsv: missing required columns .*; read with the mapping \(commas\); the header looks tab-separated: set csv\.delimiter: "\\t" in the mapping$/);
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

test('a CSV named .ndjson, or NDJSON named .csv, fails at once saying which format it looks like, not that the mapping does not fit', async () => {
  const dir = tempDir();
  const csv = `${HEADER}\n536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n`;
  writeFileSync(join(dir, 'x.ndjson'), csv);
  writeFileSync(join(dir, 'y.ndjson.gz'), gzipSync(csv));
  writeFileSync(join(dir, 'z.csv'), '{"InvoiceNo":"536365","StockCode":"85123A"}\n');
  writeFileSync(join(dir, 'w.csv'), '[\n  {"InvoiceNo":"536365"}\n]\n');
  const { s } = await run(['x.ndjson', 'y.ndjson.gz', 'z.csv', 'w.csv'].map((f) => join(dir, f)));
  assert.deepEqual(s.sources.map((x) => x.status), ['failed', 'failed', 'failed', 'failed']);
  const looksCsv = (f: string) => `${join(dir, f)}: this does not look like NDJSON or a JSON array: line 1 looks like CSV ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPri…"); use --format csv, or name the file .csv`;
  assert.equal(s.sources[0].error, looksCsv('x.ndjson'));
  assert.equal(s.sources[1].error, looksCsv('y.ndjson.gz'));
  assert.equal(s.sources[2].error, `${join(dir, 'z.csv')}: this does not look like CSV: line 1 starts with "{", as NDJSON or JSON does; use --format ndjson, or name the file .ndjson`);
  assert.match(s.sources[3].error!, /w\.csv: this does not look like CSV: line 1 starts with "\["/);
  assert.equal(s.rowsRead, 0);
});

test('gzip and Parquet are read by their content whatever the name says, with a note; an override the content contradicts is refused', async () => {
  const dir = tempDir();
  const csv = `${HEADER}\n536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n`;
  writeFileSync(join(dir, 'plain.csv.gz'), csv);
  writeFileSync(join(dir, 'packed.csv'), gzipSync(csv.replace('536365', '536366')));
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  writeFileSync(join(dir, 'src.csv'), csv.replace('536365', '536367'));
  await db.run(`COPY (SELECT * FROM read_csv('${join(dir, 'src.csv')}', all_varchar=true)) TO '${join(dir, 'table.csv')}' (FORMAT parquet)`);
  db.closeSync();
  const { s, lines, stderr } = await run(['plain.csv.gz', 'packed.csv', 'table.csv'].map((f) => join(dir, f)));
  assert.deepEqual(s.sources.map((x) => [x.status, x.format]), [['ingested', 'csv'], ['ingested', 'csv.gz'], ['ingested', 'parquet']]);
  assert.deepEqual(lines.map((l) => l.order_id), ['536365', '536366', '536367']);
  const notes = [
    `${join(dir, 'plain.csv.gz')}: the name says csv.gz, but the file is not gzip-compressed: read as csv`,
    `${join(dir, 'packed.csv')}: the name says csv, but the file is gzip-compressed: read as csv.gz`,
    `${join(dir, 'table.csv')}: the name says csv, but the file is Parquet: read as parquet`,
  ];
  assert.deepEqual(s.sources.map((x) => x.formatNote), notes);
  assert.equal(stderr, '', 'ingest() reports; the CLI warns');
  const cli = await floyo(['ingest', join(dir, 'plain.csv.gz'), '--home', tempDir(), '-q']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stderr, `floyo: warning: ${notes[0]}\n`);
  // --format says what the content is; gzip read as plain text would be nothing but errors
  const forced = await floyo(['ingest', join(dir, 'packed.csv'), '--format', 'csv', '--home', tempDir(), '--json', '-q']);
  assert.equal(forced.code, 2);
  assert.equal(forced.json<IngestSummary>().sources[0].error, `${join(dir, 'packed.csv')}: format csv was asked for, but the file is gzip-compressed (use --format csv.gz, or auto)`);
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

test('an NDJSON object or array where a value belongs is quarantined naming the field, not stored as its JSON text; "NULL" is a guest', async () => {
  const dir = tempDir();
  const line = (customer: string, quantity = '1') =>
    `{"InvoiceNo":"1","StockCode":"10001","Description":"A","Quantity":${quantity},"InvoiceDate":"2011-01-04 10:00:00","UnitPrice":1,"CustomerID":${customer},"Country":"UK"}`;
  writeFileSync(join(dir, 'x.ndjson'), [line('{"id":5}'), line('"7"', '[1,2]'), line('["a"]'), line('"NULL"'), line('null'), line('"8"')].join('\n') + '\n');
  const { s, lines, quarantine } = await run([join(dir, 'x.ndjson')]);
  assert.deepEqual(s.quarantinedByReason, { 'not a single value: customerId': 2, 'not a single value: quantity': 1 });
  assert.deepEqual(quarantine.map((q) => [q.row, q.field, q.value]), [[1, 'customerId', '{"id":5}'], [2, 'quantity', '[1,2]'], [3, 'customerId', '["a"]']]);
  assert.deepEqual(lines.map((l) => l.customer_id), [null, null, '8']);
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

test('a file that is not valid UTF-8 fails, naming the line, the byte offset and csv.encoding; it ingests once the mapping says latin1', async () => {
  const dir = tempDir();
  const text = `${HEADER}\n1,10001,PLAIN,1,2011-01-01 10:00:00,1.5,42,UK\n2,10001,CRÈME BRÛLÉE,1,2011-01-01 10:00:00,1.5,42,Österreich\n`;
  const badAt = Buffer.from(text, 'latin1').indexOf(0xc8); // the È
  writeFileSync(join(dir, 'latin1.csv'), Buffer.from(text, 'latin1'));
  writeFileSync(join(dir, 'latin1.csv.gz'), gzipSync(Buffer.from(text, 'latin1')));
  const ndjson = Buffer.from(
    '{"InvoiceNo":"1","StockCode":"10001","Description":"A","Quantity":1,"InvoiceDate":"2011-01-01 10:00:00","UnitPrice":1,"CustomerID":"Müller","Country":"UK"}\n', 'latin1');
  writeFileSync(join(dir, 'latin1.ndjson'), ndjson);
  // valid UTF-8, with a U+FFFD written in it: fine
  writeFileSync(join(dir, 'utf8.csv'), `${text}3,10001,REPLACEMENT \ufffd IN THE FILE,1,2011-01-01 10:00:00,1.5,42,UK\n`);
  const failed = await run([join(dir, 'latin1.csv'), join(dir, 'latin1.csv.gz'), join(dir, 'latin1.ndjson'), join(dir, 'utf8.csv')]);
  assert.deepEqual(failed.s.sources.map((x) => x.status), ['failed', 'failed', 'failed', 'ingested']);
  assert.equal(failed.s.sources[0].error,
    `${join(dir, 'latin1.csv')}: not valid UTF-8: line 3, byte offset ${badAt} (byte 0xc8). If the file is Windows-1252 (most exports made on Windows; ` +
      'it also reads Latin-1 text), set csv.encoding: windows-1252 in the mapping (encodings: utf-8, windows-1252, latin1); nothing from this file was ingested');
  assert.match(failed.s.sources[1].error!, new RegExp(`latin1\\.csv\\.gz: not valid UTF-8: line 3, byte offset ${badAt} of the uncompressed data \\(byte 0xc8\\)`));
  assert.match(failed.s.sources[2].error!, new RegExp(`latin1\\.ndjson: not valid UTF-8: line 1, byte offset ${ndjson.indexOf(0xfc)} \\(byte 0xfc\\)\\. .*csv\\.encoding: windows-1252`));
  assert.equal(failed.s.sources[3].rowsAccepted, 3);
  assert.equal(failed.stderr, '');
  assert.equal(failed.s.warehouse.rows, 3, 'only the UTF-8 file landed');
  // not recorded as ingested: the fixed mapping reads it without --replace
  const latin1 = parseMapping({ ...presetMapping('online-retail'), csv: { encoding: 'latin1' } }, 'latin1');
  const home = tempDir();
  const first = await floyo(['ingest', join(dir, 'latin1.csv'), '--home', home, '--json', '-q']);
  assert.equal(first.code, 2);
  writeFileSync(join(dir, 'latin1.json'), JSON.stringify(latin1));
  const fixed = await floyo(['ingest', join(dir, 'latin1.csv'), '--mapping', join(dir, 'latin1.json'), '--home', home, '--json', '-q']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(fixed.json<IngestSummary>().rowsAccepted, 2);
});

test('csv.encoding: windows-1252 reads the characters Windows puts at 0x80-0x9F (€ – ’), which latin1 reads as control characters', async () => {
  const dir = tempDir();
  // € 0x80, – 0x96, ’ 0x92, Ÿ 0x9f; é 0xe9 as in Latin-1
  const bytes = (text: string, high: Record<string, number>) => Buffer.from([...text].map((c) => high[c] ?? c.charCodeAt(0)));
  const windows1252 = { '€': 0x80, '–': 0x96, '’': 0x92, 'Ÿ': 0x9f };
  const names = ['MUG €5 – BLUE', 'BAKER’S CAFé', 'Ÿ'];
  const text = `${HEADER}\n${names.map((n, i) => `${i + 1},10001,${n},1,2011-01-01 10:00:00,1.5,42,UK`).join('\n')}\n`;
  writeFileSync(join(dir, 'win.csv'), bytes(text, windows1252));
  writeFileSync(join(dir, 'win.csv.gz'), gzipSync(bytes(text, windows1252)));
  const mapping = (encoding: string) => parseMapping({ ...presetMapping('online-retail'), csv: { encoding } }, encoding);
  const { s, lines } = await run([join(dir, 'win.csv'), join(dir, 'win.csv.gz')], mapping('windows-1252'));
  assert.equal(s.rowsAccepted, 6);
  assert.deepEqual(lines.map((l) => l.product_name), names, 'the gzip copy holds the same orders, and replaced them alike');
  const latin1 = await run([join(dir, 'win.csv')], mapping('latin1'));
  assert.equal(latin1.lines[0].product_name, 'MUG \u00805 \u0096 BLUE');
});

test('UTF-8 characters split across read chunks are not mistaken for invalid bytes; an invalid byte deep in a file is found exactly', async () => {
  const dir = tempDir();
  // the file is read 64 KiB at a time: put multi-byte characters (a U+FFFD among them) across every boundary
  const row = (i: number, name: string) => `${i},10001,${name},1,2011-01-01 10:00:00,1.5,42,UK\n`;
  let text = `${HEADER}\n`;
  let i = 0;
  while (Buffer.byteLength(text) < 300_000) {
    text += row(++i, `${'x'.repeat(i % 7)}\ufffd€日本😀`);
    // and a U+FFFD exactly across the first boundary: its bytes EF | BF BD in two chunks
    const size = Buffer.byteLength(text);
    if (size > 65_400 && size < 65_500) text += row(++i, 'x'.repeat(65_535 - size - `${i},10001,`.length) + '\ufffd');
  }
  assert.equal(Buffer.from(text).indexOf(Buffer.from('\ufffd'), 65_500), 65_535);
  writeFileSync(join(dir, 'utf8.csv'), text);
  const ok = await run([join(dir, 'utf8.csv')]);
  assert.equal(ok.s.sources[0].status, 'ingested', ok.s.sources[0].error);
  assert.equal(ok.s.rowsAccepted, i);
  // one Latin-1 byte after the first chunk: its line and offset
  const bytes = Buffer.concat([Buffer.from(text), Buffer.from(row(i + 1, 'caf\xe9'), 'latin1')]);
  writeFileSync(join(dir, 'late.csv'), bytes);
  const late = await run([join(dir, 'late.csv')]);
  assert.match(late.s.sources[0].error!, new RegExp(`late\\.csv: not valid UTF-8: line ${i + 2}, byte offset ${bytes.indexOf(0xe9, Buffer.byteLength(text))} \\(byte 0xe9\\)`));
  assert.equal(late.s.warehouse.rows, 0);
  // a file that ends inside a character
  const cut = Buffer.concat([Buffer.from(`${text}${i + 1},10001,`), Buffer.from('€').subarray(0, 2)]);
  writeFileSync(join(dir, 'cut.csv'), cut);
  assert.match((await run([join(dir, 'cut.csv')])).s.sources[0].error!, new RegExp(`cut\\.csv: not valid UTF-8: line ${i + 2}, byte offset ${cut.length - 2} \\(byte 0xe2\\)`));
});

test('line ends inside a quoted value (CRLF, a lone CR, a lone LF) land with the text exactly as written, from CSV and NDJSON', async () => {
  const dir = tempDir();
  const names = ['multi\r\nline', 'lone\rreturn', 'lone\nfeed', 'tab\there "quoted"', 'end\r\n\r\nof text'];
  const csvField = (t: string) => `"${t.replace(/"/g, '""')}"`;
  writeFileSync(join(dir, 'crlf.csv'), [HEADER, ...names.map((n, i) => `a${i},85123A,${csvField(n)},6,2010-12-01 08:26:00,2.55,17850,UK`)].join('\r\n') + '\r\n');
  writeFileSync(join(dir, 'lf.csv'), [HEADER, ...names.map((n, i) => `b${i},85123A,${csvField(n)},6,2010-12-01 08:26:00,2.55,17850,UK`)].join('\n') + '\n');
  writeFileSync(join(dir, 'crlf.ndjson'), names.map((n, i) => JSON.stringify({
    InvoiceNo: `c${i}`, StockCode: '85123A', Description: n, Quantity: 6, InvoiceDate: '2010-12-01 08:26:00', UnitPrice: 2.55, CustomerID: '17850', Country: 'UK',
  })).join('\r\n') + '\r\n');
  const { s, lines } = await run([join(dir, 'crlf.csv'), join(dir, 'lf.csv'), join(dir, 'crlf.ndjson')]);
  assert.deepEqual(s.sources.map((x) => [x.status, x.error]), [['ingested', undefined], ['ingested', undefined], ['ingested', undefined]]);
  assert.equal(s.rowsAccepted, 15);
  assert.deepEqual(lines.map((l) => l.product_name), [...names, ...names, ...names], 'byte for byte');
});

test('with a thousands separator, only well-formed groups are numbers: 2.50 under "." is quarantined, not read as 250', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'de.csv'), [
    'order,customer,product,qty,price,ts',
    '1,a,A,1.000,"1.234,50",24.12.2024 18:30',
    '2,a,B,1,2.50,24.12.2024 18:30',
    '3,a,C,1.2.3,"4,90",24.12.2024 18:30',
  ].join('\n') + '\n');
  const { s, lines, quarantine } = await run([join(dir, 'de.csv')], germanMapping());
  assert.deepEqual(lines.map((l) => [l.order_id, l.quantity, l.unit_price]), [['1', 1000, 1234.5]]);
  assert.deepEqual(s.quarantinedByReason, { 'not a number: unitPrice': 1, 'not a number: quantity': 1 });
  assert.deepEqual(quarantine.map((q) => [q.row, q.field, q.value]), [[2, 'unitPrice', '2.50'], [3, 'quantity', '1.2.3']]);
});

test('a header naming a column the mapping reads twice fails the file, naming the column; an unused duplicate is harmless', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'twice.csv'), `${HEADER},Quantity\n1,10001,A,1,2011-01-01 10:00:00,1.5,42,UK,5\n`);
  writeFileSync(join(dir, 'unused.csv'), `${HEADER},Note,Note,,\n1,10001,A,1,2011-01-01 10:00:00,1.5,42,UK,x,y,,\n`);
  const { s } = await run([join(dir, 'twice.csv'), join(dir, 'unused.csv')]);
  assert.equal(s.sources[0].status, 'failed');
  assert.equal(s.sources[0].error,
    `${join(dir, 'twice.csv')}: the header has 2 columns named "Quantity" (columns 4, 9), and the mapping (preset online-retail) reads "Quantity": rename the one that should not be read`);
  assert.equal(s.sources[1].status, 'ingested');
  assert.equal(s.rowsAccepted, 1);
  assert.equal(s.warehouse.rows, 1);
});

test('an IANA time zone: wall-clock times read with daylight saving, from text and from Parquet TIMESTAMP; an unknown zone names the key', async () => {
  const dir = tempDir();
  const berlin = (column: string) => parseMapping({
    columns: { orderId: 'order', productId: 'product', quantity: 'qty', unitPrice: 'price', timestamp: column },
    timestamp: { format: 'auto', timezone: 'Europe/Berlin' },
  }, 'berlin');
  // winter (+01:00), summer (+02:00), the hour skipped on 2024-03-31 (02:30 → 03:30 CEST) and the one repeated on 2024-10-27 (the first 02:30)
  const local = ['2024-01-15 12:00:00', '2024-07-15 12:00:00', '2024-03-31 02:30:00', '2024-10-27 02:30:00'];
  const utc = ['2024-01-15 11:00:00', '2024-07-15 10:00:00', '2024-03-31 01:30:00', '2024-10-27 00:30:00'];
  writeFileSync(join(dir, 'shop.csv'), ['order,product,qty,price,ts', ...local.map((t, i) => `${i + 1},P,1,1,${t}`)].join('\n') + '\n');
  const text = await run([join(dir, 'shop.csv')], berlin('ts'));
  assert.deepEqual(text.lines.map((l) => l.ts), utc);
  await duckdb([`COPY (SELECT * FROM (VALUES ${local.map((t, i) => `('${i + 1}', 'P', 1, 1.0, TIMESTAMP '${t}')`).join(', ')}) t("order", product, qty, price, ts)) TO '${join(dir, 'shop.parquet')}' (FORMAT parquet)`]);
  const parquet = await run([join(dir, 'shop.parquet')], berlin('ts'));
  assert.deepEqual(parquet.lines.map((l) => l.ts), utc);
  writeFileSync(join(dir, 'mars.yaml'), 'columns: { orderId: order, productId: product, quantity: qty, unitPrice: price, timestamp: ts }\ntimestamp: { timezone: Mars/Olympus }\n');
  const r = await floyo(['ingest', join(dir, 'shop.csv'), '--mapping', join(dir, 'mars.yaml'), '--home', tempDir()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^floyo: mapping file .*mars\.yaml: timestamp\.timezone: timezone "Mars\/Olympus" is not understood; use UTC, a fixed offset such as \+01:00, or a zone name such as Europe\/Berlin\n$/);
});

test('a source none of whose rows could be used fails, but keeps its counts, and its rows are in the quarantine file', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'bad.csv'), `${HEADER}\n1,10001,A,lots,2011-01-01 10:00:00,1.5,42,UK\n2,10001,B,1,2011-01-01 10:00:00,cheap,42,UK\n3,POST,Postage,1,2011-01-01 10:00:00,5,42,UK\n`);
  writeFileSync(join(dir, 'good.csv'), `${HEADER}\n4,10001,A,1,2011-01-01 10:00:00,1.5,42,UK\n`);
  const { s, quarantine } = await run([join(dir, 'bad.csv'), join(dir, 'good.csv')]);
  const [bad] = s.sources;
  assert.equal(bad.status, 'failed');
  assert.match(bad.error!, /bad\.csv: no row could be used: 2 of 3 quarantined/);
  assert.deepEqual([bad.rowsRead, bad.rowsAccepted, bad.rowsQuarantined, bad.rowsExcluded], [3, 0, 2, 1]);
  assert.deepEqual(bad.quarantinedByReason, { 'not a number: quantity': 1, 'not a number: unitPrice': 1 });
  assert.deepEqual(quarantine.map((q) => [q.source, q.row, q.field, q.value]), [[join(dir, 'bad.csv'), 1, 'quantity', 'lots'], [join(dir, 'bad.csv'), 2, 'unitPrice', 'cheap']]);
  // the totals are those of the ingested sources, as in the warehouse: nothing of the failed one landed
  assert.deepEqual([s.rowsRead, s.rowsAccepted, s.rowsQuarantined, s.warehouse.rows], [1, 1, 0, 1]);
});

test('Parquet NaN and Infinity in a quantity or price are quarantined as not a finite number, shown as such; a NaN id is still no id', async () => {
  const dir = tempDir();
  const file = join(dir, 'nan.parquet');
  await duckdb([`COPY (SELECT * FROM (VALUES
      ('1', 'A', 'nan'::DOUBLE, 1.5::DOUBLE, 'nan'::DOUBLE),
      ('2', 'A', 1::DOUBLE, 'inf'::DOUBLE, 42::DOUBLE),
      ('3', 'A', 1::DOUBLE, '-inf'::FLOAT, 42::DOUBLE),
      ('4', 'A', 2::DOUBLE, 1.5::DOUBLE, 'nan'::DOUBLE)
    ) t(InvoiceNo, StockCode, Quantity, UnitPrice, CustomerID)) TO '${file}' (FORMAT parquet)`]);
  const mapping = parseMapping({
    columns: { orderId: 'InvoiceNo', productId: 'StockCode', quantity: 'Quantity', unitPrice: 'UnitPrice', timestamp: { value: '2011-01-01 10:00:00' }, customerId: 'CustomerID' },
  }, 'nan');
  const { s, lines, quarantine } = await run([file], mapping);
  assert.deepEqual(s.quarantinedByReason, { 'not a finite number: quantity': 1, 'not a finite number: unitPrice': 2 });
  assert.deepEqual(quarantine.map((q) => [q.row, q.field, q.value]), [[1, 'quantity', 'NaN'], [2, 'unitPrice', 'Infinity'], [3, 'unitPrice', '-Infinity']]);
  assert.equal(JSON.parse(quarantine[0].raw!).Quantity, 'NaN');
  assert.equal(JSON.parse(quarantine[1].raw!).UnitPrice, 'Infinity');
  assert.deepEqual(lines.map((l) => [l.order_id, l.customer_id, l.quantity]), [['4', null, 2]]);
});

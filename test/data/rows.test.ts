// The row mapper on its own: what each record becomes (accepted, quarantined with field and reason, excluded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMapping, presetMapping, type Mapping } from '../../src/data/mapping.js';
import { FloyoError } from '../../src/errors.js';
import { createRowMapper, isNullPlaceholder, OrderIdSet, type CanonicalLine, type Quarantined, type RowRules, type SourceRecord } from '../../src/data/rows.js';

const RULES: RowRules = { earliestAllowedTs: Date.UTC(1990, 0, 1), latestAllowedTs: Date.UTC(2030, 0, 1), maxAbsQuantity: 1e6, maxUnitPrice: 1e6 };
const UCI_COLUMNS = ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'];

/** Maps records (cell texts, or whole SourceRecords) and returns where each went. */
function mapRows(mapping: Mapping, columns: string[], records: Array<string[] | Partial<SourceRecord>>, rules: RowRules = RULES) {
  const accepted: CanonicalLine[] = [];
  const quarantined: Quarantined[] = [];
  const excluded: string[] = [];
  const refundsBeyondLines: number[] = [];
  const mapper = createRowMapper(mapping, columns, 'test.csv', rules, {
    accept: (l) => accepted.push(l),
    quarantine: (q) => quarantined.push(q),
    exclude: (reason) => excluded.push(reason),
    refundBeyondLines: (excess) => refundsBeyondLines.push(excess),
  });
  records.forEach((r, k) => mapper.push(Array.isArray(r) ? { values: r, row: k + 1, line: k + 2 } : { values: [], row: k + 1, line: k + 2, ...r }));
  mapper.end();
  assert.equal(accepted.length + quarantined.length + excluded.length, records.length, 'every record ends in one place');
  return { accepted, quarantined, excluded, refundsBeyondLines, reasons: quarantined.map((q) => [q.field, q.reason, q.value]) };
}

const uci = (date: string, customer = '17850', stock = '85123A', invoice = '536365') => [invoice, stock, 'HEART', '6', date, '2.55', customer, 'United Kingdom'];

function simpleMapping(timestamp: { format?: string; timezone?: string } = {}, columns: Record<string, unknown> = {}): Mapping {
  return parseMapping({ columns: { orderId: 'o', customerId: 'c', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't', ...columns }, timestamp }, 'simple');
}

test('timestamps before ingest.notBefore are quarantined naming the bound; unix-ms seconds are told to use unix', () => {
  const seconds = simpleMapping({ format: 'unix' });
  const row = (t: string) => ['1', 'c1', 'p1', '1', '2', t];
  const unix = mapRows(seconds, ['o', 'c', 'p', 'q', 'u', 't'], [row('0'), row('-1'), row('631152000'), row('631151999')]);
  assert.deepEqual(unix.reasons, [
    ['timestamp', 'before 1990-01-01 (ingest.notBefore)', '0'],
    ['timestamp', 'before 1990-01-01 (ingest.notBefore)', '-1'],
    ['timestamp', 'before 1990-01-01 (ingest.notBefore)', '631151999'],
  ]);
  assert.deepEqual(unix.accepted.map((l) => new Date(l.ts).toISOString()), ['1990-01-01T00:00:00.000Z'], 'the bound itself is allowed');
  // seconds read as milliseconds land in January 1970; only then is the hint given
  const ms = mapRows(simpleMapping({ format: 'unix-ms' }), ['o', 'c', 'p', 'q', 'u', 't'], [row('1700000000'), row('5'), row('1700000000000')]);
  assert.deepEqual(ms.reasons, [
    ['timestamp', 'before 1990-01-01 (ingest.notBefore); looks like seconds: use format unix', '1700000000'],
    ['timestamp', 'before 1990-01-01 (ingest.notBefore)', '5'],
  ]);
  assert.equal(ms.accepted[0].ts, 1700000000000);
  // year 0001, read as such (it used to become 1901), and a bound set to another day
  const auto = mapRows(presetMapping('online-retail'), UCI_COLUMNS, [uci('0001-01-01T00:00:00Z'), uci('2009-12-31 23:59:59'), uci('2010-01-01 00:00:00')],
    { ...RULES, earliestAllowedTs: Date.UTC(2010, 0, 1) });
  assert.deepEqual(auto.reasons, [
    ['timestamp', 'before 2010-01-01 (ingest.notBefore)', '0001-01-01T00:00:00Z'],
    ['timestamp', 'before 2010-01-01 (ingest.notBefore)', '2009-12-31 23:59:59'],
  ]);
  assert.equal(auto.accepted.length, 1);
});

test('null placeholders are no ids: a NULL customer is a guest, a NULL product or order is missing, a fallback is read instead', () => {
  const placeholders = ['NULL', 'null', 'nan', 'NaN', 'None', 'N/A', 'n/a', 'NA', '#N/A', 'undefined', 'UNDEFINED', ' NULL '];
  const ids = ['Nancy', 'NULLS', 'NA1', 'n', 'nil', 'Undefinedly', '#NA', '-', '17850', ''];
  for (const p of placeholders) assert.ok(isNullPlaceholder(p.trim()), p);
  for (const id of ids) assert.ok(!isNullPlaceholder(id), id);

  const guests = mapRows(presetMapping('online-retail'), UCI_COLUMNS, [...placeholders, ...ids].map((c) => uci('2011-01-01 10:00:00', c)));
  assert.deepEqual(guests.accepted.map((l) => l.customerId), [...placeholders.map(() => null), ...ids.map((id) => id || null)]);

  const missing = mapRows(presetMapping('online-retail'), UCI_COLUMNS, [uci('2011-01-01 10:00:00', '1', 'NULL'), uci('2011-01-01 10:00:00', '1', '85123A', 'N/A'), uci('2011-01-01 10:00:00', '1', '')]);
  assert.deepEqual(missing.reasons, [['productId', 'missing value', 'NULL'], ['orderId', 'missing value', 'N/A'], ['productId', 'missing value', '']]);

  // a placeholder falls through to the fallback column, as an empty value does
  const fallback = simpleMapping({}, { productId: { column: 'sku', fallback: 'name' } });
  const read = mapRows(fallback, ['o', 'c', 'sku', 'name', 'q', 'u', 't'], [['1', 'NaN', 'N/A', 'Board', '1', '2', '2011-01-01']]);
  assert.deepEqual(read.accepted.map((l) => [l.customerId, l.productId]), [[null, 'Board']]);
});

test('a header line repeated mid-file is quarantined as one, not as a bad number or a non-product code', () => {
  const header = [...UCI_COLUMNS];
  header[0] = '\ufeffInvoiceNo'; // the second export's BOM
  // the preset's business rules would exclude it as a non-product code
  const preset = mapRows(presetMapping('online-retail'), UCI_COLUMNS, [uci('2011-01-01 10:00:00'), header, UCI_COLUMNS.map((c) => ` ${c} `)]);
  assert.deepEqual(preset.reasons, [[null, 'repeated header line', null], [null, 'repeated header line', null]]);
  assert.deepEqual(preset.excluded, []);
  const plain = simpleMapping();
  const columns = ['o', 'c', 'p', 'q', 'u', 't'];
  const r = mapRows(plain, columns, [columns, ['o', 'c', 'p', 'q', 'u', 'x']]);
  assert.deepEqual(r.reasons, [[null, 'repeated header line', null], ['quantity', 'not a number', 'q']], 'a row that only resembles the header keeps its reason');
});

test('an object or array where a value belongs is quarantined naming the field; one only a business rule reads is kept', () => {
  const mapping = parseMapping({
    columns: { orderId: 'o', customerId: 'customer', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' },
    exclude: [{ reason: 'test order', when: [{ column: 'tags', matches: '"test"' }] }],
  }, 'nested');
  const columns = ['o', 'customer', 'p', 'q', 'u', 't', 'tags'];
  const r = mapRows(mapping, columns, [
    { values: ['1', '{"id":5}', 'p1', '1', '2', '2011-01-01', ''], nested: [1] },
    { values: ['2', 'c2', 'p1', '[1,2]', '2', '2011-01-01', ''], nested: [3] },
    { values: ['3', 'c3', 'p1', '1', '2', '2011-01-01', '["vip"]'], nested: [6] },
    { values: ['4', 'c4', 'p1', '1', '2', '2011-01-01', '["test"]'], nested: [6] },
  ]);
  assert.deepEqual(r.reasons, [['customerId', 'not a single value', '{"id":5}'], ['quantity', 'not a single value', '[1,2]']]);
  assert.deepEqual(r.accepted.map((l) => l.orderId), ['3']);
  assert.deepEqual(r.excluded, ['test order']);
});

test('every column the mapping reads must be in the file: optional fields, fallbacks, order-level columns and rule columns too', () => {
  const columns = ['o', 'c', 'p', 'q', 'u', 't'];
  const refuse = (mapping: Mapping, message: RegExp) =>
    assert.throws(() => createRowMapper(mapping, columns, 'sales.csv', RULES, { accept() {}, quarantine() {}, exclude() {} }), message);
  const file = /the file has "o", "c", "p", "q", "u", "t"\); read with the mapping \(m\)/;
  const mapping = (extra: Record<string, unknown>) =>
    parseMapping({ columns: { orderId: 'o', customerId: 'c', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' }, ...extra }, 'm');
  refuse(mapping({ columns: { orderId: 'o', customerId: 'customer', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't', country: 'Land', currency: 'Currency' } }),
    /: sales\.csv: missing required columns "customer" \(columns\.customerId\), "Land" \(columns\.country\), "Currency" \(columns\.currency\) \(the file/);
  refuse(mapping({ exclude: [{ reason: 'cancelled', when: [{ column: 'Status', in: ['storniert'] }] }] }), /missing required column "Status" \(exclude\[0\]\.when\[0\]\.column\) /);
  refuse(mapping({ orderLevelColumns: ['Currency'], columns: { orderId: 'o', productId: { column: 'p', fallback: 'name' }, quantity: 'q', unitPrice: 'u', timestamp: 't', currency: 'Currency' } }),
    /missing required columns "name" \(columns\.productId\.fallback\), "Currency" \(columns\.currency, orderLevelColumns\[0\]\) /);
  refuse(mapping({ orderLevelColumns: ['Currency'] }), file);
  // the same mapping reads a file that has them
  const ok = mapRows(mapping({ exclude: [{ reason: 'cancelled', when: [{ column: 'Status', in: ['storniert'] }] }] }), [...columns, 'Status'],
    [['1', 'c1', 'p1', '1', '2', '2011-01-01', 'Storniert'], ['2', 'c1', 'p1', '1', '2', '2011-01-01', '']]);
  assert.deepEqual([ok.excluded, ok.accepted.map((l) => l.orderId)], [['cancelled'], ['2']]);
});

test('rule conditions on a column read numbers with the mapping\'s separators; equals on text ignores case, as in does', () => {
  const mapping = parseMapping({
    columns: { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' },
    numbers: { decimal: ',', thousands: '.' },
    exclude: [
      { reason: 'big discount', when: [{ column: 'Rabatt', greaterThan: 100 }] },
      { reason: 'exactly 7.5 off', when: [{ column: 'Rabatt', equals: 7.5 }] },
      { reason: 'cancelled', when: [{ column: 'Status', equals: 'storniert' }] },
    ],
  }, 'de');
  const columns = ['o', 'p', 'q', 'u', 't', 'Rabatt', 'Status'];
  const row = (o: string, rabatt: string, status = 'bezahlt') => [o, 'p1', '1', '2,50', '2011-01-01', rabatt, status];
  const r = mapRows(mapping, columns, [row('1', '150,00'), row('2', '1.500,00'), row('3', '7,50'), row('4', '99,99'), row('5', '', 'Storniert'), row('6', '', 'STORNIERT ')]);
  assert.deepEqual(r.excluded, ['big discount', 'big discount', 'exactly 7.5 off', 'cancelled', 'cancelled']);
  assert.deepEqual(r.accepted.map((l) => l.orderId), ['4']);
  // a typed number (Parquet, JSON) is used as it is, not re-read through the decimal comma
  const typed = mapRows(mapping, columns, [{ values: row('7', '150.5'), typed: [undefined, undefined, undefined, undefined, undefined, 150.5, undefined] }]);
  assert.deepEqual(typed.excluded, ['big discount']);
});

test('shopify: a refund spread over an order\'s lines never exceeds their value; a cancelled order is excluded', () => {
  const columns = ['Name', 'Email', 'Financial Status', 'Currency', 'Created at', 'Lineitem quantity', 'Lineitem name', 'Lineitem price', 'Lineitem sku', 'Cancelled at', 'Refunded Amount', 'Billing Country'];
  const r = mapRows(presetMapping('shopify'), columns, [
    // cancelled and fully refunded: 160 refunded for a 100 gift card (excluded) and a 50 shirt
    ['#1', 'A@x.com', 'refunded', 'USD', '2024-01-05 10:00:00 -0500', '1', 'Gift Card - $100', '100.00', '', '2024-01-06 10:00:00 -0500', '160.00', 'US'],
    ['#1', 'A@x.com', '', '', '2024-01-05 10:00:00 -0500', '1', 'Shirt', '50.00', 'SH-1', '', '', ''],
    // the same, not cancelled: the shirt is refunded 50, not 160
    ['#2', 'A@x.com', 'refunded', 'USD', '2024-01-05 11:00:00 -0500', '1', 'Gift Card - $100', '100.00', '', '', '160.00', 'US'],
    ['#2', 'A@x.com', '', '', '2024-01-05 11:00:00 -0500', '1', 'Shirt', '50.00', 'SH-1', '', '', ''],
    // 40 refunded on 3 × 10 (shipping included): 30, 10 a line
    ['#3', 'b@x.com', 'partially_refunded', 'EUR', '2024-01-08 10:00:00 +0100', '3', 'Mug', '10.00', 'MUG', '', '40.00', 'DE'],
    // a partial refund is spread by value, as before
    ['#4', 'b@x.com', 'partially_refunded', 'EUR', '2024-01-09 10:00:00 +0100', '1', 'Board', '300.00', 'B-1', '', '100.00', 'DE'],
    ['#4', 'b@x.com', '', '', '2024-01-09 10:00:00 +0100', '2', 'Wax', '50.00', '', '', '', ''],
  ]);
  assert.deepEqual(r.excluded, ['cancelled order', 'cancelled order', 'gift card']);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.productId, l.quantity * l.unitPrice, +l.refunded.toFixed(2)]), [
    ['#2', 'SH-1', 50, 50],
    ['#3', 'MUG', 30, 30],
    ['#4', 'B-1', 300, 75],
    ['#4', 'Wax', 100, 25],
  ]);
  for (const l of r.accepted) assert.ok(l.refunded <= l.quantity * l.unitPrice, `${l.orderId} ${l.productId}`);
  // what no line took is reported: #2's gift card (110), #3's shipping (10); #1 is excluded as a whole
  assert.deepEqual(r.refundsBeyondLines, [110, 10]);
});

test('a refund of exactly the lines\' value is not reported beyond them because their float sum falls short of it', () => {
  const columns = ['Name', 'Email', 'Financial Status', 'Currency', 'Created at', 'Lineitem quantity', 'Lineitem name', 'Lineitem price', 'Lineitem sku', 'Cancelled at', 'Refunded Amount', 'Billing Country'];
  const order = (name: string, refund: string) => [name, 'a@x.com', 'refunded', 'EUR', '2024-01-05 10:00:00', '24', 'Tag', '0.74', 'TAG', '', refund, 'DE'];
  // 24 × 0.74 is 17.759999999999998 in floating point: a refund of 17.76 is the whole order, nothing more
  const r = mapRows(presetMapping('shopify'), columns, [order('#1', '17.76'), order('#2', '17.77')]);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.refunded]), [['#1', 24 * 0.74], ['#2', 24 * 0.74]]);
  assert.deepEqual(r.refundsBeyondLines, [0.01]);
});

test('an order\'s refund is read from its first line even when a rule excludes that line or it is quarantined', () => {
  // the refunded amount written on the first line only, not filled down: the first line is the order's
  const preset = presetMapping('shopify');
  const mapping = parseMapping({ ...preset, orderLevelColumns: preset.orderLevelColumns.filter((c) => c !== 'Refunded Amount') }, 'no refund fill-down');
  const columns = ['Name', 'Email', 'Financial Status', 'Currency', 'Created at', 'Lineitem quantity', 'Lineitem name', 'Lineitem price', 'Lineitem sku', 'Cancelled at', 'Refunded Amount', 'Billing Country'];
  const r = mapRows(mapping, columns, [
    // 60 refunded: a gift card first (excluded), then a 50 shirt: the shirt is refunded 50, 10 is beyond it
    ['#1', 'a@x.com', 'refunded', 'USD', '2024-01-05 10:00:00', '1', 'Gift Card - $100', '100.00', '', '', '60.00', 'US'],
    ['#1', 'a@x.com', '', '', '2024-01-05 10:00:00', '1', 'Shirt', '50.00', 'SH-1', '', '', ''],
    // a first line with an unreadable timestamp still carries the order's 20
    ['#2', 'b@x.com', 'partially_refunded', 'EUR', 'yesterday', '1', 'Mug', '10.00', 'MUG', '', '20.00', 'DE'],
    ['#2', 'b@x.com', '', '', '2024-01-06 10:00:00', '1', 'Board', '300.00', 'B-1', '', '', ''],
  ]);
  assert.deepEqual(r.excluded, ['gift card']);
  assert.deepEqual(r.reasons.map(([field]) => field), ['timestamp']);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.productId, l.refunded]), [['#1', 'SH-1', 50], ['#2', 'B-1', 20]]);
  assert.deepEqual(r.refundsBeyondLines, [10]);
});

test('order-level fill-down: a line of an order whose lines are not together is quarantined, not read with blanks', () => {
  const columns = ['Name', 'Email', 'Financial Status', 'Currency', 'Created at', 'Lineitem quantity', 'Lineitem name', 'Lineitem price', 'Lineitem sku', 'Cancelled at', 'Refunded Amount', 'Billing Country'];
  const line = (order: string, sku: string, first: boolean, status = 'paid') =>
    [order, 'a@x.com', first ? status : '', first ? 'EUR' : '', '2024-01-05 10:00:00', '1', sku, '10.00', sku, '', first ? '5.00' : '', first ? 'DE' : ''];
  const r = mapRows(presetMapping('shopify'), columns, [
    line('#1', 'A', true), line('#2', 'B', true), line('#1', 'C', false), line('#1', 'D', false), line('#3', 'E', true),
    line('#4', 'F', true, 'voided'), line('#5', 'G', true), line('#4', 'H', false),
  ]);
  const notTogether = "the order's lines are not together: order-level fields are filled down from the order's first line only (or the id also names another order)";
  assert.deepEqual(r.reasons, [['orderId', notTogether, '#1'], ['orderId', notTogether, '#1'], ['orderId', notTogether, '#4']]);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.productId, l.currency, l.refunded]), [['#1', 'A', 'EUR', 5], ['#2', 'B', 'EUR', 5], ['#3', 'E', 'EUR', 5], ['#5', 'G', 'EUR', 5]]);
  assert.deepEqual(r.excluded, ['voided order']);
  // without order-level columns or a refund, lines of an order may come in any order
  const plain = mapRows(simpleMapping(), ['o', 'c', 'p', 'q', 'u', 't'], [['1', 'c', 'p', '1', '2', '2011-01-01'], ['2', 'c', 'p', '1', '2', '2011-01-01'], ['1', 'c', 'q', '1', '2', '2011-01-01']]);
  assert.equal(plain.accepted.length, 3);
});

test('OrderIdSet holds what was added, and only that', () => {
  const set = new OrderIdSet();
  for (let i = 0; i < 200_000; i++) set.add(`#${i}`);
  set.add('#5'); // again
  for (let i = 0; i < 200_000; i++) assert.ok(set.has(`#${i}`));
  for (let i = 200_000; i < 400_000; i++) if (set.has(`#${i}`)) assert.fail(`#${i} was never added`);
  assert.ok(!set.has('') && !set.has('#') && !set.has('#1 '));
});

test('a value joined from several columns: receipts numbered from 1 each day stay distinct orders; a blank part is a blank value', () => {
  const mapping = parseMapping({
    columns: {
      orderId: { columns: ['Datum', 'Bon'] },
      customerId: { columns: ['Shop', 'Konto'], lowercase: true },
      productId: 'Artikel', quantity: 'Menge', unitPrice: 'Preis',
      timestamp: { columns: ['Datum', 'Uhrzeit'] },
    },
    timestamp: { format: 'DD.MM.YYYY|HH:mm' },
  }, 'pos');
  const columns = ['Datum', 'Uhrzeit', 'Bon', 'Shop', 'Konto', 'Artikel', 'Menge', 'Preis'];
  const r = mapRows(mapping, columns, [
    ['01.03.2024', '09:00', '1', 'Nord', 'K7', 'A', '1', '2'],
    ['02.03.2024', '09:30', '1', 'Nord', '', 'A', '1', '2'],
    ['02.03.2024', '10:00', '1.0', 'Nord', 'NULL', 'A', '1', '2'],
    ['03.03.2024', '10:00', 'a|b', 'c', 'x', 'A', '1', '2'],
    ['03.03.2024', '10:00', 'a', 'b|c', 'x', 'A', '1', '2'],
    ['', '10:00', '5', 'Nord', 'K7', 'A', '1', '2'],
  ]);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.customerId, new Date(l.ts).toISOString()]), [
    ['01.03.2024|1', 'nord|k7', '2024-03-01T09:00:00.000Z'],
    ['02.03.2024|1', null, '2024-03-02T09:30:00.000Z'],
    ['02.03.2024|1', null, '2024-03-02T10:00:00.000Z'],
    ['03.03.2024|a\\|b', 'c|x', '2024-03-03T10:00:00.000Z'],
    ['03.03.2024|a', 'b\\|c|x', '2024-03-03T10:00:00.000Z'],
  ]);
  assert.deepEqual(r.reasons, [['orderId', 'missing value', '']]);

  const refused = (orderId: unknown): string => {
    try {
      parseMapping({ columns: { orderId, productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' } }, 'bad');
    } catch (err) {
      assert.ok(err instanceof FloyoError);
      return err.message;
    }
    return assert.fail(`accepted ${JSON.stringify(orderId)}`);
  };
  assert.match(refused({ column: 'a', columns: ['b', 'c'] }), /columns\.orderId: give exactly one of "column", "columns" or "value"/);
  assert.match(refused({ columns: ['b'] }), /columns\.orderId\.columns: /);
  assert.match(refused({ columns: ['a', 'b'], fallback: 'c' }), /columns\.orderId\.fallback: "fallback" goes with "column"/);
  // a missing part column is named with its key
  assert.throws(() => createRowMapper(mapping, columns.filter((c) => c !== 'Bon'), 'pos.csv', RULES, { accept() {}, quarantine() {}, exclude() {} }),
    /missing required column "Bon" \(columns\.orderId\.columns\[1\]\)/);
});

test('a timestamp that does not fit the mapping\'s format names the format', () => {
  const columns = ['o', 'c', 'p', 'q', 'u', 't'];
  const r = mapRows(simpleMapping({ format: 'DD.MM.YYYY HH:mm' }), columns, [['1', 'c', 'p', '1', '2', '2024-12-24 18:30'], ['2', 'c', 'p', '1', '2', '24.12.2024 18:30']]);
  assert.deepEqual(r.reasons, [['timestamp', 'not a timestamp in the format "DD.MM.YYYY HH:mm" (timestamp.format)', '2024-12-24 18:30']]);
  const unix = mapRows(simpleMapping({ format: 'unix' }), columns, [['1', 'c', 'p', '1', '2', 'yesterday']]);
  assert.deepEqual(unix.reasons, [['timestamp', 'not a timestamp in the format "unix" (timestamp.format)', 'yesterday']]);
});

test('a line total instead of a unit price: the unit price is derived, and a negative total makes the line a return', () => {
  const mapping = parseMapping({
    columns: { orderId: 'o', customerId: 'c', productId: 'p', quantity: 'q', lineTotal: 'Total', timestamp: 't' },
    numbers: { decimal: ',', thousands: '.' },
    exclude: [{ reason: 'discount line', when: [{ field: 'productId', matches: '^rabatt$', ignoreCase: true }] }],
  }, 'pos');
  const columns = ['o', 'c', 'p', 'q', 'Total', 't'];
  const row = (o: string, p: string, q: string, total: string) => [o, 'c1', p, q, total, '2011-01-01'];
  const r = mapRows(mapping, columns, [
    row('1', 'mug', '3', '10,50'),
    row('2', 'mug', '2', '-7,00'), // a refund written as a negative total
    row('3', 'mug', '-1', '-3,50'), // and as both negative
    row('4', 'mug', '-1', '3,50'), // a negative quantity is a return whatever the total's sign
    row('5', 'RABATT', '1', '-5,00'),
    row('6', 'mug', '1', ''),
    row('7', 'mug', '1', 'zehn'),
    row('8', 'mug', '0', '0,00'),
    row('9', 'free sample', '2', '0'),
  ]);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.quantity, l.unitPrice, l.isReturn]), [
    ['1', 3, 3.5, false], ['2', -2, 3.5, true], ['3', -1, 3.5, true], ['4', -1, 3.5, true], ['9', 2, 0, false],
  ]);
  assert.deepEqual(r.excluded, ['discount line'], 'ignoreCase: ^rabatt$ matches RABATT');
  assert.deepEqual(r.reasons, [['lineTotal', 'missing value', ''], ['lineTotal', 'not a number', 'zehn'], ['quantity', 'zero quantity', '0']]);
  // typed (Parquet) totals are used as they are; a derived unit price over the bound says so, in one reason
  // for all such lines (they are counted by reason: one a value would list every line on its own)
  const typed = mapRows(mapping, columns, [
    { values: row('10', 'tv', '2', '5000000'), typed: [undefined, undefined, undefined, 2, 5e6, undefined] },
    row('11', 'tv', '3', '9.000.001,00'),
  ]);
  const overBound = 'out of range: its unit price (the total over the quantity) is over ingest.maxUnitPrice';
  assert.deepEqual(typed.reasons, [['lineTotal', overBound, '5000000'], ['lineTotal', overBound, '9.000.001,00']]);
});

test('a mapping gives exactly one of unitPrice and lineTotal', () => {
  const columns = (extra: Record<string, unknown>) => ({ columns: { orderId: 'o', productId: 'p', quantity: 'q', timestamp: 't', ...extra } });
  assert.throws(() => parseMapping(columns({}), 'none'), /columns: give exactly one of "unitPrice" \(the price of one unit\) or "lineTotal"/);
  assert.throws(() => parseMapping(columns({ unitPrice: 'u', lineTotal: 'Total' }), 'both'), /give exactly one of "unitPrice"/);
  assert.doesNotThrow(() => parseMapping(columns({ lineTotal: 'Total' }), 'total'));
});

test('the price a mapping works out is a number to rules: no text tests on it, and none without a quantity', () => {
  const columns = (extra: Record<string, unknown>, when: Record<string, unknown>) => ({
    columns: { orderId: 'o', productId: 'p', quantity: 'q', timestamp: 't', ...extra },
    exclude: [{ reason: 'r', when: [{ field: 'productId', matches: '^x' }, when] }],
  });
  // '' on every line: empty: true would exclude them all, a regex would never match
  for (const [given, derived] of [['lineTotal', 'unitPrice'], ['unitPrice', 'lineTotal']]) {
    for (const test of [{ empty: true }, { matches: '^9' }, { notMatches: 'x' }, { in: ['1'] }, { equals: '9.50' }]) {
      assert.throws(() => parseMapping(columns({ [given]: 'X' }, { field: derived, ...test }), 'm'), new RegExp(
        `^FloyoError: mapping m: exclude\\[0\\]\\.when\\[1\\]: field ${derived} is worked out from ${given} in this mapping, so it has no text for ${Object.keys(test)[0]}: ` +
          'compare it as a number \\(lessThan, greaterThan, equals a number\\), or test the source column with column:$'));
    }
    assert.doesNotThrow(() => parseMapping(columns({ [given]: 'X' }, { field: derived, equals: 0 }), 'm'));
    assert.doesNotThrow(() => parseMapping(columns({ [given]: 'X' }, { field: given, matches: '^9' }), 'm'));
  }
  // a zero quantity gives no unit price for a rule to compare (not Infinity): the line is quarantined for its quantity, not excluded
  const pricey = parseMapping({
    columns: { orderId: 'o', productId: 'p', quantity: 'q', lineTotal: 'Total', timestamp: 't' },
    exclude: [{ reason: 'pricey', when: [{ field: 'unitPrice', greaterThan: 1000 }] }],
  }, 'pricey');
  const r = mapRows(pricey, ['o', 'p', 'q', 'Total', 't'], [['1', 'mug', '0', '5.00', '2011-01-01'], ['2', 'tv', '1', '2000', '2011-01-01']]);
  assert.deepEqual(r.reasons, [['quantity', 'zero quantity', '0']]);
  assert.deepEqual(r.excluded, ['pricey']);
});

test('returns.when marks return lines by their columns; its columns must be in the file', () => {
  const mapping = parseMapping({
    columns: { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' },
    returns: { when: [{ column: 'Type', in: ['refund', 'return'] }] },
  }, 'typed returns');
  const row = (o: string, q: string, type: string) => [o, 'p1', q, '2.00', '2011-01-01', type];
  const r = mapRows(mapping, ['o', 'p', 'q', 'u', 't', 'Type'], [row('1', '2', 'Sale'), row('2', '2', 'Refund'), row('3', '-1', 'RETURN'), row('4', '-1', 'sale')]);
  assert.deepEqual(r.accepted.map((l) => [l.orderId, l.quantity, l.isReturn]), [['1', 2, false], ['2', -2, true], ['3', -1, true], ['4', -1, true]]);
  assert.throws(
    () => createRowMapper(mapping, ['o', 'p', 'q', 'u', 't'], 'sales.csv', RULES, { accept() {}, quarantine() {}, exclude() {} }),
    /missing required column "Type" \(returns\.when\[0\]\.column\)/,
  );
  assert.throws(() => parseMapping({ ...mapping, returns: { when: [{ column: 'Type', matches: '(' }] } }, 'bad'), /returns\.when\[0\]\.matches is not a valid regular expression/);
});

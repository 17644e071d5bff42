// Mapping files: what is refused, and how the message says what is wrong and what is allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMapping } from '../../src/data/mapping.js';
import { FloyoError } from '../../src/errors.js';

const COLUMNS = { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' };

/** The message a mapping is refused with. */
function refusal(mapping: unknown): string {
  try {
    parseMapping(mapping, 'file m.yaml');
  } catch (err) {
    assert.ok(err instanceof FloyoError, String(err));
    return err.message;
  }
  return assert.fail(`accepted ${JSON.stringify(mapping)}`);
}

test('a column reference that is not one says what a column reference is and what was wrong', () => {
  const forms = '\\(the name of a source column, \\{ column, fallback, lowercase \\}, \\{ columns: \\[A, B\\] \\} or \\{ value \\}\\)';
  assert.match(refusal({ columns: { ...COLUMNS, quantity: { value: 1 } } }),
    new RegExp(`^mapping file m\\.yaml is invalid:\\n  columns\\.quantity: not a column reference ${forms}: value: expected text, got 1 \\(write "1" in quotes\\)$`));
  assert.match(refusal({ columns: { ...COLUMNS, customerId: ['cust'] } }),
    new RegExp(`columns\\.customerId: expected a column reference ${forms}, got the list \\["cust"\\]: write "cust"$`));
  assert.match(refusal({ columns: { ...COLUMNS, customerId: ['shop', 'account'] } }), /got the list \["shop","account"\]: to join columns write \{ columns: \["shop","account"\] \}$/);
  assert.match(refusal({ columns: { ...COLUMNS, orderId: 7 } }), new RegExp(`columns\\.orderId: expected a column reference ${forms}, got 7$`));
  assert.match(refusal({ columns: { ...COLUMNS, timestamp: undefined } }), new RegExp(`columns\\.timestamp: required: a column reference ${forms}$`));
  assert.doesNotMatch(refusal({ columns: { ...COLUMNS, quantity: { value: 1 } } }), /Invalid input/);
});

test('an unknown key lists the keys allowed where it is', () => {
  assert.equal(refusal({ colums: COLUMNS }), 'mapping file m.yaml is invalid:\n' +
    '  columns: required: each field\'s column (orderId, productId, quantity, unitPrice or lineTotal, timestamp at least), e.g. columns: { orderId: InvoiceNo, ... }\n' +
    '  (top): unknown key "colums"; allowed: name, description, format, csv, columns, orderLevelColumns, timestamp, numbers, returns, exclude');
  assert.match(refusal({ columns: COLUMNS, orderID: 'x' }), /\(top\): unknown key "orderID" \(a field's column goes under columns: columns\.orderId\); allowed: name, /);
  assert.match(refusal({ columns: COLUMNS, timestamp: { fromat: 'DD.MM.YYYY' } }), /\n {2}timestamp: unknown key "fromat"; allowed: format, timezone$/);
  assert.match(refusal({ columns: { ...COLUMNS, orderID: 'x' } }), /\n {2}columns: unknown key "orderID" \(did you mean "orderId"\?\); allowed: orderId, customerId, productId, productName, quantity, unitPrice, lineTotal, timestamp, country, currency, refundedAmount$/);
  assert.match(refusal({ columns: { ...COLUMNS, quantity: { colum: 'x' } } }), /\n {2}columns\.quantity: unknown key "colum"; allowed: column, columns, fallback, value, lowercase\n/);
  assert.match(refusal({ columns: COLUMNS, exclude: [{ reason: 'r', when: [{ column: 'x', equal: 'a' }] }] }),
    /\n {2}exclude\.0\.when\.0: unknown key "equal"; allowed: field, column, matches, notMatches, ignoreCase, in, equals, lessThan, greaterThan, empty$/);
});

test('a condition that tests nothing is refused: it would hold for every line (every line a return, or excluded)', () => {
  assert.equal(refusal({ columns: COLUMNS, returns: { when: [{ column: 'Type' }] } }), 'mapping file m.yaml is invalid:\n' +
    '  returns.when.0: give what to test: matches, notMatches, in, equals, lessThan, greaterThan or empty');
  assert.match(refusal({ columns: COLUMNS, exclude: [{ reason: 'r', when: [{ field: 'productId', ignoreCase: true }] }] }), /exclude\.0\.when\.0: give what to test/);
  assert.doesNotThrow(() => parseMapping({ columns: COLUMNS, returns: { when: [{ column: 'Type', empty: false }] } }, 'm'));
});

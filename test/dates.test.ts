import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDay, parseInstant, shiftDays } from '../src/dates.js';

test('parseDay takes only calendar dates that exist', () => {
  assert.equal(parseDay('2011-09-10', '--as-of'), '2011-09-10');
  assert.equal(parseDay('2012-02-29', '--as-of'), '2012-02-29');
  for (const bad of ['2011-02-30', '2011-02-29', '2011-13-01', '2011-00-10', 'yesterday', '2011-09-10T00:00', '12/01/2011', '']) {
    assert.throws(() => parseDay(bad, '--as-of'), new RegExp(`--as-of must be a date YYYY-MM-DD, got "${bad.replace(/[./]/g, '\\$&')}"`), bad);
  }
});

test('parseInstant reads a day as its last second, timestamps in UTC unless a zone is given, and nothing lenient', () => {
  assert.equal(parseInstant('2011-12-09', '--now'), '2011-12-09T23:59:59Z');
  assert.equal(parseInstant('2011-12-09T12:50', '--now'), '2011-12-09T12:50:00Z');
  assert.equal(parseInstant('2011-12-09 12:50:07', '--now'), '2011-12-09T12:50:07Z');
  assert.equal(parseInstant('2011-12-09T12:50:07.900Z', '--now'), '2011-12-09T12:50:07Z');
  assert.equal(parseInstant('2011-12-09T12:50:00+02:00', '--now'), '2011-12-09T10:50:00Z');
  assert.equal(parseInstant('2011-12-09T00:30:00-0100', '--now'), '2011-12-09T01:30:00Z');
  for (const bad of ['2011-02-30', '2011-02-30T10:00', '12/01/2011', '2011-12-09T24:00', '2011-12-09T10:60', 'now', '2011-12-09T10']) {
    assert.throws(() => parseInstant(bad, '--now'), /--now must be a date \(YYYY-MM-DD\) or an ISO timestamp/, bad);
  }
});

test('shiftDays crosses months, years and leap days', () => {
  assert.equal(shiftDays('2011-12-09', -90), '2011-09-10');
  assert.equal(shiftDays('2012-02-28', 1), '2012-02-29');
  assert.equal(shiftDays('2011-12-31', 1), '2012-01-01');
});

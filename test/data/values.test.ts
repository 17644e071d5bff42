import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNumber, parseOffset, timestampFormatHint, timestampParser, wallClockZone } from '../../src/data/values.js';
import { parseMapping } from '../../src/data/mapping.js';

test('numbers: plain, signed, exponent; junk is NaN, never 0', () => {
  assert.equal(parseNumber('2.55'), 2.55);
  assert.equal(parseNumber(' -12 '), -12);
  assert.equal(parseNumber('+1e3'), 1000);
  assert.equal(parseNumber('.5'), 0.5);
  for (const bad of ['', ' ', 'abc', '1,5', '0x10', 'Infinity', 'NaN', '1.2.3', '--1']) assert.ok(Number.isNaN(parseNumber(bad)), bad);
});

test('numbers: a currency symbol written with the amount is read past; two symbols, or a symbol alone, are not numbers', () => {
  const comma = { decimal: ',', thousands: '.' } as const;
  assert.equal(parseNumber('€ 3,00', comma), 3);
  assert.equal(parseNumber('12,5 €', comma), 12.5);
  assert.equal(parseNumber('1.234,50\u00a0€', comma), 1234.5);
  assert.equal(parseNumber('-€5,00', comma), -5);
  assert.equal(parseNumber('$1,234.50', { decimal: '.', thousands: ',' }), 1234.5);
  assert.equal(parseNumber('£7.5'), 7.5);
  assert.equal(parseNumber('-$2'), -2);
  assert.equal(parseNumber('1\u202f234,5 €', { decimal: ',', thousands: ' ' }), 1234.5);
  for (const bad of ['€', '$ ', '-€', '€5€', '$5 €', '5$5', 'EUR 5', '€ abc', '5 €€']) assert.ok(Number.isNaN(parseNumber(bad, comma)), bad);
});

test('numbers: accounting negatives in parentheses, with a symbol and separators; a sign or a second pair inside is not a number', () => {
  const comma = { decimal: ',', thousands: '.' } as const;
  assert.equal(parseNumber('(10.00)'), -10);
  assert.equal(parseNumber(' ( 7.5 ) '), -7.5);
  assert.equal(parseNumber('($1,234.50)', { decimal: '.', thousands: ',' }), -1234.5);
  assert.equal(parseNumber('(1.234,50 €)', comma), -1234.5);
  assert.ok(Object.is(parseNumber('(0)'), 0), 'no negative zero');
  for (const bad of ['()', '(-5)', '(+5)', '((5))', '(5', '5)', '(abc)', '(€)']) assert.ok(Number.isNaN(parseNumber(bad)), bad);
});

test('numbers: decimal comma and thousands separators', () => {
  assert.equal(parseNumber('1.234,56', { decimal: ',', thousands: '.' }), 1234.56);
  assert.equal(parseNumber('1 234,5', { decimal: ',', thousands: ' ' }), 1234.5);
  assert.equal(parseNumber('1,234.5', { decimal: '.', thousands: ',' }), 1234.5);
  assert.equal(parseNumber("1'000", { decimal: '.', thousands: "'" }), 1000);
});

test('numbers: a thousands separator only in well-formed groups of the integer part; anything else is not a number', () => {
  const conventions = [
    { decimal: ',', thousands: '.' }, { decimal: '.', thousands: ',' }, { decimal: ',', thousands: ' ' }, { decimal: '.', thousands: ' ' },
    { decimal: '.', thousands: "'" }, { decimal: ',', thousands: "'" },
  ] as const;
  for (const c of conventions) {
    const n = (text: string) => parseNumber(text.replace(/T/g, c.thousands).replace(/D/g, c.decimal), c);
    const at = `${c.thousands} with ${c.decimal}`;
    assert.equal(n('1T234'), 1234, at);
    assert.equal(n('1T234D5'), 1234.5, at);
    assert.equal(n('-12T345T678D90'), -12345678.9, at);
    assert.equal(n('+999T000'), 999000, at);
    assert.equal(n('1234D5'), 1234.5, `${at}: no separator at all is fine`);
    assert.equal(n('0D5'), 0.5, at);
    // (a space at either end is trimmed like any white space around a value)
    const edges = c.thousands === ' ' ? [] : ['T123', '1T'];
    for (const bad of ['2T50', '1T2T3', '12T34T567', '1234T567', '1TT234', '1T234D5T6', '1T2345', '-T123', '1T234e3', '1D2D3', ...edges]) {
      assert.ok(Number.isNaN(n(bad)), `${at}: ${JSON.stringify(bad.replace(/T/g, c.thousands).replace(/D/g, c.decimal))}`);
    }
  }
  // with a decimal comma, a point is no decimal point (1.234 written without thousands: "." is not 1.234)
  assert.ok(Number.isNaN(parseNumber('1.234', { decimal: ',', thousands: '' })));
  assert.equal(parseNumber('1,5', { decimal: ',', thousands: '' }), 1.5);
  assert.throws(() => parseMapping({ columns: { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' }, numbers: { decimal: ',', thousands: ',' } }, 'same'),
    /numbers\.thousands and numbers\.decimal are both ","/);
});

test('timestamps: ISO variants with and without zones', () => {
  const p = timestampParser({ format: 'auto', timezone: 'UTC' });
  assert.equal(p('2011-12-09 12:50:00'), Date.UTC(2011, 11, 9, 12, 50));
  assert.equal(p('2011-12-09 12:50'), Date.UTC(2011, 11, 9, 12, 50));
  assert.equal(p('2011-12-09'), Date.UTC(2011, 11, 9));
  assert.equal(p('2011-12-09T12:50:00.250Z'), Date.UTC(2011, 11, 9, 12, 50, 0, 250));
  assert.equal(p('2025-05-11 09:55:16 -0400'), Date.UTC(2025, 4, 11, 13, 55, 16));
  assert.equal(p('2025-05-11T09:55:16+02:00'), Date.UTC(2025, 4, 11, 7, 55, 16));
  for (const bad of ['', '2011-13-01', '2011-02-30', '2011-02-29 10:00', '2011-12-09 25:00', 'yesterday', '2011-12-09 12:50 +99x']) {
    assert.ok(Number.isNaN(p(bad)), bad);
  }
  assert.equal(p('2012-02-29'), Date.UTC(2012, 1, 29));
});

test('timestamps: a naive time in a fixed-offset zone', () => {
  const p = timestampParser({ format: 'auto', timezone: '+01:00' });
  assert.equal(p('2011-06-01 10:00:00'), Date.UTC(2011, 5, 1, 9, 0));
  assert.throws(() => timestampParser({ format: 'auto', timezone: 'Mars/Olympus' }), /timezone "Mars\/Olympus"/);
});

test('timestamps: patterns such as the Kaggle copy of the UCI data (M/D/YYYY H:mm)', () => {
  const us = timestampParser({ format: 'M/D/YYYY H:mm', timezone: 'UTC' });
  assert.equal(us('12/1/2010 8:26'), Date.UTC(2010, 11, 1, 8, 26));
  assert.ok(Number.isNaN(us('2010-12-01 08:26')));
  const eu = timestampParser({ format: 'DD.MM.YYYY HH:mm:ss', timezone: 'UTC' });
  assert.equal(eu('09.12.2011 12:50:30'), Date.UTC(2011, 11, 9, 12, 50, 30));
  const ampm = timestampParser({ format: 'M/D/YY h:mm A'.replace('h', 'H'), timezone: 'UTC' });
  assert.equal(ampm('12/9/11 1:05 PM'), Date.UTC(2011, 11, 9, 13, 5));
  assert.equal(timestampParser({ format: 'unix', timezone: 'UTC' })('1323435000'), 1323435000000);
  assert.equal(timestampParser({ format: 'unix-ms', timezone: 'UTC' })('1323435000000'), 1323435000000);
  assert.throws(() => timestampParser({ format: 'HH:mm', timezone: 'UTC' }), /no year/);
});

test('zone offsets', () => {
  assert.equal(parseOffset('Z'), 0);
  assert.equal(parseOffset('-0400'), -240);
  assert.equal(parseOffset('+05:30'), 330);
  assert.ok(Number.isNaN(parseOffset('EST')));
});

test('zone offsets no real zone has (beyond -12:00..+14:00, minutes over 59) are no timestamp, nor a timezone setting', () => {
  assert.equal(parseOffset('+14:00'), 840);
  assert.equal(parseOffset('-12:00'), -720);
  assert.equal(parseOffset('+05:45'), 345);
  for (const bad of ['+25:00', '+14:01', '-12:30', '-1300', '+05:60', '+0575', '+99']) assert.ok(Number.isNaN(parseOffset(bad)), bad);
  const auto = timestampParser({ format: 'auto', timezone: 'UTC' });
  assert.ok(Number.isNaN(auto('2023-03-26T10:00:00+25:00')));
  assert.equal(auto('2023-03-26T10:00:00+14:00'), Date.UTC(2023, 2, 25, 20));
  // a pattern's Z: an offset out of range used to be dropped, and the time read in the mapping's zone
  const zoned = timestampParser({ format: 'YYYY-MM-DD HH:mm Z', timezone: 'Europe/Berlin' });
  assert.ok(Number.isNaN(zoned('2023-03-26 10:00 +25:00')));
  assert.ok(Number.isNaN(zoned('2023-03-26 10:00 +01:75')));
  assert.equal(zoned('2023-03-26 10:00 -03:00'), Date.UTC(2023, 2, 26, 13));
  // the mapping's timezone setting: a fixed offset within range still works, one beyond is refused
  assert.equal(wallClockZone('+14:00')(0), 840 * 60_000);
  assert.throws(() => wallClockZone('+25:00'), /^RangeError: timezone "\+25:00" is no real offset: offsets lie between -12:00 and \+14:00, with minutes up to 59$/);
  assert.throws(() => parseMapping({ columns: { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' }, timestamp: { timezone: '-13:00' } }, 'far west'),
    /mapping far west: timestamp\.timezone: timezone "-13:00" is no real offset/);
});

test('years 0-99 are those years, not 1900-1999, in ISO text and in patterns', () => {
  const auto = timestampParser({ format: 'auto', timezone: 'UTC' });
  assert.equal(auto('0001-01-01T00:00:00Z'), Date.parse('0001-01-01T00:00:00Z'));
  assert.equal(new Date(auto('0001-01-01T00:00:00Z')).toISOString(), '0001-01-01T00:00:00.000Z');
  assert.equal(new Date(auto('0099-12-31 23:59:59.5')).toISOString(), '0099-12-31T23:59:59.500Z');
  // leap years of their own: 0000 and 0004 have a 29 February (1900 has none), 0100 has not
  assert.equal(new Date(auto('0000-02-29')).toISOString(), '0000-02-29T00:00:00.000Z');
  assert.equal(new Date(auto('0004-02-29')).toISOString(), '0004-02-29T00:00:00.000Z');
  assert.ok(Number.isNaN(auto('0100-02-29')));
  assert.equal(new Date(auto('0100-03-01')).toISOString(), '0100-03-01T00:00:00.000Z');
  const us = timestampParser({ format: 'M/D/YYYY h:mm A', timezone: 'UTC' });
  assert.equal(new Date(us('12/31/0099 1:00 PM')).toISOString(), '0099-12-31T13:00:00.000Z');
  // in a zone too (Intl's wall clock for year 1 goes through the same computation)
  const berlin = timestampParser({ format: 'auto', timezone: 'Europe/Berlin' });
  assert.equal(new Date(berlin('0050-06-01 12:00:00')).toISOString().slice(0, 4), '0050');
});

test('YY takes strptime\'s pivot: 69-99 are 1969-1999, 00-68 are 2000-2068', () => {
  const p = timestampParser({ format: 'D/M/YY', timezone: 'UTC' });
  const year = (text: string) => new Date(p(text)).getUTCFullYear();
  assert.deepEqual(['1/1/99', '1/1/69', '1/1/68', '1/1/00', '24/12/24'].map(year), [1999, 1969, 2068, 2000, 2024]);
});

test('timestamps: a letter that is no token is refused, naming it and the tokens, not kept as literal text', () => {
  const refused = (format: string, pattern: RegExp) => assert.throws(() => timestampParser({ format, timezone: 'UTC' }), pattern);
  refused('dd/MM/yyyy', /"dd" is not a pattern token \(did you mean DD\?\); the tokens are YYYY, YY, MM, M, DD, D, HH, H, hh, h, mm, ss, SSS, A, Z/);
  refused('DD/MM/yyyy HH:mm', /"yyyy" is not a pattern token \(did you mean YYYY\?\)/);
  refused('YYYY-MM-DD at HH:mm', /"a" is not a pattern token \(did you mean A\?\)/);
  refused('YYYY-MM-DD hh:mm', /h and hh are the 12-hour clock and need A/);
  refused('YYYY-MM-DD [at HH:mm', /"\[" without its "\]"/);
  // literal letters in brackets; the ISO T as is; 12-hour clock with A
  assert.equal(timestampParser({ format: 'YYYY-MM-DD[ at ]HH:mm', timezone: 'UTC' })('2011-12-09 at 12:50'), Date.UTC(2011, 11, 9, 12, 50));
  assert.equal(timestampParser({ format: 'YYYY-MM-DDTHH:mm:ss', timezone: 'UTC' })('2011-12-09T12:50:30'), Date.UTC(2011, 11, 9, 12, 50, 30));
  const twelve = timestampParser({ format: 'MM/DD/YYYY hh:mm A', timezone: 'UTC' });
  assert.equal(twelve('12/09/2011 01:05 PM'), Date.UTC(2011, 11, 9, 13, 5));
  assert.equal(twelve('12/09/2011 12:05 AM'), Date.UTC(2011, 11, 9, 0, 5));
  assert.equal(timestampParser({ format: 'D.M.YYYY h:mm A', timezone: 'UTC' })('9.12.2011 9:05 am'), Date.UTC(2011, 11, 9, 9, 5));
});

test('timestamps: for text auto cannot read, the patterns that would read it; both when day and month cannot be told apart', () => {
  assert.equal(timestampFormatHint('1/4/2011 10:00'), 'M/D/YYYY H:mm or D/M/YYYY H:mm');
  assert.equal(timestampFormatHint('12/13/2011 10:00'), 'M/D/YYYY H:mm');
  assert.equal(timestampFormatHint('13/12/2011 10:00:30'), 'D/M/YYYY H:mm:ss');
  assert.equal(timestampFormatHint('24.12.24'), 'D.M.YY');
  assert.equal(timestampFormatHint('2/30/2011'), null, 'no pattern reads a 30th of February or a 2nd of a 30th month');
  assert.equal(timestampFormatHint('1/4/2011 1:05 PM'), 'M/D/YYYY h:mm A or D/M/YYYY h:mm A');
  assert.equal(timestampFormatHint('2011/1/4'), 'YYYY/M/D');
  for (const none of ['yesterday', '', '1/4', '1/4/201']) assert.equal(timestampFormatHint(none), null, none);
  // each suggestion reads the value it was made for
  for (const text of ['1/4/2011 10:00', '13/12/2011 10:00:30', '1/4/2011 1:05 PM', '2011/1/4']) {
    for (const format of timestampFormatHint(text)!.split(' or ')) assert.ok(!Number.isNaN(timestampParser({ format, timezone: 'UTC' })(text)), `${format} reads ${text}`);
  }
});

test('timestamps in an IANA zone: daylight saving applies; a repeated hour is its earlier instant, a skipped one moves forward by the gap', () => {
  const utc = (text: string) => Date.parse(`${text}Z`);
  const cases: Array<[string, Array<[string, string]>]> = [
    ['Europe/Berlin', [
      ['2024-01-15 12:00:00', '2024-01-15T11:00:00'], // CET
      ['2024-07-15 12:00:00', '2024-07-15T10:00:00'], // CEST
      ['2024-03-31 01:59:59', '2024-03-31T00:59:59'], // the last second before clocks go forward
      ['2024-03-31 02:00:00', '2024-03-31T01:00:00'], // skipped: 02:00 → 03:00 CEST
      ['2024-03-31 02:30:00', '2024-03-31T01:30:00'], // skipped: 03:30 CEST
      ['2024-03-31 03:00:00', '2024-03-31T01:00:00'],
      ['2024-10-27 01:59:00', '2024-10-26T23:59:00'],
      ['2024-10-27 02:00:00', '2024-10-27T00:00:00'], // repeated: the first 02:00 (CEST)
      ['2024-10-27 02:30:00', '2024-10-27T00:30:00'],
      ['2024-10-27 02:59:59', '2024-10-27T00:59:59'],
      ['2024-10-27 03:00:00', '2024-10-27T02:00:00'], // CET again
    ]],
    ['America/New_York', [
      ['2024-01-15 12:00:00', '2024-01-15T17:00:00'], // EST
      ['2024-07-15 12:00:00', '2024-07-15T16:00:00'], // EDT
      ['2024-03-10 02:30:00', '2024-03-10T07:30:00'], // skipped: 03:30 EDT
      ['2024-03-10 03:00:00', '2024-03-10T07:00:00'],
      ['2024-11-03 01:30:00', '2024-11-03T05:30:00'], // repeated: the first 01:30 (EDT)
      ['2024-11-03 02:00:00', '2024-11-03T07:00:00'],
    ]],
    ['Australia/Lord_Howe', [ // half-hour daylight saving
      ['2024-04-07 01:45:00', '2024-04-06T14:45:00'], // repeated: the first 01:45 (+11:00)
      ['2024-04-07 02:00:00', '2024-04-06T15:30:00'],
      ['2024-10-06 02:15:00', '2024-10-05T15:45:00'], // skipped: 02:45 (+11:00)
    ]],
  ];
  for (const [timezone, times] of cases) {
    const auto = timestampParser({ format: 'auto', timezone });
    const pattern = timestampParser({ format: 'DD.MM.YYYY HH:mm:ss', timezone });
    for (const [local, expected] of times) {
      assert.equal(new Date(auto(local)).toISOString(), new Date(utc(expected)).toISOString(), `${timezone} ${local}`);
      const [d, t] = local.split(' ');
      assert.equal(pattern(`${d.split('-').reverse().join('.')} ${t}`), utc(expected), `${timezone} ${local} by pattern`);
    }
    // an offset in the text wins over the zone
    assert.equal(auto('2024-07-15 12:00:00+00:00'), utc('2024-07-15T12:00:00'));
  }
  // the Parquet path: the same rule for a wall-clock time given as epoch milliseconds
  const berlin = wallClockZone('Europe/Berlin');
  const local = utc('2024-10-27T02:30:00');
  assert.equal(local - berlin(local), utc('2024-10-27T00:30:00'));
  assert.equal(wallClockZone('+05:30')(0), 330 * 60_000);
  assert.throws(() => wallClockZone('Europe/Atlantis'), /^RangeError: timezone "Europe\/Atlantis" is not understood; use UTC, a fixed offset such as \+01:00, or a zone name such as Europe\/Berlin$/);
  assert.throws(() => parseMapping({ columns: { orderId: 'o', productId: 'p', quantity: 'q', unitPrice: 'u', timestamp: 't' }, timestamp: { timezone: 'CEST+2' } }, 'bad zone'),
    /mapping bad zone: timestamp\.timezone: timezone "CEST\+2" is not understood/);
});

test('timestamps in an IANA zone are fast: offsets are cached, not asked of Intl per value', () => {
  const p = timestampParser({ format: 'auto', timezone: 'Europe/Berlin' });
  const texts = Array.from({ length: 200_000 }, (_, i) => `2011-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`);
  const start = performance.now();
  for (const t of texts) assert.ok(!Number.isNaN(p(t)));
  // ~0.1 s on a laptop; Intl per value takes several seconds
  assert.ok(performance.now() - start < 2000, `${Math.round(performance.now() - start)} ms`);
});

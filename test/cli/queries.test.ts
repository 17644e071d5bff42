// End-to-end tests of `floyo customer`, `floyo segments` and `floyo audience`, run as separate processes
// through the real CLI, on homes seeded through the store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Warehouse } from '../../src/data/warehouse.js';
import { PredictionStore, type AudiencePage, type Prediction } from '../../src/stores/predictions.js';
import { parseQuery } from '../../src/cli/audience.js';
import type { CustomerReport } from '../../src/cli/customer.js';
import { FloyoError } from '../../src/errors.js';
import { emptyFifths, type SegmentsReport } from '../../src/cli/segments.js';
import { assertErrorStdout, floyo, tempDir } from '../support/cli.js';


const SEGMENTS = ['champions', 'loyal', 'at risk', 'lost'];
const CUSTOMERS = 40;

function customer(i: number, version: string, shift: number): Prediction {
  const segment = (i + (i % 4 === 0 ? shift : 0)) % SEGMENTS.length;
  const p = ((i * 7) % 40) / 40 + 0.01;
  return {
    customerId: i === 0 ? 'Zoë 😀' : `${12340 + i}`,
    segment: SEGMENTS[segment],
    segmentId: segment,
    rfCell: `R${(i % 5) + 1}F${((i * 3) % 5) + 1}`,
    churnProbability: p,
    churnRisk: p >= 0.5 ? 'high' : 'low',
    churnReasons: [
      { feature: 'recency_days', text: `no purchase for ${i * 9} days`, contribution: 0.8 },
      { feature: 'frequency', text: `only ${(i % 3) + 1} orders`, contribution: -0.3 },
    ],
    recommendations: [
      { productId: '85123A', productName: 'WHITE HANGING HEART T-LIGHT HOLDER', score: 0.91, reason: 'often bought with what you bought' },
      { productId: '22423', productName: null, score: 0.42 },
    ],
    modelVersion: version,
    scoredAt: version === 'v1' ? '2011-09-09T12:50:00Z' : '2011-12-09T12:50:00Z',
  };
}

let seeded: string;
const homes: string[] = [];

/** A copy of the seeded home, so commands can run side by side (each holds its home's lock). */
function home(): string {
  const copy = tempDir('floyo-queries-');
  cpSync(seeded, copy, { recursive: true });
  homes.push(copy);
  return copy;
}

before(async () => {
  seeded = tempDir('floyo-queries-');
  homes.push(seeded);
  const warehouse = await Warehouse.open(seeded, 'queries test');
  try {
    const store = new PredictionStore(warehouse);
    await store.init();
    await store.upsert(Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v1', 0)));
    await store.upsert(Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v2', 1)));
  } finally {
    warehouse.close();
  }
});

after(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

test('floyo customer: --json is the stored prediction with its segment history; the human view says it all', async () => {
  const [json, human] = await Promise.all([
    floyo(['customer', 'Zoë 😀', '--home', home(), '--json']),
    floyo(['customer', '12344', '--home', home()]),
  ]);
  assert.equal(json.code, 0, json.stderr);
  const report = json.json<CustomerReport>();
  const { segmentHistory, excludedByRules, warnings, ...prediction } = report;
  assert.deepEqual(prediction, customer(0, 'v2', 1));
  assert.deepEqual(excludedByRules, []);
  assert.deepEqual(warnings, [], 'a store with nothing unseen');
  assert.deepEqual(segmentHistory, [{ from: 'champions', to: 'loyal', fromVersion: 'v1', toVersion: 'v2', movedAt: '2011-12-09T12:50:00Z' }]);

  assert.equal(human.code, 0, human.stderr);
  for (const expected of [/customer 12344/, /segment +loyal/, /R×F cell +R5F3/, /churn +71\.0% probability, high risk/, /champions → loyal \(model v2/,
    /no purchase for 36 days +\+0\.800/, /only 2 orders +-0\.300/, /WHITE HANGING HEART T-LIGHT HOLDER +0\.910 +often bought/, /22423/,
    /model +v2, scored as of 2011-12-09T12:50:00Z/]) {
    assert.match(human.stdout, expected);
  }
});

test('floyo customer and audience apply recommendations.exclude at query time to the stored recommendations', async () => {
  const stored = customer(0, 'v2', 1).recommendations.map((r) => r.productId);
  const env = { FLOYO_RECOMMENDATIONS_EXCLUDE: JSON.stringify([stored[0]]) };
  const [json, human, page] = await Promise.all([
    floyo(['customer', 'Zoë 😀', '--home', home(), '--json'], { env }),
    floyo(['customer', 'Zoë 😀', '--home', home()], { env }),
    floyo(['audience', '--home', home(), '--all'], { env }),
  ]);
  const report = json.json<CustomerReport>();
  assert.deepEqual(report.recommendations.map((r) => r.productId), stored.slice(1));
  assert.deepEqual(report.excludedByRules, [stored[0]]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`not shown, excluded by config recommendations.exclude: ${stored[0]}`));
  assert.equal(page.code, 0, page.stderr);
  const rows = page.stdout.trim().split('\n').map((l) => JSON.parse(l) as Prediction);
  assert.ok(rows.length > 1);
  for (const row of rows) assert.ok(!row.recommendations.some((r) => r.productId === stored[0]), row.customerId);
});

test('floyo customer: an unknown customer, or a home where nothing was scored, exits 1 with what to do', async () => {
  const parent = tempDir('floyo-queries-');
  homes.push(parent);
  const fresh = join(parent, 'fresh');
  const [unknown, nothing, empty] = await Promise.all([
    floyo(['customer', '99999', '--home', home(), '--json']),
    floyo(['customer', '12344', '--home', fresh]),
    floyo(['customer', ' ', '--home', home()]),
  ]);
  assert.deepEqual([empty.code, empty.stderr], [2, 'floyo: the customer id is empty\n'], 'an empty id is a script\'s bug, not an unknown customer');
  assert.equal(unknown.code, 1);
  assertErrorStdout(unknown);
  assert.match(unknown.stderr, /no prediction for customer "99999": 40 customers were scored \(model v2\); ids must match the sales data exactly, only customers with a purchase are scored \(not those with only returns\)/);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /there is no Floyo home at .*fresh \(--home, FLOYO_HOME or home in the config\): nothing was ingested or trained there/);
  assert.equal(existsSync(fresh), false, 'a query does not create a home');
});

test('floyo customer: an id is found as ingest stored it: e-mails lowercased, whole numbers written as floats made whole', async () => {
  const h = home();
  const warehouse = await Warehouse.open(h, 'queries test');
  try {
    await new PredictionStore(warehouse).upsert([{ ...customer(1, 'v2', 1), customerId: 'ann@example.com' }]);
  } finally {
    warehouse.close();
  }
  const [email, float] = await Promise.all([
    floyo(['customer', ' Ann@Example.COM ', '--home', h, '--json']),
    floyo(['customer', '12344.0', '--home', h, '--json']),
  ]);
  assert.equal(email.code, 0, email.stderr);
  assert.equal(email.json<CustomerReport>().customerId, 'ann@example.com');
  assert.equal(float.code, 0, float.stderr);
  assert.equal(float.json<CustomerReport>().customerId, '12344');
});

test('floyo segments: counts, average churn and high risk per segment, and the movement matrix from v1 to v2', async () => {
  const [json, human] = await Promise.all([floyo(['segments', '--home', home(), '--json']), floyo(['segments', '--home', home()])]);
  assert.equal(json.code, 0, json.stderr);
  const report = json.json<SegmentsReport>();
  const v2 = Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v2', 1));
  assert.equal(report.modelVersion, 'v2');
  assert.equal(report.customers, CUSTOMERS);
  for (const s of report.segments) {
    const members = v2.filter((p) => p.segment === s.segment);
    assert.equal(s.customers, members.length, s.segment);
    assert.equal(s.highRisk, members.filter((p) => p.churnRisk === 'high').length);
    assert.ok(Math.abs(s.avgChurn - members.reduce((a, p) => a + p.churnProbability, 0) / members.length) < 1e-9);
    assert.equal(s.share, members.length / CUSTOMERS);
  }
  assert.equal(report.movement.length, 1);
  const m = report.movement[0];
  assert.deepEqual([m.fromVersion, m.toVersion, m.customers, m.moved], ['v1', 'v2', 40, 10]);
  assert.equal(m.transitions.reduce((a, t) => a + t.customers, 0), 40);
  assert.deepEqual(m.transitions.find((t) => t.from === 'champions' && t.to === 'loyal'), { from: 'champions', to: 'loyal', customers: 10 });
  assert.deepEqual(report.moves, [{ from: 'champions', to: 'loyal', customers: 10, fromVersion: 'v1', toVersion: 'v2' }]);

  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /40 customers, latest model v2/);
  assert.match(human.stdout, /segment +customers +share +avg churn +high risk/);
  assert.match(human.stdout, /movement from model v1 to v2: 10 of 40 customers \(25\.0%\) changed segment/);
  assert.match(human.stdout, /before \\ now +loyal/);
  assert.match(human.stdout, /^champions +10 +0 +0 +0$/m, 'the champions row: 10 moved to loyal, none stayed');
});

test('floyo audience: a page with its cursor, the next page from it, --all as NDJSON, and the human view', async () => {
  const h = home();
  const first = await floyo(['audience', '--home', h, '--min-churn', '0.5', '--limit', '7', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const page1 = first.json<AudiencePage>();
  assert.deepEqual(Object.keys(page1).sort(), ['customers', 'nextCursor', 'total', 'warnings']);
  const expected = Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v2', 1))
    .filter((p) => p.churnProbability >= 0.5)
    .sort((a, b) => Buffer.compare(Buffer.from(a.customerId), Buffer.from(b.customerId)));
  assert.equal(page1.total, expected.length);
  assert.deepEqual(page1.customers, expected.slice(0, 7));
  assert.ok(page1.nextCursor);

  const [second, all, human, both] = await Promise.all([
    floyo(['audience', '--home', h, '--min-churn', '50%', '--limit', '100', '--cursor', page1.nextCursor, '--json']),
    floyo(['audience', '--home', home(), '--min-churn', '0.5', '--all', '--limit', '3']),
    floyo(['audience', '--home', home(), '--segment', 'loyal', '--risk', 'high', '--limit', '2']),
    floyo(['audience', '--home', home(), '--all', '--json']),
  ]);
  // --json is one object; the NDJSON export is not, so the two are not given together
  assert.equal(both.code, 2);
  assertErrorStdout(both);
  assert.match(both.stderr, /--all prints NDJSON \(one customer per line\), --json one page as an object: give one of them/);
  assert.equal(second.code, 0, second.stderr);
  const page2 = second.json<AudiencePage>();
  assert.deepEqual(page2.customers, expected.slice(7), '50% is the same filter as 0.5');
  assert.equal(page2.nextCursor, null);

  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l) as Prediction), expected);

  assert.equal(human.code, 0, human.stderr);
  const loyalHigh = Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v2', 1)).filter((p) => p.segment === 'loyal' && p.churnRisk === 'high');
  assert.match(human.stdout, /customer +segment +R×F +churn +risk +top reason/);
  assert.match(human.stdout, new RegExp(`2 customers on this page, ${loyalHigh.length} match \\(segment "loyal", high risk\\)`));
  assert.match(human.stdout, /next page: the same command with --cursor [A-Za-z0-9_-]+/);
});

test('floyo audience: an unknown segment exits 1 listing the known ones, with nothing on stdout; a segment in another case or padded is found', async () => {
  const [json, all, cased] = await Promise.all([
    floyo(['audience', '--home', home(), '--segment', 'vip', '--json']),
    floyo(['audience', '--home', home(), '--segment', 'vip', '--all']),
    floyo(['audience', '--home', home(), '--segment', ' AT RISK ', '--json']),
  ]);
  for (const r of [json, all]) {
    assert.equal(r.code, 1);
    assertErrorStdout(r);
    assert.match(r.stderr, /^floyo: no segment is named "vip"; the segments are: "loyal", "at risk", "lost"\n$/);
  }
  assert.equal(cased.code, 0, cased.stderr);
  assert.ok(cased.json<AudiencePage>().total > 0);
  assert.ok(cased.json<AudiencePage>().customers.every((c) => c.segment === 'at risk'));
});

test('the R×F grid: floyo segments counts every cell, floyo audience --rf pages through the chosen cells', async () => {
  const all = Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v2', 1));
  const [seg, grid, page1, bad] = await Promise.all([
    floyo(['segments', '--home', home(), '--json']),
    floyo(['segments', '--home', home()]),
    floyo(['audience', '--home', home(), '--rf', 'r5f5, R1F1', '--limit', '2', '--json']),
    floyo(['audience', '--home', home(), '--rf', 'R6F1']),
  ]);
  const cells = new Map<string, Prediction[]>();
  for (const c of all) cells.set(c.rfCell, [...(cells.get(c.rfCell) ?? []), c]);
  const report = seg.json<SegmentsReport>();
  assert.deepEqual(report.rfGrid.map((c) => [c.cell, c.customers]), [...cells].sort(([a], [b]) => (a < b ? -1 : 1)).map(([cell, cs]) => [cell, cs.length]));
  for (const c of report.rfGrid) {
    const mean = cells.get(c.cell)!.reduce((sum, x) => sum + x.churnProbability, 0) / cells.get(c.cell)!.length;
    assert.ok(Math.abs(c.avgChurn - mean) < 1e-12);
  }
  assert.match(grid.stdout, /R×F quintile grid/);
  assert.match(grid.stdout, /^ *R5 +/m);

  const wanted = all.filter((c) => c.rfCell === 'R5F5' || c.rfCell === 'R1F1').map((c) => c.customerId);
  const first = page1.json<AudiencePage>();
  assert.equal(first.total, wanted.length);
  const seen = [...first.customers];
  let cursor = first.nextCursor;
  const h = home();
  while (cursor) {
    const next = (await floyo(['audience', '--home', h, '--rf', 'R1F1,R5F5', '--limit', '2', '--cursor', cursor, '--json'])).json<AudiencePage>();
    seen.push(...next.customers);
    cursor = next.nextCursor;
  }
  assert.deepEqual(seen.map((c) => c.customerId).sort(), [...wanted].sort(), 'the same cells in another order and case continue the pages');
  assert.ok(seen.every((c) => c.rfCell === 'R5F5' || c.rfCell === 'R1F1'));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^floyo: --rf must be R×F cells from R1F1 to R5F5, comma-separated .*got "R6F1"\n$/);
});

test('floyo audience: bad filters and a cursor from another query exit 2 with a clear message', async () => {
  const h = home();
  const page = (await floyo(['audience', '--home', h, '--segment', 'loyal', '--limit', '1', '--json'])).json<AudiencePage>();
  assert.ok(page.nextCursor);
  const [bad, misuse] = await Promise.all([
    floyo(['audience', '--home', h, '--min-churn', '1.5']),
    floyo(['audience', '--home', home(), '--segment', 'lost', '--cursor', page.nextCursor]),
  ]);
  assert.equal(bad.code, 2, bad.stderr);
  assertErrorStdout(bad);
  assert.match(bad.stderr, /^floyo: --min-churn must be a churn probability from 0 to 1 \(or a percentage like 70%\), got "1\.5"\n$/);
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /the cursor belongs to another audience \(segment "loyal".*\), not this one \(segment "lost"/);
  const near = await floyo(['audience', '--home', h, '--min-churn', '0.9999']);
  assert.match(near.stdout, /churn ≥ 99\.99%\)/, 'a bound is shown as given, not rounded to 100%');
});

/** Writes predictions into a home, as a train, promote or score would. */
async function write(h: string, predictions: Prediction[]): Promise<void> {
  const warehouse = await Warehouse.open(h, 'queries test');
  try {
    const store = new PredictionStore(warehouse);
    await store.init();
    await store.upsert(predictions);
  } finally {
    warehouse.close();
  }
}

test('floyo audience: a cursor survives a same-version re-score, and is refused (exit 2) once another version rewrote the predictions', async () => {
  const h = home();
  const audience = (cursor: string, ...json: string[]) => floyo(['audience', '--home', h, '--segment', 'loyal', '--limit', '2', '--cursor', cursor, ...json]);
  const page1 = (await floyo(['audience', '--home', h, '--segment', 'loyal', '--limit', '2', '--json'])).json<AudiencePage>();
  assert.ok(page1.nextCursor);
  await write(h, Array.from({ length: CUSTOMERS }, (_, i) => ({ ...customer(i, 'v2', 1), churnProbability: 0.02 })));
  const rescored = await audience(page1.nextCursor, '--json');
  assert.equal(rescored.code, 0, rescored.stderr);
  assert.ok(rescored.json<AudiencePage>().customers.every((c) => c.churnProbability === 0.02 && c.customerId > page1.customers[1].customerId));

  await write(h, Array.from({ length: CUSTOMERS }, (_, i) => customer(i, 'v3', 2)));
  const [human, json] = await Promise.all([audience(page1.nextCursor), audience(page1.nextCursor, '--json')]);
  for (const r of [human, json]) {
    assert.equal(r.code, 2, r.stderr);
    assertErrorStdout(r);
    assert.match(r.stderr, /^floyo: the predictions were replaced by model version v3 since this cursor was made \(under v2\): start again without --cursor\n$/);
  }
  const old = Buffer.from(JSON.stringify({ v: 1, f: { segment: 'loyal', minChurn: 0, maxChurn: 1, risk: null, rfCells: null }, a: '12341' })).toString('base64url');
  const before = await audience(old);
  assert.equal(before.code, 2, before.stderr);
  assert.match(before.stderr, /^floyo: the cursor was made by an earlier Floyo, .*: start again without --cursor\n$/);
});

test('floyo audience: a churn bound copied from --json finds that customer', async () => {
  const h = home();
  // 17 significant digits, as --json prints it
  const exact = 0.47679707921215453;
  await write(h, [{ ...customer(1, 'v2', 1), customerId: 'exact', churnProbability: exact }]);
  const found = await floyo(['audience', '--home', h, '--min-churn', String(exact), '--max-churn', String(exact), '--json']);
  assert.equal(found.code, 0, found.stderr);
  assert.deepEqual(found.json<AudiencePage>().customers.map((c) => [c.customerId, c.churnProbability]), [['exact', exact]]);
});

test('floyo audience: a percentage is the same bound as its fraction, so a cursor made with 14.3% continues with 0.143', async () => {
  const h = home();
  const page1 = (await floyo(['audience', '--home', h, '--min-churn', '14.3%', '--limit', '1', '--json'])).json<AudiencePage>();
  assert.ok(page1.nextCursor);
  const page2 = await floyo(['audience', '--home', h, '--min-churn', '0.143', '--limit', '1', '--cursor', page1.nextCursor, '--json']);
  assert.equal(page2.code, 0, page2.stderr);
});

test('the audience flags are checked with their names before the home is opened', () => {
  assert.deepEqual(parseQuery({ segment: 'at risk', minChurn: '70%', maxChurn: '0.95', risk: 'high', limit: '250', cursor: 'abc' }),
    { segment: 'at risk', minChurn: 0.7, maxChurn: 0.95, risk: 'high', limit: 250, cursor: 'abc' });
  assert.deepEqual(parseQuery({}), {});
  assert.deepEqual(parseQuery({ minChurn: '0', maxChurn: '100%' }), { minChurn: 0, maxChurn: 1 });
  // a percentage is the double nearest its fraction: 14.3% is 0.143, not 14.3 / 100 = 0.14300000000000002
  assert.deepEqual(parseQuery({ minChurn: '14.3%', maxChurn: ' 57.5 % ' }), { minChurn: 0.143, maxChurn: 0.575 });
  assert.deepEqual(parseQuery({ minChurn: '.5%', maxChurn: '1e1%' }), { minChurn: 0.005, maxChurn: 0.1 });
  assert.deepEqual(parseQuery({ minChurn: '5e-1', maxChurn: '1.' }), { minChurn: 0.5, maxChurn: 1 });
  for (let tenths = 0; tenths <= 1000; tenths++) {
    const digits = String(tenths).padStart(3, '0'); // 143 → 14.3% → 0.143
    const fraction = Number(`${digits.slice(0, -3) || '0'}.${digits.slice(-3)}`);
    assert.equal(parseQuery({ minChurn: `${digits.slice(0, -1)}.${digits.slice(-1)}%` }).minChurn, fraction, `${tenths / 10}%`);
  }
  const refused: Array<[Parameters<typeof parseQuery>[0], RegExp]> = [
    [{ minChurn: '1.5' }, /--min-churn must be a churn probability from 0 to 1/],
    [{ minChurn: '-0.1' }, /--min-churn must be/],
    [{ minChurn: 'lots' }, /--min-churn must be .*got "lots"/],
    [{ minChurn: '' }, /--min-churn must be/],
    [{ minChurn: '%' }, /--min-churn must be/],
    [{ minChurn: '0x10%' }, /--min-churn must be .*got "0x10%"/],
    // JavaScript's Number reads these as 1; a probability is a decimal number, with or without %
    [{ minChurn: '0x1' }, /--min-churn must be .*got "0x1"/],
    [{ maxChurn: '0b1' }, /--max-churn must be .*got "0b1"/],
    [{ minChurn: 'Infinity%' }, /--min-churn must be/],
    [{ minChurn: '-5%' }, /--min-churn must be/],
    [{ maxChurn: '120%' }, /--max-churn must be/],
    [{ minChurn: '0.9', maxChurn: '0.1' }, /--min-churn \(0\.9\) is above --max-churn \(0\.1\): no customer can match/],
    [{ limit: '0' }, /--limit must be a whole number from 1 to 100,000, got "0"/],
    [{ limit: '-3' }, /--limit must be/],
    [{ limit: '2.5' }, /--limit must be/],
    [{ limit: '100001' }, /--limit must be/],
    [{ risk: 'medium' }, /--risk must be high or low, got "medium"/],
    [{ segment: '  ' }, /--segment needs a segment name/],
  ];
  for (const [opts, message] of refused) assert.throws(() => parseQuery(opts), (err: unknown) => err instanceof FloyoError && message.test(err.message), JSON.stringify(opts));
});

test('the query commands answer --help, and say who holds a busy home (exit 3)', async () => {
  const h = home();
  const warehouse = await Warehouse.open(h, 'floyo train --data sales.csv');
  try {
    const runs = await Promise.all([
      floyo(['customer', '--help']),
      floyo(['segments', '--help']),
      floyo(['audience', '--help']),
      floyo(['segments', '--home', h]),
    ]);
    for (const [i, command] of ['customer', 'segments', 'audience'].entries()) {
      assert.equal(runs[i].code, 0, runs[i].stderr);
      assert.match(runs[i].stdout, new RegExp(`Usage: floyo ${command}`));
      assert.match(runs[i].stdout, /--home <dir>/);
      assert.match(runs[i].stdout, /--json/);
      assert.match(runs[i].stdout, /Exit codes: 0 done, 1 nothing to answer with/);
    }
    assert.match(runs[2].stdout, /--all/);
    assert.equal(runs[3].code, 3);
    assert.match(runs[3].stderr, /in use by `floyo train --data sales\.csv` \(pid \d+/);
  } finally {
    warehouse.close();
  }
});

test('--lock-wait-seconds queues a command behind the holder of the home, and says what it waits for', async () => {
  const h = home();
  let warehouse: Warehouse | null = await Warehouse.open(h, 'floyo train --data sales.csv');
  try {
    const [none, bad, viaEnv] = await Promise.all([
      floyo(['segments', '--home', h, '--lock-wait-seconds', '0']),
      floyo(['segments', '--home', h, '--lock-wait-seconds', 'soon']),
      floyo(['segments', '--home', h], { env: { FLOYO_LOCK_WAIT_SECONDS: '-1' } }),
    ]);
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /in use by `floyo train --data sales\.csv` .*this command waited 0 s; --lock-wait-seconds N waits longer/);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--lock-wait-seconds must be a number of seconds, got "soon"/);
    assert.equal(viaEnv.code, 2);
    assert.match(viaEnv.stderr, /lockWaitSeconds \(from env FLOYO_LOCK_WAIT_SECONDS\)/);
    // the holder lets go only once the waiting command has said so: the wait is seen, not guessed by timing
    const r = await floyo(['segments', '--home', h, '--lock-wait-seconds', '60'], {
      started: (child) => child.stderr?.on('data', (d: Buffer) => {
        if (warehouse && d.toString().includes('waiting up to 60 s')) {
          warehouse.close();
          warehouse = null;
        }
      }),
    });
    assert.match(r.stderr, /^floyo: waiting up to 60 s for `floyo train --data sales\.csv` \(pid \d+ on .*\) to finish with the home /);
    // it got the home once the holder let go, and answered
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /segment/);
    // -q waits as long without the line; the wait is seen by its lock file written aside (lock.json.<pid>.<ms>)
    warehouse = await Warehouse.open(h, 'floyo train --data sales.csv');
    const quiet = await floyo(['segments', '--home', h, '--lock-wait-seconds', '60', '-q'], {
      started: () => {
        const poll = setInterval(() => {
          if (!readdirSync(h).some((f) => /^lock\.json\.\d+\.\d+$/.test(f))) return;
          clearInterval(poll);
          setTimeout(() => {
            warehouse?.close();
            warehouse = null;
          }, 300);
        }, 20);
      },
    });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.equal(warehouse, null);
  } finally {
    (warehouse as Warehouse | null)?.close();
  }
});

test('the R×F grid names the fifths no customer is in (tied quintile cuts), so an empty column does not look like a bug', () => {
  const cell = (c: string, customers: number) => ({ cell: c, customers, avgChurn: 0.5 });
  const full = ['R5', 'R4', 'R3', 'R2', 'R1'].flatMap((r) => ['F1', 'F2', 'F3', 'F4', 'F5'].map((f) => cell(r + f, 3)));
  assert.deepEqual(emptyFifths(full), []);
  assert.deepEqual(emptyFifths(full.filter((c) => !c.cell.endsWith('F2') && !c.cell.startsWith('R4'))), ['R4', 'F2']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Warehouse } from '../../src/data/warehouse.js';
import { FloyoError } from '../../src/errors.js';
import { MAX_PAGE, PredictionStore, withPredictions, type AudienceQuery, type Prediction } from '../../src/stores/predictions.js';
import { tempDir } from '../support/cli.js';

const SCORED_AT = '2011-12-09T12:50:00Z';
const SEGMENTS = ['champions', 'loyal', 'at risk', 'hibernating', 'lost'];

function prediction(id: string, overrides: Partial<Prediction> = {}): Prediction {
  return {
    customerId: id,
    segment: 'loyal',
    segmentId: 1,
    rfCell: 'R4F3',
    churnProbability: 0.25,
    churnRisk: 'low',
    churnReasons: [{ feature: 'recency_days', text: 'no purchase for 40 days', contribution: 0.31 }],
    recommendations: [{ productId: '85123A', productName: 'WHITE HANGING HEART T-LIGHT HOLDER', score: 0.9, reason: 'bought with 22423' }],
    modelVersion: 'v1',
    scoredAt: SCORED_AT,
    ...overrides,
  };
}

/** n customers with ids in a scrambled order, a spread of churn probabilities and segments. */
function synthetic(n: number, version = 'v1', segmentShift = 0): Prediction[] {
  return Array.from({ length: n }, (_, k) => {
    const i = (k * 7919) % n;
    const p = ((i * 37) % 1000) / 1000;
    const s = (i + (i % 3 === 0 ? segmentShift : 0)) % SEGMENTS.length;
    return prediction(`C${String(i).padStart(6, '0')}`, {
      segment: SEGMENTS[s],
      segmentId: s,
      churnProbability: p,
      churnRisk: p >= 0.5 ? 'high' : 'low',
      modelVersion: version,
    });
  });
}

/** UTF-8 byte order, the order DuckDB compares VARCHARs in. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function withStore(fn: (store: PredictionStore, warehouse: Warehouse, home: string) => Promise<void>): Promise<void> {
  const home = tempDir('floyo-predictions-');
  const warehouse = await Warehouse.open(home, 'predictions test');
  try {
    const store = new PredictionStore(warehouse);
    await store.init();
    await fn(store, warehouse, home);
  } finally {
    warehouse.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Every table of the store, rows in a fixed order: equal dumps mean equal states. */
async function dump(warehouse: Warehouse): Promise<unknown> {
  return {
    predictions: await warehouse.query('SELECT * EXCLUDE (scored_at), epoch_ms(scored_at) AS scored_at FROM predictions ORDER BY customer_id'),
    moves: await warehouse.query('SELECT * EXCLUDE (moved_at), epoch_ms(moved_at) AS moved_at FROM segment_moves ORDER BY ALL'),
    versions: await warehouse.query('SELECT * FROM prediction_versions ORDER BY ALL'),
  };
}

async function rejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof FloyoError, `expected a FloyoError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

async function pageThrough(store: PredictionStore, query: AudienceQuery, between?: (page: number) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; ; page++) {
    const result = await store.audience({ ...query, cursor });
    seen.push(...result.customers.map((c) => c.customerId));
    if (result.nextCursor === null) return seen;
    assert.ok(result.customers.length === query.limit, 'only the last page is short');
    cursor = result.nextCursor;
    await between?.(page);
  }
}

test('upserting the same predictions twice leaves the same state; the second write reports that it changed nothing', async () => {
  await withStore(async (store, warehouse) => {
    const v1 = synthetic(500);
    const v2 = synthetic(500, 'v2', 1);
    assert.deepEqual(pick(await store.upsert(v1)), { written: 500, moved: 0 });
    const afterV1 = await dump(warehouse);
    assert.deepEqual(pick(await store.upsert(v1)), { written: 500, moved: 0 });
    assert.deepEqual(await dump(warehouse), afterV1);

    const first = pick(await store.upsert(v2));
    assert.equal(first.written, 500);
    assert.equal(first.moved, 167, 'every third customer changed segment');
    const afterV2 = await dump(warehouse);
    assert.deepEqual(pick(await store.upsert(v2)), { written: 500, moved: 0 }, 'a retried write moves nobody: their stored segment is already the new one');
    assert.deepEqual(await dump(warehouse), afterV2);
    assert.equal(await store.count(), 500);
  });
});

function pick(r: { written: number; moved: number }): { written: number; moved: number } {
  return { written: r.written, moved: r.moved };
}

test('get returns what was written, JSON fields and awkward ids included; null for an unknown customer', async () => {
  await withStore(async (store) => {
    const ids = [
      'Zoë-ünïcødé', '顧客-42', '😀 emoji 👩‍👩‍👧', 'שלום', 'e\u0301 combining', ' padded ', 'tab\there', 'line\nbreak', 'cr\rreturn',
      'quote"d', "apo'strophe", 'back\\slash', '\\N', 'soh\u0001inside', '\u0001', '\uFFFF', 'x'.repeat(500),
    ];
    const written = ids.map((id, i) =>
      prediction(id, {
        segment: i % 2 ? 'at risk 🔥' : 'loyal "regulars"',
        segmentId: i,
        churnProbability: [0, 1, 0.1 + 0.2, 1e-300, 0.999999999999][i % 5],
        churnRisk: i % 2 ? 'high' : 'low',
        churnReasons: i % 3 === 0 ? [] : [
          { feature: 'recency_days', text: `no purchase for ${i * 30} days`, contribution: 1.5 - i / 7 },
          { feature: 'returns_rate', text: 'returned 3 of 4 orders — "tabs\tand\nnewlines"', contribution: -0.25 },
        ],
        recommendations: [
          { productId: 'P\t1', productName: null, score: 0.123456789012345 },
          { productId: '22423', productName: 'REGENCY CAKESTAND 3 TIER ☕', score: -0.5, reason: 'customers like you \u0001 bought it' },
        ],
        modelVersion: i % 2 ? 'v1' : '2011-12-09T12:50:00Z#a1b2',
        scoredAt: new Date(Date.UTC(2011, 11, 9, 12, 50, i)).toISOString().replace('.000Z', 'Z'),
      }),
    );
    await store.upsert(written);
    for (const p of written) assert.deepEqual(await store.get(p.customerId), p, JSON.stringify(p.customerId));
    assert.equal(await store.get('nobody'), null);
    assert.equal(await store.get('padded'), null, 'ids are not trimmed');
    assert.equal(await store.get("apo'"), null);
  });
});

test('a batch is checked before anything is written: a bad prediction names its customer and field', async () => {
  await withStore(async (store) => {
    await store.upsert([prediction('A')]);
    const cases: Array<[Partial<Prediction>, RegExp]> = [
      [{ churnProbability: 1.5 }, /customer "B": churnProbability must be a number in \[0, 1\], got 1\.5/],
      [{ churnProbability: Number.NaN }, /churnProbability/],
      [{ churnRisk: 'medium' as 'high' }, /churnRisk must be "high" or "low"/],
      [{ segment: '' }, /segment must be a non-empty string/],
      [{ rfCell: 'R6F1' }, /rfCell must be an R×F quintile cell like "R5F4"/],
      [{ segmentId: 1.5 }, /segmentId must be an integer/],
      [{ scoredAt: 'yesterday' }, /scoredAt must be an ISO timestamp/],
      [{ customerId: 'nul\u0000' }, /customerId must not contain a NUL character/],
      [{ recommendations: [{ productId: 'P', productName: null, score: Infinity }] }, /recommendations must hold/],
      [{ churnReasons: [{ feature: 'f', text: 't', contribution: Number.NaN }] }, /churnReasons must hold/],
    ];
    for (const [bad, message] of cases) {
      await rejects(store.upsert([prediction('A', { segment: 'champions' }), prediction('B', bad), prediction('C')]), message);
    }
    assert.equal(await store.count(), 1, 'nothing of a rejected batch was written');
    assert.equal((await store.get('A'))?.segment, 'loyal');
  });
});

test('a customer twice in one batch: the last one wins; async iterables are accepted', async () => {
  await withStore(async (store) => {
    async function* stream(): AsyncGenerator<Prediction> {
      yield prediction('A', { segment: 'champions' });
      yield prediction('B');
      yield prediction('A', { segment: 'lost', churnProbability: 0.9, churnRisk: 'high' });
    }
    assert.deepEqual(pick(await store.upsert(stream())), { written: 2, moved: 0 });
    assert.equal((await store.get('A'))?.segment, 'lost');
    assert.equal(await store.count(), 2);
    assert.deepEqual(pick(await store.upsert([])), { written: 0, moved: 0 });
  });
});

test('a write in customer order (a train or a score) stores what the same write in any order stores, history included', async () => {
  // ids whose UTF-8 byte order differs from JavaScript's string order (an emoji after U+FFFF)
  const awkward = ['\uFFFF', '😀', 'Zoë', 'zoe', '顧客-42', '10', '9', 'a b'];
  const all = [...synthetic(3000).map((p) => p.customerId), ...awkward];
  const versions = [
    (id: string, i: number) => prediction(id, { segment: SEGMENTS[i % 5], segmentId: i % 5 }),
    (id: string, i: number) => prediction(id, { segment: SEGMENTS[(i + (i % 3 === 0 ? 1 : 0)) % 5], segmentId: 0, modelVersion: 'v2' }),
    (id: string, i: number) => prediction(id, { segment: SEGMENTS[(i + (i % 4 === 0 ? 2 : 0)) % 5], segmentId: 0, modelVersion: 'v3', churnProbability: 0.5 }),
  ];
  const inOrder = [...all].sort(byteOrder);
  const states: unknown[][] = [[], []];
  for (const [k, ids] of [inOrder, [...all].reverse()].entries()) {
    await withStore(async (store, warehouse) => {
      for (const version of versions) {
        await store.upsert(ids.map((id) => version(id, all.indexOf(id))));
        states[k].push(await dump(warehouse));
      }
    });
  }
  assert.deepEqual(states[0], states[1]);
  const last = states[0][2] as { predictions: Array<{ previous_version: string | null }> };
  assert.ok(last.predictions.every((p) => p.previous_version === 'v2'), 'each row knows the version before');
});

test('a few customers re-scored into a large table update in place of the rest', async () => {
  await withStore(async (store, warehouse) => {
    await store.upsert(synthetic(2000));
    const before = await store.get('C000007');
    assert.equal(before?.segment, SEGMENTS[7 % SEGMENTS.length]);
    const result = await store.upsert([
      prediction('C000007', { segment: 'champions', segmentId: 0, modelVersion: 'v2' }),
      prediction('NEW-1', { modelVersion: 'v2' }),
    ]);
    assert.deepEqual(pick(result), { written: 2, moved: 1 });
    assert.equal(await store.count(), 2001);
    assert.equal((await store.get('C000007'))?.segment, 'champions');
    assert.equal((await store.get('C000008'))?.modelVersion, 'v1', 'the others keep their prediction');
    const [{ dupes }] = await warehouse.query<{ dupes: number }>('SELECT count(*) - count(DISTINCT customer_id) AS dupes FROM predictions');
    assert.equal(dupes, 0);
  });
});

test('a version change records each move from the stored version and keeps it; a re-score with the same version records its own moves', async () => {
  await withStore(async (store, warehouse) => {
    const ids = ['a', 'b', 'c', 'd'];
    const write = (version: string, segments: string[], scoredAt = SCORED_AT) =>
      store.upsert(ids.map((id, i) => prediction(id, { segment: segments[i], modelVersion: version, scoredAt })));

    assert.equal((await write('v1', ['loyal', 'loyal', 'lost', 'new'])).moved, 0);
    assert.deepEqual(await store.moves(), []);
    assert.deepEqual(await store.transitions(), [], 'nothing to compare the first version with');
    assert.equal(await store.latestVersion(), 'v1');

    assert.equal((await write('v2', ['champions', 'loyal', 'champions', 'new'], '2012-03-01T00:00:00.000Z')).moved, 2);
    assert.equal(await store.latestVersion(), 'v2');
    const v1ToV2 = [
      { from: 'lost', to: 'champions', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
      { from: 'loyal', to: 'champions', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
    ];
    assert.deepEqual(await store.moves(), v1ToV2);
    const matrix = [
      { from: 'lost', to: 'champions', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
      { from: 'loyal', to: 'champions', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
      { from: 'loyal', to: 'loyal', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
      { from: 'new', to: 'new', customers: 1, fromVersion: 'v1', toVersion: 'v2' },
    ];
    assert.deepEqual(await store.transitions(), matrix);
    assert.deepEqual(await store.customerMoves('a'), [{ from: 'loyal', to: 'champions', fromVersion: 'v1', toVersion: 'v2', movedAt: '2012-03-01T00:00:00Z' }]);

    // Re-scored by v2 as of an earlier time (floyo score --now): a and c move, and only these moves are the
    // write's; what v2 changed when it replaced v1 stays as it was.
    const rescore = await write('v2', ['at risk', 'loyal', 'lost', 'new']);
    assert.deepEqual([rescore.written, rescore.added, rescore.moved], [4, 0, 2]);
    assert.deepEqual(await store.moves({ fromVersion: 'v1', toVersion: 'v2' }), v1ToV2, 'the version change is not blamed for the re-score');
    assert.deepEqual(await store.moves({ fromVersion: 'v2', toVersion: 'v2' }), [
      { from: 'champions', to: 'at risk', customers: 1, fromVersion: 'v2', toVersion: 'v2' },
      { from: 'champions', to: 'lost', customers: 1, fromVersion: 'v2', toVersion: 'v2' },
    ]);
    assert.deepEqual(await store.transitions(), matrix, 'the matrix is the one of the version change');
    assert.deepEqual(await store.customerMoves('c'), [
      { from: 'lost', to: 'champions', fromVersion: 'v1', toVersion: 'v2', movedAt: '2012-03-01T00:00:00Z' },
      { from: 'champions', to: 'lost', fromVersion: 'v2', toVersion: 'v2', movedAt: SCORED_AT },
    ], 'in the order they happened, though the re-score was as of an earlier time');
    const afterRescore = await dump(warehouse);
    assert.equal((await write('v2', ['at risk', 'loyal', 'lost', 'new'])).moved, 0, 'the same re-score again changes nothing');
    assert.deepEqual(await dump(warehouse), afterRescore);

    await write('v3', ['at risk', 'lost', 'lost', 'new']);
    assert.equal(await store.latestVersion(), 'v3');
    assert.deepEqual(await store.moves({ fromVersion: 'v2', toVersion: 'v3' }), [{ from: 'loyal', to: 'lost', customers: 1, fromVersion: 'v2', toVersion: 'v3' }]);
    assert.deepEqual((await store.moves()).map((m) => `${m.fromVersion}→${m.toVersion}`), ['v2→v3', 'v1→v2', 'v1→v2', 'v2→v2', 'v2→v2'], 'newest versions first');
    assert.deepEqual(await store.moves({ fromVersion: 'v9' }), []);

    // A new customer scored by an older version (a stream scorer still on it) does not make it the latest.
    await store.upsert([prediction('e', { modelVersion: 'v2' })]);
    assert.equal(await store.latestVersion(), 'v3');
    assert.deepEqual(await store.customerMoves('e'), []);

    // A rollback re-scored with v1 makes v1 the latest again, and its moves do not erase v0→v1 history.
    await write('v1', ['loyal', 'loyal', 'lost', 'new']);
    assert.equal(await store.latestVersion(), 'v1');
    assert.deepEqual(await store.moves({ fromVersion: 'v3', toVersion: 'v1' }), [
      { from: 'at risk', to: 'loyal', customers: 1, fromVersion: 'v3', toVersion: 'v1' },
      { from: 'lost', to: 'loyal', customers: 1, fromVersion: 'v3', toVersion: 'v1' },
    ]);
    assert.deepEqual((await store.customerMoves('b')).map((m) => `${m.fromVersion}→${m.toVersion}`), ['v2→v3', 'v3→v1']);
    assert.deepEqual((await store.transitions('v1')).map((t) => t.fromVersion), ['v3', 'v3', 'v3', 'v3']);

    // Promoting v2 again replaces the move of the first v1→v2 change instead of adding a second one.
    await write('v2', ['champions', 'loyal', 'lost', 'new']);
    assert.deepEqual(await store.moves({ fromVersion: 'v1', toVersion: 'v2' }), [{ from: 'loyal', to: 'champions', customers: 1, fromVersion: 'v1', toVersion: 'v2' }]);
  });
});

test('a write reports the customers it added and the stored rows it left, by version and scored-at; scoredAfter finds the later ones', async () => {
  await withStore(async (store, warehouse) => {
    const r0 = await store.upsert(['a', 'b', 'c'].map((id) => prediction(id, { scoredAt: '2011-12-09T12:50:00Z' })));
    assert.deepEqual([r0.written, r0.added, r0.untouched], [3, 3, []]);
    const r1 = await store.upsert([prediction('d', { modelVersion: 'v2', scoredAt: '2011-06-01T23:59:59Z' })]);
    assert.deepEqual([r1.written, r1.added], [1, 1]);
    assert.deepEqual(r1.untouched, [{ modelVersion: 'v1', scoredAt: '2011-12-09T12:50:00Z', customers: 3 }]);
    const r2 = await store.upsert([prediction('a', { modelVersion: 'v2', scoredAt: '2011-06-01T23:59:59Z' })]);
    assert.deepEqual([r2.written, r2.added], [1, 0]);
    assert.deepEqual(r2.untouched, [
      { modelVersion: 'v1', scoredAt: '2011-12-09T12:50:00Z', customers: 2 },
      { modelVersion: 'v2', scoredAt: '2011-06-01T23:59:59Z', customers: 1 },
    ]);
    assert.deepEqual((await store.upsert([])).untouched.reduce((n, g) => n + g.customers, 0), 4);

    // customers with lines in the warehouse: c has none (ingested again under another id), so its row is left aside
    for (const [i, id] of ['a', 'b', 'd'].entries()) {
      await warehouse.run(`INSERT INTO transactions VALUES ('s', ${i + 1}, 'o${i}', '${id}', 'p', NULL, 1, 1, 1, 0, false, TIMESTAMP '2011-01-01', NULL, NULL)`);
    }
    const later = await store.scoredAfter('2011-06-01T23:59:59Z');
    assert.deepEqual([later.customers.sort(), later.latest], [['b'], '2011-12-09T12:50:00Z']);
    assert.equal(await store.removeGone(), 1);
    assert.equal(await store.count(), 3);
    assert.deepEqual(await store.scoredAfter('2011-12-09T12:50:00Z'), { customers: [], latest: null });
  });
});

test('a home whose segment_moves predates write_seq is upgraded by init, and its old moves come first in a history', async () => {
  const home = tempDir('floyo-predictions-');
  const warehouse = await Warehouse.open(home, 'predictions test');
  try {
    await warehouse.run(`CREATE TABLE segment_moves (customer_id VARCHAR NOT NULL, from_segment VARCHAR NOT NULL, to_segment VARCHAR NOT NULL,
      from_version VARCHAR NOT NULL, to_version VARCHAR NOT NULL, moved_at TIMESTAMP NOT NULL)`);
    await warehouse.run(`INSERT INTO segment_moves VALUES ('a', 'new', 'loyal', 'v0', 'v1', '2012-06-01 00:00:00')`);
    const store = new PredictionStore(warehouse);
    await store.init();
    await store.upsert([prediction('a', { segment: 'loyal' })]);
    await store.upsert([prediction('a', { segment: 'lost', modelVersion: 'v2' })]);
    assert.deepEqual((await store.customerMoves('a')).map((m) => `${m.from}→${m.to}`), ['new→loyal', 'loyal→lost']);
  } finally {
    warehouse.close();
  }
});

test('segments: customers, average churn and high-risk customers per segment, largest first', async () => {
  await withStore(async (store) => {
    await store.upsert([
      prediction('a', { segment: 'loyal', churnProbability: 0.2, churnRisk: 'low' }),
      prediction('b', { segment: 'loyal', churnProbability: 0.6, churnRisk: 'high' }),
      prediction('c', { segment: 'loyal', churnProbability: 0.4, churnRisk: 'low' }),
      prediction('d', { segment: 'lost', churnProbability: 0.9, churnRisk: 'high' }),
    ]);
    const segments = await store.segments();
    assert.deepEqual(segments.map((s) => [s.segment, s.customers, s.highRisk]), [['loyal', 3, 1], ['lost', 1, 1]]);
    assert.ok(Math.abs(segments[0].avgChurn - 0.4) < 1e-12);
    assert.equal(segments[1].avgChurn, 0.9);
  });
});

test('paging through 20k customers with limit 1000 returns every match exactly once, in order, with the right total', async () => {
  await withStore(async (store) => {
    const all = synthetic(20_000);
    await store.upsert(all);
    for (const query of [{ limit: 1000 }, { minChurn: 0.3, maxChurn: 0.8, limit: 1000 }, { segment: 'at risk', risk: 'high' as const, limit: 1000 }]) {
      const expected = all
        .filter((p) => p.churnProbability >= (query.minChurn ?? 0) && p.churnProbability <= (query.maxChurn ?? 1))
        .filter((p) => (query.segment === undefined || p.segment === query.segment) && (query.risk === undefined || p.churnRisk === query.risk))
        .map((p) => p.customerId)
        .sort(byteOrder);
      const first = await store.audience(query);
      assert.equal(first.total, expected.length, JSON.stringify(query));
      assert.deepEqual(await pageThrough(store, query), expected, JSON.stringify(query));
    }
  });
});

test('customers written between pages cause no duplicates and no skips of the existing ones', async () => {
  await withStore(async (store) => {
    const all = synthetic(20_000);
    await store.upsert(all);
    const query = { minChurn: 0.5, limit: 1000 };
    const existing = all.filter((p) => p.churnProbability >= 0.5).map((p) => p.customerId).sort(byteOrder);
    let round = 0;
    const seen = await pageThrough(store, query, async () => {
      round++;
      // New customers before and after the cursor, and existing ones re-scored (same version) without leaving the filter.
      await store.upsert([
        ...Array.from({ length: 50 }, (_, i) => prediction(`A-new-${round}-${i}`, { churnProbability: 0.9, churnRisk: 'high' })),
        ...Array.from({ length: 50 }, (_, i) => prediction(`C${String(19_000 + round * 50 + i).padStart(6, '0')}x`, { churnProbability: 0.7, churnRisk: 'high' })),
        ...existing.slice(round * 700, round * 700 + 300).map((id) => prediction(id, { churnProbability: 0.66, churnRisk: 'high' })),
      ]);
    });
    assert.equal(new Set(seen).size, seen.length, 'no customer twice');
    const seenSet = new Set(seen);
    assert.deepEqual(existing.filter((id) => !seenSet.has(id)), [], 'no existing customer skipped');
    assert.deepEqual([...seen].sort(byteOrder), seen, 'in id order');
    assert.ok(seen.some((id) => id.endsWith('x')), 'customers added after the cursor are reached');
    assert.ok(!seen.some((id) => id.startsWith('A-new')), 'customers added before the cursor are not');
  });
});

test('a cursor only continues the query it came from; malformed cursors and bad queries are refused clearly', async () => {
  await withStore(async (store) => {
    await store.upsert(synthetic(50));
    const page = await store.audience({ segment: 'loyal', minChurn: 0.1, limit: 3 });
    assert.ok(page.nextCursor);
    const cursor = page.nextCursor;
    // the same filter with defaults spelt out, or another page size, is the same query
    const next = await store.audience({ segment: 'loyal', minChurn: 0.1, maxChurn: 1, limit: 5, cursor });
    assert.ok(next.customers.every((c) => c.customerId > page.customers[2].customerId));
    await rejects(store.audience({ segment: 'lost', minChurn: 0.1, cursor }), /cursor belongs to another audience \(segment "loyal", churn 0\.1\.\.1, any risk\), not this one \(segment "lost"/);
    await rejects(store.audience({ segment: 'loyal', cursor }), /another audience/);
    await rejects(store.audience({ segment: 'loyal', minChurn: 0.1, risk: 'high', cursor }), /another audience/);
    for (const bad of ['garbage!', 'eyJmb28iOjF9', Buffer.from('{"v":2,"f":{},"a":"x"}').toString('base64url'), '']) {
      await rejects(store.audience({ cursor: bad }), /not one Floyo made/);
    }
    await rejects(store.audience({ minChurn: -0.1 }), /minChurn must be a churn probability between 0 and 1, got -0\.1/);
    await rejects(store.audience({ minChurn: 1.5 }), /minChurn must be/);
    await rejects(store.audience({ maxChurn: Number.NaN }), /maxChurn must be/);
    await rejects(store.audience({ minChurn: 0.8, maxChurn: 0.2 }), /above maxChurn/);
    await rejects(store.audience({ limit: 0 }), /limit must be a whole number from 1 to 100,000, got 0/);
    await rejects(store.audience({ limit: -5 }), /limit must be/);
    await rejects(store.audience({ limit: 2.5 }), /limit must be/);
    await rejects(store.audience({ limit: 100_001 }), /limit must be/);
    await rejects(store.audience({ risk: 'medium' as 'high' }), /risk must be "high" or "low"/);
    assert.deepEqual(await store.audience({ segment: 'no such segment' }), { customers: [], nextCursor: null, total: 0 });
  });
});

test('a cursor is refused once another model version rewrote the predictions; a re-score with the same version keeps it', async () => {
  await withStore(async (store) => {
    const query = { segment: 'hibernating', limit: 20 };
    const replaced = (by: string, under: string) =>
      new RegExp(`^the predictions were replaced by model versions? ${by} since this cursor was made \\(under ${under}\\): start again without --cursor$`);
    await store.upsert(synthetic(500));
    const page1 = await store.audience(query);
    assert.ok(page1.nextCursor);

    // the same version again with other segments (newer data): pages go on, by customer id as before
    await store.upsert(synthetic(500, 'v1', 1));
    const page2 = await store.audience({ ...query, cursor: page1.nextCursor });
    assert.ok(page2.nextCursor);
    assert.ok(page2.customers.every((c) => c.customerId > page1.customers[page1.customers.length - 1].customerId && c.modelVersion === 'v1'));

    // a train or promote of another version: the next page would be v2's segment, not the one paged so far
    await store.upsert(synthetic(500, 'v2', 2));
    await rejects(store.audience({ ...query, cursor: page2.nextCursor }), replaced('v2', 'v1'));
    const underV2 = (await store.audience(query)).nextCursor;
    assert.ok(underV2);

    // a rollback to v1: the same name as the cursor's, written again after another version
    await store.upsert(synthetic(500, 'v1', 0));
    await rejects(store.audience({ ...query, cursor: page2.nextCursor }), replaced('v1 \\(written again\\)', 'v1'));
    await rejects(store.audience({ ...query, cursor: underV2 }), replaced('v1', 'v2'));

    // a version that rewrote only some customers, then the rest of them
    const underV1 = (await store.audience(query)).nextCursor;
    assert.ok(underV1);
    await store.upsert(synthetic(500, 'v3', 1).slice(0, 100));
    await rejects(store.audience({ ...query, cursor: underV1 }), replaced('v3', 'v1'));
    // the newest re-scoring some more of an older one's customers (score --allow-older): both still stored
    const partly = (await store.audience(query)).nextCursor;
    assert.ok(partly);
    await store.upsert(synthetic(500, 'v3', 1).slice(100, 200));
    await rejects(store.audience({ ...query, cursor: partly }), replaced('v3 \\(written again\\)', 'v1, v3'));
    const mixed = (await store.audience(query)).nextCursor;
    assert.ok(mixed);
    // the newest taking over the rest of an older one's customers: the same names, but v3 replaced more since
    await store.upsert(synthetic(500, 'v3', 1));
    await rejects(store.audience({ ...query, cursor: mixed }), replaced('v3 \\(written again\\)', 'v1, v3'));
  });
});

test('a cursor made before cursors noted the model version is refused clearly, not continued', async () => {
  await withStore(async (store) => {
    await store.upsert(synthetic(50));
    const filter = { segment: null, minChurn: 0, maxChurn: 1, risk: null, rfCells: null };
    const { rfCells: _, ...beforeRf } = filter;
    for (const f of [filter, beforeRf]) {
      const old = Buffer.from(JSON.stringify({ v: 1, f, a: 'C000010' })).toString('base64url');
      await rejects(store.audience({ cursor: old }), /^the cursor was made by an earlier Floyo, which did not note the model version of the predictions it paged: start again without --cursor$/);
    }
    for (const w of [undefined, 'v1', [['v1']], [['v1', 'one']], [[1, 1]]]) {
      const bad = Buffer.from(JSON.stringify({ v: 2, f: filter, w, a: 'C000010' })).toString('base64url');
      await rejects(store.audience({ cursor: bad }), /not one Floyo made/);
    }
  });
});

/** The double next to x towards +∞ (up) or −∞, for x > 0. */
function adjacent(x: number, up: boolean): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + (up ? 1n : -1n));
  return view.getFloat64(0);
}

test('churn bounds are inclusive for any stored probability, also one that needs 17 significant digits (as --json prints it)', async () => {
  await withStore(async (store) => {
    // from the audit: a bare 0.47679707921215453 in SQL is a DECIMAL, converted to the double next to it
    const audited = 0.47679707921215453;
    const probabilities = [audited, adjacent(audited, false), adjacent(audited, true), ...Array.from({ length: 200 }, (_, i) => Math.abs(Math.sin(i + 1)))];
    const stored = probabilities.map((p, i) => prediction(`P${String(i).padStart(3, '0')}`, { churnProbability: p }));
    await store.upsert(stored);
    for (const { customerId, churnProbability: p } of stored) {
      const page = await store.audience({ minChurn: p, maxChurn: p });
      assert.deepEqual(page.customers.map((c) => [c.customerId, c.churnProbability]), [[customerId, p]], `exactly ${p}`);
      const atLeast = (await store.audience({ minChurn: p, limit: MAX_PAGE })).customers.map((c) => c.customerId);
      assert.deepEqual(atLeast, stored.filter((s) => s.churnProbability >= p).map((s) => s.customerId), `at least ${p}`);
    }
  });
});

test('reads wait for a write under way on the same warehouse instead of running inside its transaction', async () => {
  await withStore(async (store) => {
    await store.upsert(synthetic(100));
    const write = store.upsert(synthetic(3000, 'v2'));
    const [count, page] = await Promise.all([store.count(), store.audience({ limit: 5 })]);
    await write;
    assert.equal(count, 3000);
    assert.equal(page.total, 3000);
    assert.equal(page.customers[0].modelVersion, 'v2');
  });
});

test('the staged file is removed after a write, and after a failed one', async () => {
  await withStore(async (store, _warehouse, home) => {
    await store.upsert(synthetic(10));
    await assert.rejects(store.upsert([prediction('x', { churnProbability: 2 })]));
    assert.deepEqual(readdirSync(join(home, 'tmp')).filter((f) => f.startsWith('predictions-')), []);
  });
});

test('withPredictions refuses a home with nothing scored, without creating a warehouse there', async () => {
  const parent = tempDir('floyo-predictions-');
  try {
    const home = join(parent, 'home');
    await rejects(withPredictions(home, 'test', async () => undefined), /there is no Floyo home at .*home \(--home, FLOYO_HOME or home in the config\)/);
    assert.equal(existsSync(home), false);
    mkdirSync(home);
    await rejects(withPredictions(home, 'test', async () => undefined), /no predictions in .*home yet: run `floyo train` first/);
    assert.deepEqual(readdirSync(home), [], 'no warehouse made');
    const warehouse = await Warehouse.open(home, 'test');
    warehouse.close();
    await assert.rejects(withPredictions(home, 'test', async () => undefined), (err: FloyoError) => err.exitCode === 1);
    const w2 = await Warehouse.open(home, 'test');
    const store = new PredictionStore(w2);
    await store.init();
    await store.upsert([prediction('a')]);
    w2.close();
    assert.equal(await withPredictions(home, 'test', (s) => s.count()), 1);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

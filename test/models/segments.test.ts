// Segment names: from each cluster's profile, deterministic, never two alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUSTOMER_FEATURES } from '../../src/features/build.js';
import { matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { assignedProfiles, assignSegments, fitSegmentation, MAX_PROFILE_DRIFT, nameSegments, profileDistance, type PreviousSegmentation } from '../../src/models/segments.js';

const d = CUSTOMER_FEATURES.length;
const col = (name: (typeof CUSTOMER_FEATURES)[number]) => CUSTOMER_FEATURES.indexOf(name);

/** Customers of known kinds: recency, orders, spend per order, tenure (days), each with noise. */
const KINDS = {
  champions: [3, 30, 500, 360], loyal: [20, 8, 250, 330], bigSpenders: [40, 3, 2500, 200], smallBaskets: [30, 5, 20, 200],
  newcomers: [5, 1, 150, 6], atRisk: [150, 8, 250, 340], hibernating: [200, 2, 100, 300], lost: [330, 1, 40, 340],
} as const;

function shop(perKind: number) {
  const rng = createRng(5);
  const kinds = Object.keys(KINDS) as Array<keyof typeof KINDS>;
  const X = matrix(kinds.length * perKind, d);
  const labels = new Int32Array(X.rows);
  kinds.forEach((kind, c) => {
    const [r, f, aov, t] = KINDS[kind];
    for (let q = 0; q < perKind; q++) {
      const i = c * perKind + q, row = X.data.subarray(i * d, (i + 1) * d);
      const noise = () => 0.85 + 0.3 * rng.next();
      const orders = Math.max(1, Math.round(f * noise()));
      row[col('recency_days')] = Math.round(r * noise());
      row[col('frequency')] = orders;
      row[col('avg_order_value')] = aov * noise();
      row[col('monetary')] = orders * row[col('avg_order_value')];
      row[col('tenure_days')] = Math.max(row[col('recency_days')], Math.round(t * noise()));
      row[col('avg_units_per_order')] = 10 * noise();
      labels[i] = c;
    }
  });
  return { X, labels, kinds };
}

test('clusters of known kinds get the marketers\' names for them', () => {
  const { X, labels, kinds } = shop(60);
  const { names, profiles } = nameSegments(X, labels, kinds.length);
  const byKind = Object.fromEntries(kinds.map((k, c) => [k, names[c]]));
  assert.equal(byKind.champions, 'champions');
  assert.equal(byKind.lost, 'lost');
  assert.equal(byKind.newcomers, 'new');
  assert.equal(byKind.bigSpenders, 'big spenders');
  assert.equal(byKind.smallBaskets, 'small baskets');
  assert.equal(byKind.atRisk, 'at risk');
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(profiles.map((p) => p.size), kinds.map(() => 60));
});

test('the most extreme cluster is champions even when a milder one sits nearer the prototype; beyond the vocabulary names are numbered, never repeated', () => {
  for (const k of [2, 4, 6, 9, 10, 12, 15]) {
    const { X } = shop(40);
    const model = fitSegmentation(X, { kMin: 2, kMax: 15, nInit: 4, seed: 0, k });
    assert.equal(model.names.length, k);
    assert.equal(new Set(model.names).size, k, `k=${k}: ${model.names.join(', ')}`);
    for (const name of model.names) assert.doesNotMatch(name, /^segment \d+$/);
    if (k > 9) assert.ok(model.names.some((n) => / \d+$/.test(n)), `k=${k}: numbered names`);
    const top = model.profiles.reduce((a, b) => (b.centroid.monetary > a.centroid.monetary && b.centroid.frequency >= a.centroid.frequency && b.centroid.recencyDays <= a.centroid.recencyDays ? b : a));
    if (k >= 4) assert.equal(top.name, 'champions', `k=${k}: ${JSON.stringify(model.profiles.map((p) => [p.name, p.centroid.frequency, Math.round(p.centroid.monetary)]))}`);
    assert.deepEqual(fitSegmentation(X, { kMin: 2, kMax: 15, nInit: 4, seed: 0, k }).names, model.names, 'deterministic');
  }
});

// Names across versions: a cluster that continues one of the previous version's keeps its name.

/** The shop a little later: every spend and order value 10% higher, every recency 2 days longer. */
function drifted(X: ReturnType<typeof matrix>) {
  const Y = matrix(X.rows, d, Float64Array.from(X.data));
  for (let i = 0; i < Y.rows; i++) {
    Y.data[i * d + col('monetary')] *= 1.1;
    Y.data[i * d + col('avg_order_value')] *= 1.1;
    Y.data[i * d + col('recency_days')] += 2;
  }
  return Y;
}

test('a cluster whose profile barely moved keeps its previous name, even where the prototypes alone would name it otherwise', () => {
  const { X, labels, kinds } = shop(60);
  const before = nameSegments(X, labels, kinds.length);
  const loyal = kinds.indexOf('loyal'), atRisk = kinds.indexOf('atRisk');
  // the previous version called them the other way round
  const previousNames = [...before.names];
  [previousNames[loyal], previousNames[atRisk]] = [before.names[atRisk], before.names[loyal]];
  const previous: PreviousSegmentation = { names: previousNames, profiles: before.profiles };
  const later = drifted(X);

  const fresh = nameSegments(later, labels, kinds.length);
  assert.equal(fresh.names[atRisk], 'at risk', 'the prototypes alone name the at-risk kind "at risk"');
  assert.equal(fresh.names[loyal], 'loyal');
  assert.deepEqual(fresh.carriedOver, []);

  const kept = nameSegments(later, labels, kinds.length, previous);
  for (let c = 0; c < kinds.length; c++) {
    const distance = profileDistance(kept.profiles[c].centroid, before.profiles[c].centroid);
    assert.ok(distance > 0.05 && distance < MAX_PROFILE_DRIFT, `${kinds[c]} moved ${distance}`);
  }
  assert.deepEqual(kept.names, previousNames);
  assert.equal(kept.names[atRisk], 'loyal');
  assert.equal(kept.names[loyal], 'at risk');
  assert.deepEqual([...kept.carriedOver].sort(), [...previousNames].sort());
  assert.deepEqual(kept.profiles.map((p) => p.name), kept.names);
});

test('a cluster without a counterpart is named by its prototype among the free names; a previous name whose cluster is gone or moved too far is given to nobody', () => {
  const { X, labels, kinds } = shop(60);
  const before = nameSegments(X, labels, kinds.length);
  const big = kinds.indexOf('bigSpenders'), lost = kinds.indexOf('lost');
  const keep = kinds.map((_, c) => c).filter((c) => c !== big);
  const farAway = { recencyDays: 2, frequency: 300, monetary: 5e6, avgOrderValue: 16_000, avgUnitsPerOrder: 10, tenureDays: 360 };
  // the lost cluster used to be four times as frequent and spend four times as much: not the same group
  const lostBefore = { ...before.profiles[lost].centroid };
  lostBefore.frequency *= 4;
  lostBefore.monetary *= 4;
  const previous: PreviousSegmentation = {
    names: [...keep.map((c) => (c === lost ? 'dormant' : before.names[c])), 'whales'],
    profiles: [...keep.map((c) => ({ centroid: c === lost ? lostBefore : before.profiles[c].centroid })), { centroid: farAway }],
  };
  assert.ok(profileDistance(before.profiles[lost].centroid, lostBefore) > MAX_PROFILE_DRIFT);

  const named = nameSegments(drifted(X), labels, kinds.length, previous);
  assert.equal(named.names[big], 'big spenders', 'named afresh by its prototype');
  assert.equal(named.names[lost], 'lost', 'moved too far: named afresh');
  assert.ok(!named.names.includes('whales') && !named.names.includes('dormant'), named.names.join(', '));
  assert.deepEqual([...named.carriedOver].sort(), keep.filter((c) => c !== lost).map((c) => before.names[c]).sort());
  assert.equal(new Set(named.names).size, kinds.length);
});

/** Clusters of 3 identical customers each, with these medians (recency, orders, spend, order value). */
function exactClusters(profiles: Array<[number, number, number, number]>) {
  const X = matrix(profiles.length * 3, d);
  const labels = new Int32Array(X.rows);
  profiles.forEach(([r, f, m, a], c) => {
    for (let q = 0; q < 3; q++) {
      const i = c * 3 + q;
      Object.entries({ recency_days: r, frequency: f, monetary: m, avg_order_value: a, tenure_days: 300, avg_units_per_order: 10 })
        .forEach(([name, v]) => (X.data[i * d + col(name as (typeof CUSTOMER_FEATURES)[number])] = v));
      labels[i] = c;
    }
  });
  return { X, labels };
}

test('a cluster that moved beyond MAX_PROFILE_DRIFT, or lies about halfway between two of the other version (a split, a merge), keeps no name', () => {
  const regulars: [number, number, number, number] = [30, 5, 1000, 200];
  const e = Math.exp(0.5);
  const richer: [number, number, number, number] = [30, 5, 1000 * e, 200];      // 0.25 from regulars
  const biggerOrders: [number, number, number, number] = [30, 5, 1000, 200 * e]; // 0.25 from regulars, 0.35 from richer
  const lost: [number, number, number, number] = [300, 1, 50, 50];
  const centroid = ([recencyDays, frequency, monetary, avgOrderValue]: number[]) => ({ centroid: { recencyDays, frequency, monetary, avgOrderValue, avgUnitsPerOrder: 10, tenureDays: 300 } });

  // alone, the richer cluster continues the regulars
  const alone = exactClusters([richer, lost]);
  const one = nameSegments(alone.X, alone.labels, 2, { names: ['regulars', 'gone'], profiles: [centroid(regulars), centroid(lost)] });
  assert.deepEqual(one.names, ['regulars', 'gone']);
  // twice as far, with nothing else near: beyond MAX_PROFILE_DRIFT, so no longer the regulars
  const moved = exactClusters([[30, 5, 1000 * Math.exp(1), 200], lost]);
  assert.ok(profileDistance({ recencyDays: 30, frequency: 5, monetary: 1000 * Math.exp(1), avgOrderValue: 200 }, centroid(regulars).centroid) > MAX_PROFILE_DRIFT);
  const far = nameSegments(moved.X, moved.labels, 2, { names: ['regulars', 'gone'], profiles: [centroid(regulars), centroid(lost)] });
  assert.deepEqual(far.names.map((n) => n === 'regulars'), [false, false], far.names.join(', '));
  assert.equal(far.names[1], 'gone');

  // split: two new clusters, each as near the regulars as to each other's midpoint
  const split = exactClusters([richer, biggerOrders, lost]);
  const two = nameSegments(split.X, split.labels, 3, { names: ['regulars', 'gone'], profiles: [centroid(regulars), centroid(lost)] });
  assert.ok(!two.names.includes('regulars'), two.names.join(', '));
  assert.equal(two.names[2], 'gone');

  // merge: one new cluster between two previous ones
  const merged = exactClusters([regulars, lost]);
  const three = nameSegments(merged.X, merged.labels, 2, { names: ['richer', 'bigger orders', 'gone'], profiles: [centroid(richer), centroid(biggerOrders), centroid(lost)] });
  assert.ok(!three.names.includes('richer') && !three.names.includes('bigger orders'), three.names.join(', '));
  assert.equal(three.names[1], 'gone');
});

test('with a previous segmentation names stay unique and deterministic: numbered names, repeated previous names, any order of the previous clusters', () => {
  const { X } = shop(40);
  for (const k of [8, 12]) {
    const first = fitSegmentation(X, { kMin: 2, kMax: 15, nInit: 4, seed: 0, k });
    const params = { kMin: 2, kMax: 15, nInit: 4, seed: 0, k };
    const again = fitSegmentation(X, params, first);
    assert.deepEqual(again.names, first.names, `k=${k}: the same clusters keep every name, numbered ones too`);
    assert.deepEqual(again.namesCarriedOver, first.names);

    const reversed = { names: [...first.names].reverse(), profiles: [...first.profiles].reverse() };
    assert.deepEqual(fitSegmentation(X, params, reversed).names, first.names, `k=${k}: the previous clusters' order does not matter`);

    if (k === 12) {
      // a carried-over numbered name is not given again: the previous version's "B 2" now continues another
      // cluster, and the cluster that held it is new, so it is numbered past it
      const numbered = first.names.map((n, c) => (/ \d+$/.test(n) ? c : -1)).filter((c) => c >= 0);
      assert.ok(numbered.length >= 2, first.names.join(', '));
      const [x1, x2] = numbered;
      const shifted = { names: first.names.map((n, c) => (c === x2 ? first.names[x1] : n)).filter((_, c) => c !== x1), profiles: first.profiles.filter((_, c) => c !== x1) };
      const renamed = fitSegmentation(X, params, shifted);
      assert.equal(renamed.names[x2], first.names[x1]);
      assert.equal(new Set(renamed.names).size, k, renamed.names.join(', '));
      assert.match(renamed.names[x1], / \d+$/);
    }

    // the previous version lost a few clusters, and two of its names were the same: the free clusters are named afresh
    const partial = { names: first.names.slice(0, k - 3).map((n, i) => (i === 1 ? first.names[0] : n)), profiles: first.profiles.slice(0, k - 3) };
    const a = fitSegmentation(drifted(X), params, partial), b = fitSegmentation(drifted(X), params, partial);
    assert.equal(new Set(a.names).size, k, `k=${k}: ${a.names.join(', ')}`);
    assert.ok(a.names.every((n) => n !== ''), a.names.join(', '));
    assert.deepEqual(a.names, b.names, 'deterministic');
    assert.ok(a.namesCarriedOver.every((n) => partial.names.includes(n)), `k=${k}: ${a.namesCarriedOver.join(', ')}`);
    assert.equal(new Set(a.namesCarriedOver).size, a.namesCarriedOver.length);
    // with k = 8 each cluster is one kind of customer: every distinct previous name is kept (the repeated one once)
    if (k === 8) assert.equal(a.namesCarriedOver.length, k - 4, a.namesCarriedOver.join(', '));
  }
});

test('names that say "buying now" go only to clusters whose median customer bought within activeWithinDays, also when kept from the previous version', () => {
  const { X, labels, kinds } = shop(60);
  const before = nameSegments(X, labels, kinds.length);
  const loyal = kinds.indexOf('loyal');
  assert.equal(before.names[loyal], 'loyal');
  const later = drifted(X); // loyal's median recency about 22 days, champions' 5, newcomers' 7
  const guarded = nameSegments(later, labels, kinds.length, { names: before.names, profiles: before.profiles }, 15);
  assert.doesNotMatch(guarded.names[loyal], /^(champions|loyal|new)( \d+)?$/);
  assert.ok(!guarded.carriedOver.includes('loyal'), 'a kept name must not say what is no longer true');
  assert.equal(guarded.names[kinds.indexOf('champions')], 'champions');
  assert.equal(guarded.names[kinds.indexOf('newcomers')], 'new');
  assert.equal(new Set(guarded.names).size, guarded.names.length);

  // a shop whose customers are all long gone: percentiles alone would still crown champions
  const gone = matrix(X.rows, d, Float64Array.from(X.data));
  for (let i = 0; i < gone.rows; i++) {
    gone.data[i * d + col('recency_days')] += 400;
    gone.data[i * d + col('tenure_days')] += 400;
  }
  assert.ok(nameSegments(gone, labels, kinds.length).names.includes('champions'));
  const names = nameSegments(gone, labels, kinds.length, null, 90).names;
  for (const name of names) assert.doesNotMatch(name, /^(champions|loyal|new)( \d+)?$/, names.join(', '));
  assert.equal(new Set(names).size, names.length);
});

test('customers with fewer distinct profiles than kMin: the search stops at the profiles; a fixed k beyond them is refused by name', () => {
  const { X: all } = shop(10);
  const X = matrix(30, d);
  for (let i = 0; i < 30; i++) X.data.set(all.data.subarray((i % 3) * 10 * d, ((i % 3) * 10 + 1) * d), i * d); // 3 profiles, 10 each
  const model = fitSegmentation(X, { kMin: 4, kMax: 8, nInit: 4, seed: 0 });
  assert.equal(model.k, 3);
  assert.deepEqual(model.scores.map((s) => s.k), [3]);
  assert.deepEqual(model.profiles.map((p) => p.size), [10, 10, 10]);
  assert.throws(() => fitSegmentation(X, { kMin: 4, kMax: 8, nInit: 4, seed: 0, k: 4 }), { name: 'FloyoError', message: /^segmentation\.k is 4, but 30 customers with 3 distinct profiles of recency, order count and spend make at most 3 segments: set it to at most 3, or leave it unset$/ });
  const same = matrix(30, d);
  for (let i = 0; i < 30; i++) same.data.set(all.data.subarray(0, d), i * d);
  assert.throws(() => fitSegmentation(same, { kMin: 4, kMax: 8, nInit: 4, seed: 0 }), { name: 'FloyoError', message: /every customer has the same recency, order count and spend/ });
  // as many profiles as customers: a silhouette needs fewer clusters than rows
  const four = matrix(4, d);
  for (let i = 0; i < 4; i++) four.data.set(all.data.subarray(i * 10 * d, (i * 10 + 1) * d), i * d);
  assert.throws(() => fitSegmentation(four, { kMin: 2, kMax: 8, nInit: 4, seed: 0, k: 4 }), { message: /^segmentation\.k is 4, but 4 customers with 4 distinct profiles .* make at most 3 segments/ });
  assert.equal(fitSegmentation(four, { kMin: 4, kMax: 8, nInit: 4, seed: 0 }).k, 3);
});

test('a customer goes to the nearest cluster whose name is true of them: new within the horizon, loyal and champions by orders, dormant names not for recent buyers', () => {
  // centres in log1p(recency, orders, spend) space, unscaled: "new" at (16 days, 1 order, 200), "loyal" at (50, 4, 1500)
  const centre = (r: number, f: number, m: number) => [Math.log1p(r), Math.log1p(f), Math.log1p(m)];
  const names = ['new', 'loyal 2', 'hibernating', 'champions'];
  const centers = Float64Array.from([...centre(16, 1, 200), ...centre(50, 4, 1500), ...centre(200, 1, 150), ...centre(5, 20, 9000)]);
  const identity = { mean: new Float64Array(3), scale: Float64Array.of(1, 1, 1), variance: Float64Array.of(1, 1, 1), nSamples: 1, withMean: true, withStd: true };
  // fifths as on UCI: 1 order is F1, 2 orders F3, 3 orders F4, 6 or more F5; 12 days or fewer R5, 32 R4, 72 R3
  const cuts = { recencyCuts: [12, 32, 72, 180], frequencyCuts: [1, 1, 2, 5] };
  const model = { scaler: identity, kmeans: { k: 4, cols: 3, centers }, names, ...cuts, eligibility: { rules: 1 as const, newWithinDays: 90 } };
  const X = matrix(7, d);
  const put = (i: number, recency: number, orders: number, spend: number, tenure: number) => {
    X.data[i * d + col('recency_days')] = recency;
    X.data[i * d + col('frequency')] = orders;
    X.data[i * d + col('monetary')] = spend;
    X.data[i * d + col('tenure_days')] = tenure;
  };
  put(0, 2, 2, 300, 300); // a customer of ten months who just ordered again: nearest "new", not new
  put(1, 45, 1, 1400, 45); // one order, drifting towards "loyal 2": not loyal (the number does not change the name)
  put(2, 10, 1, 200, 10); // a real newcomer
  put(3, 3, 1, 9000, 200); // one big order (and an earlier return): no name fits, so the nearest stays
  put(4, 60, 5, 1600, 400); // loyal, and nearest loyal
  put(5, 1, 2, 9000, 300); // two orders (F3), one just now: nearest "champions", loyal rather
  put(6, 1, 3, 9000, 300); // three orders (F4): a champion
  const byName = (labels: Int32Array) => [...labels].map((c) => names[c]);
  assert.deepEqual(byName(assignSegments({ ...model, eligibility: null }, X)), ['new', 'loyal 2', 'new', 'champions', 'loyal 2', 'champions', 'champions'], 'the nearest centres');
  assert.deepEqual(byName(assignSegments(model, X)), ['loyal 2', 'new', 'new', 'champions', 'loyal 2', 'loyal 2', 'champions']);

  // a buyer of last week is not hibernating, however few and small their orders
  const dormant = { ...model, kmeans: { k: 2, cols: 3, centers: Float64Array.from([...centre(200, 1, 150), ...centre(5, 40, 2000)]) }, names: ['hibernating', 'small baskets'] };
  const Y = matrix(2, d);
  [[10, 1, 150, 400], [150, 1, 150, 400]].forEach(([recency, orders, spend, tenure], i) => {
    Y.data[i * d + col('recency_days')] = recency;
    Y.data[i * d + col('frequency')] = orders;
    Y.data[i * d + col('monetary')] = spend;
    Y.data[i * d + col('tenure_days')] = tenure;
  });
  assert.deepEqual([...assignSegments({ ...dormant, eligibility: null }, Y)], [0, 0]);
  assert.deepEqual([...assignSegments(dormant, Y)], [1, 0]);

  // the report: a segment no customer fits has size 0 and its cluster's medians, never NaN (null in JSON)
  const profile = (recencyDays: number) => ({ name: '', size: 1, centroid: { recencyDays, frequency: 1, monetary: 1, avgOrderValue: 1, avgUnitsPerOrder: 1, tenureDays: 1 } });
  const report = assignedProfiles({ k: 2, names: ['hibernating', 'small baskets'], profiles: [profile(200), profile(5)] }, Y, Int32Array.of(1, 1));
  assert.deepEqual(report.map((p) => [p.name, p.size, p.centroid.recencyDays]), [['hibernating', 0, 200], ['small baskets', 2, 80]]);
});

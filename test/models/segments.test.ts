// Segment names: from each cluster's profile, deterministic, never two alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUSTOMER_FEATURES } from '../../src/features/build.js';
import { matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { fitSegmentation, nameSegments } from '../../src/models/segments.js';

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

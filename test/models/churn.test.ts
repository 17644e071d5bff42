// Churn reasons: contributions that add up to the model's logit, pointing the way of the verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUSTOMER_FEATURES } from '../../src/features/build.js';
import { matrix } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import { transform } from '../../src/ml/scaler.js';
import { CHURN_INPUTS, churnInputs, churnProbability, churnReasons, correlations, fitChurn } from '../../src/models/churn.js';

const F = CUSTOMER_FEATURES;
const d = F.length;
const col = (name: (typeof F)[number]) => F.indexOf(name);

/** Customers whose churn follows recency and order count, as in a shop. */
async function shop(n = 600) {
  const rng = createRng(11);
  const X = matrix(n, d);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = X.data.subarray(i * d, (i + 1) * d);
    const orders = 1 + Math.floor(rng.next() * 20), recency = Math.floor(rng.next() * 300), tenure = recency + Math.floor(rng.next() * 300);
    for (let j = 0; j < d; j++) row[j] = rng.next() * 10;
    row[col('recency_days')] = recency;
    row[col('frequency')] = orders;
    row[col('tenure_days')] = tenure;
    row[col('mean_days_between_orders')] = orders > 1 ? (tenure - recency) / (orders - 1) : NaN;
    row[col('monetary')] = orders * (50 + rng.next() * 100);
    row[col('spend_prev_90d')] = i % 7 === 0 ? -25 : rng.next() * 500;
    y[i] = rng.next() < 1 / (1 + Math.exp(-(recency / 60 - orders / 5))) ? 1 : 0;
  }
  return { X, y, model: await fitChurn(X, y, 1, 0.3) };
}

test('reasons explain the verdict: raising the risk above the threshold, lowering it below; largest first, one per story', async () => {
  const { X, model } = await shop();
  const p = churnProbability(model, X);
  let high = 0, low = 0;
  for (let i = 0; i < X.rows; i++) {
    const raw = X.data.slice(i * d, (i + 1) * d);
    const reasons = churnReasons(model, raw);
    assert.ok(reasons.length > 0 && reasons.length <= 3);
    const up = p[i] >= model.threshold;
    if (up) high++;
    else low++;
    for (const r of reasons) assert.ok(up ? r.contribution > 0 : r.contribution < 0, `customer ${i} (p ${p[i]}): ${r.feature} ${r.contribution}`);
    // largest first, those working against their own direction after the rest
    const against = (r: { text: string }) => /\(usually a (good|warning) sign/.test(r.text);
    for (let k = 1; k < reasons.length; k++) {
      assert.ok(!against(reasons[k - 1]) || against(reasons[k]), reasons.map((r) => r.text).join(' | '));
      if (against(reasons[k - 1]) === against(reasons[k])) assert.ok(Math.abs(reasons[k].contribution) <= Math.abs(reasons[k - 1].contribution));
    }
    const features = reasons.map((r) => r.feature);
    assert.ok(!(features.includes('recency_days') && features.includes('overdue_ratio')), 'recency told once');
    for (const r of reasons) assert.doesNotMatch(r.text, /usual 0(?![.\d])|spent -/);

    // each contribution is coefficient × standardised input: with the intercept they make the logit
    const z = transform(model.scaler, churnInputs({ rows: 1, cols: d, data: raw }));
    for (const r of reasons) {
      const j = CHURN_INPUTS.indexOf(r.feature as (typeof CHURN_INPUTS)[number]);
      assert.equal(r.contribution, model.logistic.coef[j] * z.data[j]);
    }
    const logit = model.logistic.intercept + CHURN_INPUTS.reduce((s, _, j) => s + model.logistic.coef[j] * z.data[j], 0);
    assert.ok(Math.abs(1 / (1 + Math.exp(-logit)) - p[i]) < 1e-12);
  }
  assert.ok(high > 50 && low > 50, `both verdicts occur (${high} high, ${low} low)`);
});

test('reason texts: same-day orders, net returns and no returns in words', async () => {
  const { X, model } = await shop();
  const raw = X.data.slice(0, d);
  raw[col('recency_days')] = 200;
  raw[col('frequency')] = 2;
  raw[col('mean_days_between_orders')] = 0;
  raw[col('spend_prev_90d')] = -25;
  raw[col('credit_notes')] = 0;
  // every input pointing either way (threshold 0: all raise; 1: all lower), one per story each time
  const all = [0, 1].flatMap((threshold) => churnReasons({ ...model, threshold }, raw, CHURN_INPUTS.length));
  const texts = all.map((r) => r.text);
  assert.ok(texts.includes('200 days since the last order, after 2 orders within a day') || texts.includes('no purchase for 200 days'), texts.join(' | '));
  assert.ok(texts.some((t) => /returned 25 more than they bought/.test(t)), texts.join(' | '));
  assert.ok(texts.some((t) => t.startsWith('orders less than a day apart on average')), texts.join(' | '));
  assert.ok(texts.some((t) => t.startsWith('no returns or refunds so far')) && !texts.some((t) => /\b0 credit notes/.test(t)), texts.join(' | '));
});

test('with no input on the verdict\'s side, the shop\'s base rate is the reason', async () => {
  const { X, model } = await shop();
  const flat = { ...model, logistic: { ...model.logistic, coef: new Float64Array(model.logistic.coef.length) } };
  const base = 1 / (1 + Math.exp(-model.logistic.intercept));
  const [high] = churnReasons({ ...flat, threshold: base / 2 }, X.data.slice(0, d));
  assert.deepEqual([high.feature, high.contribution], ['base_rate', model.logistic.intercept]);
  assert.match(high.text, /^the shop's usual churn risk \(\d+%\) is above the \d+% threshold$/);
  const [low] = churnReasons({ ...flat, threshold: Math.min(1, base * 2) }, X.data.slice(0, d));
  assert.match(low.text, /is below the/);
});

test('correlations: Pearson per column against the labels, 0 for a constant column', () => {
  const y = Uint8Array.from([0, 0, 1, 1, 1]);
  // columns: 1..5 (r = 3 / √12 by hand), the labels, their complement, a constant
  const X = { rows: 5, cols: 4, data: Float64Array.from([1, 0, 1, 7, 2, 0, 1, 7, 3, 1, 0, 7, 4, 1, 0, 7, 5, 1, 0, 7]) };
  const r = correlations(X, y);
  assert.ok(Math.abs(r[0] - 3 / Math.sqrt(12)) < 1e-15, String(r[0]));
  assert.ok(Math.abs(r[1] - 1) < 1e-15 && Math.abs(r[2] + 1) < 1e-15);
  assert.equal(r[3], 0);
});

test('a reason whose input works against its own direction says so and comes after the others; one that follows it, or has none, does not', async () => {
  const { X, y, model } = await shop();
  assert.deepEqual(model.alone, correlations(transform(model.scaler, churnInputs(X)), y), 'fitChurn keeps each input\'s own correlation');
  const f = CHURN_INPUTS.indexOf('frequency');
  assert.ok(model.logistic.coef[f] < 0 && model.alone![f] < -0.05, 'more orders, less churn: on its own and in the model');
  const z = transform(model.scaler, churnInputs(X));
  const w = CHURN_INPUTS.length;
  const reasons = (alone: Float64Array | null, threshold: number, raw: Float64Array) => churnReasons({ ...model, alone, threshold }, raw, w);
  // active_months (noise in this shop) has no story partner: its words can be followed through a flip
  const j = CHURN_INPUTS.indexOf('active_months');
  const part = (i: number) => model.logistic.coef[j] * z.data[i * w + j];
  const multi = [...Array(X.rows).keys()].filter((i) => X.data[i * d + col('frequency')] >= 2);
  const raising = multi.reduce((a, b) => (part(b) > part(a) ? b : a)), lowering = multi.reduce((a, b) => (part(b) < part(a) ? b : a));
  const up = X.data.slice(raising * d, (raising + 1) * d), down = X.data.slice(lowering * d, (lowering + 1) * d);
  const textOf = (alone: Float64Array | null, threshold: number, raw: Float64Array) => reasons(alone, threshold, raw).find((r) => r.feature === 'active_months')?.text;
  const base = textOf(model.alone, 0, up);
  assert.ok(base && !/usually a/.test(base), String(base));
  // pretend active_months went the other way on its own: the model's coefficient now runs against it
  const flipped = Float64Array.from(model.alone!);
  flipped[j] = -Math.sign(model.logistic.coef[j]) * 0.5;
  assert.equal(textOf(flipped, 0, up), `${base} (usually a good sign, but with the rest of their history it adds to the risk)`);
  assert.equal(textOf(flipped, 1, down), `${textOf(model.alone, 1, down)} (usually a warning sign, but with the rest of their history it lowers the risk)`);
  // it moves behind the reasons that read as they look; the others' words do not change
  const all = reasons(flipped, 0, up);
  assert.equal(all.at(-1)?.feature, 'active_months', all.map((r) => r.text).join(' | '));
  const others = (alone: Float64Array | null) => reasons(alone, 0, up).filter((r) => r.feature !== 'active_months').map((r) => r.text);
  assert.deepEqual(others(flipped), others(model.alone));
  // a correlation within two standard errors of zero (600 customers: 0.08) is no direction; a version without them, none either
  flipped[j] = -Math.sign(model.logistic.coef[j]) * 0.06;
  assert.equal(textOf(flipped, 0, up), base);
  assert.equal(textOf(null, 0, up), base);
  // in a story, a member that reads as it looks is told rather than one working against its direction
  const story = Float64Array.from(model.alone!);
  story[f] = 0.5;
  const opm = CHURN_INPUTS.indexOf('orders_per_month');
  const both = multi.find((i) => model.logistic.coef[f] * z.data[i * w + f] > 0 && model.logistic.coef[opm] * z.data[i * w + opm] > 0);
  assert.ok(both !== undefined, 'a customer whose order count and orders a month both raise the risk');
  const told = reasons(story, 0, X.data.slice(both * d, (both + 1) * d)).map((r) => r.feature);
  assert.ok(told.includes('orders_per_month') && !told.includes('frequency'), told.join());
});

test('a customer with one order is told so once, and the last 90 days\' spend is not set against a time before they were a customer', async () => {
  const { X, model } = await shop();
  const raw = X.data.slice(0, d);
  raw[col('frequency')] = 1;
  raw[col('mean_days_between_orders')] = NaN;
  raw[col('days_since_prev_order')] = NaN;
  raw[col('active_months')] = 1;
  raw[col('tenure_days')] = raw[col('recency_days')] = 40;
  raw[col('spend_prev_90d')] = 0;
  // even with every input on the verdict's side (threshold 0) and each one's own direction flipped
  const flipped = model.alone!.map((r) => -r);
  const reasons = churnReasons({ ...model, alone: flipped, threshold: 0 }, raw, CHURN_INPUTS.length);
  const once = reasons.filter((r) => ['frequency', 'orders_per_month', 'mean_days_between_orders', 'days_since_prev_order', 'active_months'].includes(r.feature));
  assert.deepEqual(once.map((r) => r.text), ['has ordered only once'], reasons.map((r) => r.text).join(' | '));
  const texts = reasons.map((r) => r.text).join(' | ');
  assert.doesNotMatch(texts, /in the 90 before|in the 90 days before the last 90/);
  const both = [0, 1].flatMap((threshold) => churnReasons({ ...model, threshold }, raw, CHURN_INPUTS.length)).map((r) => r.text);
  assert.ok(both.includes('not a customer yet 90 days ago'), both.join(' | '));
});

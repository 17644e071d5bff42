// The quality gate on its own: what it compares, and what it leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import type { Manifest } from '../../src/models/registry.js';
import { qualityGate, servedRecommender } from '../../src/pipeline/serving.js';
import type { TrainResult } from '../../src/pipeline/train.js';

const { config } = loadConfig({ env: {}, flags: {} });

/** The parts of a train result the gate reads. */
function result(als: number, popularity: number, evaluatedUsers = 1000, cvRocAucMean = 0.75, cvRocAucStd = NaN): TrainResult {
  return {
    horizonDays: 90,
    churn: { cvRocAucMean, cvRocAucStd, rocAuc: 0.75, converged: true },
    recommendations: { model: 'als', ndcgAt10: als, popularity: { ndcgAt10: popularity }, evaluatedUsers },
  } as unknown as TrainResult;
}

test('ALS and popularity with the same NDCG tie, whatever the rounding of their sums; a lower one fails', () => {
  // NDCG@10 is a mean over customers: the same per-customer values summed in two orders round two ways
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const values = [0.1, 0.2, 0.3];
  const a = mean(values), b = mean([...values].reverse());
  assert.notEqual(a, b);
  assert.deepEqual(qualityGate(result(Math.min(a, b), Math.max(a, b)), null, config), { passed: true, reasons: [] });
  const lower = qualityGate(result(0.1447, 0.1468), null, config);
  assert.equal(lower.passed, false);
  assert.match(lower.reasons[0], /^recommendations: ALS NDCG@10 0\.1447 is below popularity's 0\.1468$/);
  // on 4 customers (a small shop's first train) that is noise: noted, and the version is not kept back for it
  assert.deepEqual(qualityGate(result(0.7995, 0.8464, 4), null, config), {
    passed: true, reasons: [],
    notes: ["recommendations not compared: ALS NDCG@10 0.7995 is below popularity's 0.8464, but on 4 evaluated customers (fewer than 30)"],
  });
  assert.equal(qualityGate(result(0.7995, 0.8464, 30), null, config).passed, false);
});

test('churn is compared only with a version of the same horizon', () => {
  const current = (horizonDays: number) => ({ version: 'v1', data: { horizonDays }, models: { churn: { metrics: { cvRocAucMean: 0.9, rocAuc: 0.9 } } } }) as unknown as Manifest;
  assert.equal(qualityGate(result(0.2, 0.1), current(90), config).passed, false);
  assert.deepEqual(qualityGate(result(0.2, 0.1), current(45), config), {
    passed: true, reasons: [], notes: ['churn not compared with v1: it was trained on a 45-day churn horizon, this version on 90 days'],
  });
});

test('a churn drop within the noise of the two CV means is noted, not held against the version; a larger one is', () => {
  const current = (cvRocAucMean: number, cvRocAucStd?: number, reportedStd?: number) => ({
    version: 'v1', data: { horizonDays: 90 }, models: { churn: { metrics: { cvRocAucMean, rocAuc: cvRocAucMean, ...(cvRocAucStd === undefined ? {} : { cvRocAucStd }) } } },
    ...(reportedStd === undefined ? {} : { report: { churn: { cvRocAucStd: reportedStd } } }),
  }) as unknown as Manifest;
  // a small shop: folds spread by 6–7 points, so 0.80 → 0.75 is within 2·√(0.06²/4 + 0.07²/4) = 0.0922
  assert.deepEqual(qualityGate(result(0.2, 0.1, 1000, 0.75, 0.07), current(0.8, 0.06), config), {
    passed: true, reasons: [],
    notes: ["churn: 5-fold CV ROC-AUC 0.7500 is more than 0.02 below the current version's 0.8000, but within the noise of the two means (±0.0922, twice the standard error of their difference): not held against it"],
  });
  // a version published before its metrics kept the spread: read from its report
  assert.equal(qualityGate(result(0.2, 0.1, 1000, 0.75, 0.07), current(0.8, undefined, 0.06), config).passed, true);
  const far = qualityGate(result(0.2, 0.1, 1000, 0.75, 0.07), current(0.9, 0.06), config);
  assert.deepEqual([far.passed, far.reasons], [false, ["churn: 5-fold CV ROC-AUC 0.7500 is more than 0.02 below the current version's 0.9000"]]);
  // UCI's folds spread by 1.5 points: the allowance is 0.0212, so a drop of 0.027 is held against it
  assert.equal(qualityGate(result(0.2, 0.1, 1000, 0.730, 0.015), current(0.757, 0.015), config).passed, false);
  // without a spread (no CV) nothing is allowed beyond maxAucDrop
  assert.equal(qualityGate(result(0.2, 0.1, 1000, 0.75), current(0.8), config).passed, false);
});

test('ALS below popularity on the window serves popularity when the current version does not serve ALS; a current ALS is kept by the gate instead', () => {
  const window = (als: number, popularity: number, evaluatedUsers = 100) => ({ als: { ndcgAt10: als }, popularity: { ndcgAt10: popularity }, evaluatedUsers });
  const fellBelow = "ALS, chosen at the validation cutoff, fell below popularity on the reported window (ALS NDCG@10 0.1000 is below popularity's 0.2000)";
  assert.deepEqual(servedRecommender('als', window(0.1, 0.2), null), { served: 'popularity', because: `${fellBelow} and no version is current to serve instead` });
  assert.deepEqual(servedRecommender('als', window(0.1, 0.2), 'popularity'), { served: 'popularity', because: `${fellBelow} and the current version serves popularity too` });
  const als = { served: 'als', because: 'ALS beat popularity at the validation cutoff' };
  assert.deepEqual(servedRecommender('als', window(0.1, 0.2), 'als'), als, 'the gate keeps this version back, and the current ALS serves on');
  assert.deepEqual(servedRecommender('als', window(0.1, 0.2, 29), null), als, 'too few customers on the window to tell');
  assert.deepEqual(servedRecommender('als', window(0.2, 0.2 * (1 + 1e-12)), null), als, 'a tie to rounding');
  assert.deepEqual(servedRecommender('popularity', window(0.3, 0.2), null), { served: 'popularity', because: 'ALS did not beat popularity at the validation cutoff' });
});

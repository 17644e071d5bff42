// The quality gate on its own: what it compares, and what it leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import type { Manifest } from '../../src/models/registry.js';
import { qualityGate } from '../../src/pipeline/serving.js';
import type { TrainResult } from '../../src/pipeline/train.js';

const { config } = loadConfig({ env: {}, flags: {} });

/** The parts of a train result the gate reads. */
function result(als: number, popularity: number): TrainResult {
  return {
    horizonDays: 90,
    churn: { cvRocAucMean: 0.75, rocAuc: 0.75, converged: true },
    recommendations: { model: 'als', precisionAt10: als, popularity: { precisionAt10: popularity } },
  } as unknown as TrainResult;
}

test('ALS and popularity with the same hits tie, whatever the rounding of their division; one hit fewer fails', () => {
  // precision@10 is a mean over customers: 69 hits among 47 customers, spread two ways, give two roundings
  const precision = (hits: number[]) => hits.reduce((s, h) => s + h / 10, 0) / hits.length;
  const a = precision([10, 10, 10, 10, 10, 10, 9, ...Array<number>(40).fill(0)]);
  const b = precision([...Array<number>(22).fill(2), ...Array<number>(25).fill(1)]);
  assert.notEqual(a, b);
  assert.deepEqual(qualityGate(result(Math.min(a, b), Math.max(a, b)), null, config), { passed: true, reasons: [] });
  const fewer = qualityGate(result(68 / 470, 69 / 470), null, config);
  assert.equal(fewer.passed, false);
  assert.match(fewer.reasons[0], /^recommendations: ALS precision@10 0\.1447 is below popularity's 0\.1468$/);
});

test('churn is compared only with a version of the same horizon', () => {
  const current = (horizonDays: number) => ({ version: 'v1', data: { horizonDays }, models: { churn: { metrics: { cvRocAucMean: 0.9, rocAuc: 0.9 } } } }) as unknown as Manifest;
  assert.equal(qualityGate(result(0.2, 0.1), current(90), config).passed, false);
  assert.deepEqual(qualityGate(result(0.2, 0.1), current(45), config), {
    passed: true, reasons: [], notes: ['churn not compared with v1: it was trained on a 45-day churn horizon, this version on 90 days'],
  });
});

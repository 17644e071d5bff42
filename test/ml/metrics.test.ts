import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fromRows } from '../../src/ml/matrix.js';
import { createRng } from '../../src/ml/random.js';
import {
  averagePrecision, brierScore, calibrationBins, catalogueCoverage, hitRateAtK, inertia, logLoss, mapAtK, ndcgAtK,
  precisionAtK, rankingMetrics, recallAtK, rocAuc,
} from '../../src/ml/metrics.js';

const PYTHON = '/usr/bin/python3';
const REFERENCE = `
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, log_loss, brier_score_loss
from sklearn.calibration import calibration_curve
out = []
for c in json.load(sys.stdin):
    y = np.array(c["y"], dtype=np.int64); s = np.array(c["s"], dtype=np.float64); p = np.array(c["p"], dtype=np.float64)
    w = np.array(c["w"], dtype=np.float64) if c["w"] is not None else None
    r = {"auc": roc_auc_score(y, s, sample_weight=w), "ap": average_precision_score(y, s, sample_weight=w),
         "logloss": log_loss(y, p, sample_weight=w), "brier": brier_score_loss(y, p, sample_weight=w)}
    for strategy in ("uniform", "quantile"):
        t, m = calibration_curve(y, p, n_bins=c["bins"], strategy=strategy)
        r[strategy] = {"true": t.tolist(), "pred": m.tolist()}
    out.append(r)
print(json.dumps(out))
`;

interface Case { y: number[]; s: number[]; p: number[]; w: number[] | null; bins: number }
interface Ref { auc: number; ap: number; logloss: number; brier: number; uniform: { true: number[]; pred: number[] }; quantile: { true: number[]; pred: number[] } }

function sklearnMetrics(cases: Case[]): Ref[] {
  const r = spawnSync(PYTHON, ['-c', REFERENCE], { input: JSON.stringify(cases), encoding: 'utf8' });
  if (r.error || /No module named '(sklearn|numpy|scipy)'/.test(r.stderr ?? '')) {
    assert.fail(`scikit-learn, the reference these tests compare against, is not usable with ${PYTHON}: ${(r.error?.message ?? r.stderr).trim()}. Install it: apt-get install python3-sklearn (or run bash scripts/install-test-deps.sh as root)`);
  }
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const near = (a: number, b: number, what: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs scikit-learn ${b}`);

test('ROC-AUC, average precision, log loss, Brier and calibration bins agree with scikit-learn to 1e-12', () => {
  const rng = createRng(9);
  const cases: Case[] = [];
  for (const [n, weighted, bins] of [[400, false, 10], [400, true, 7], [57, false, 3], [1000, true, 5]] as const) {
    const y: number[] = [], s: number[] = [], p: number[] = [], w: number[] = [];
    for (let i = 0; i < n; i++) {
      const yi = rng.next() < 0.3 ? 1 : 0;
      y.push(yi);
      s.push(Math.round((rng.normal() + yi) * 10) / 10); // coarse scores: many ties
      // probabilities with exact 0s and 1s (clipped by log loss) and values on bin edges
      const u = rng.next();
      p.push(u < 0.05 ? 0 : u > 0.95 ? 1 : u < 0.2 ? Math.round(rng.next() * 10) / 10 : rng.next());
      w.push(0.5 + rng.next() * 2);
    }
    cases.push({ y, s, p, w: weighted ? w : null, bins });
  }
  const refs = sklearnMetrics(cases);
  cases.forEach((c, k) => {
    const ref = refs[k], tag = `case ${k}`;
    near(rocAuc(c.y, c.s, c.w), ref.auc, `${tag} rocAuc`);
    near(averagePrecision(c.y, c.s, c.w), ref.ap, `${tag} averagePrecision`);
    near(logLoss(c.y, c.p, { sampleWeight: c.w }), ref.logloss, `${tag} logLoss`);
    near(brierScore(c.y, c.p, c.w), ref.brier, `${tag} brierScore`);
    for (const strategy of ['uniform', 'quantile'] as const) {
      const bins = calibrationBins(c.y, c.p, { nBins: c.bins, strategy });
      assert.equal(bins.fractionPositive.length, ref[strategy].true.length, `${tag} ${strategy}: number of non-empty bins`);
      ref[strategy].true.forEach((v, j) => near(bins.fractionPositive[j], v, `${tag} ${strategy} fractionPositive[${j}]`));
      ref[strategy].pred.forEach((v, j) => near(bins.meanPredicted[j], v, `${tag} ${strategy} meanPredicted[${j}]`));
      assert.equal(bins.count.reduce((a, b) => a + b, 0), c.y.length);
    }
  });
});

test('classification metrics on small hand-computed cases', () => {
  // scikit-learn's documentation examples
  assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  assert.ok(Math.abs(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) - 0.8333333333333333) < 1e-15);
  // a tie between a positive and a negative counts half
  assert.equal(rocAuc([0, 1], [0.5, 0.5]), 0.5);
  assert.equal(rocAuc([0, 1, 1], [0.2, 0.5, 0.5]), 1);
  assert.equal(rocAuc([1, 0], [0.9, 0.1], [3, 0.5]), 1);
  // one threshold holding everything: precision = base rate
  assert.equal(averagePrecision([0, 1, 0, 1], [1, 1, 1, 1]), 0.5);
  assert.ok(Math.abs(logLoss([1, 0], [0.8, 0.3]) - -(Math.log(0.8) + Math.log(0.7)) / 2) < 1e-15);
  assert.ok(Number.isFinite(logLoss([1], [0])) && logLoss([1], [0]) > 36); // clipped, not infinite
  assert.ok(Math.abs(brierScore([1, 0, 1], [0.9, 0.2, 0.5]) - (0.01 + 0.04 + 0.25) / 3) < 1e-15);
  const bins = calibrationBins([0, 1, 0, 1], [0.1, 0.3, 0.6, 0.9], { nBins: 2 });
  assert.deepEqual([...bins.lower], [0, 0.5]);
  assert.deepEqual([...bins.fractionPositive], [0.5, 0.5]);
  assert.deepEqual([...bins.meanPredicted], [0.2, 0.75]);
  assert.ok(Math.abs(bins.ece - (0.5 * 0.3 + 0.5 * 0.25)) < 1e-15);
});

test('classification metrics reject what they cannot score', () => {
  assert.throws(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), /only one class present/);
  assert.throws(() => rocAuc([0, 1], [0.1, 0.2], [0, 1]), /only one class present/);
  assert.throws(() => averagePrecision([0, 0], [0.1, 0.2]), /no positives/);
  assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), /labels must be 0 or 1, got 2 at index 1/);
  assert.throws(() => rocAuc([0, 1], [0.1]), /yTrue has 2 values but score has 1/);
  assert.throws(() => rocAuc([], []), /no samples/);
  assert.throws(() => rocAuc([0, 1], [NaN, 0.2]), /non-finite value \(NaN\)/);
  assert.throws(() => logLoss([0, 1], [0.2, 1.2]), /probabilities must lie in \[0, 1\], got 1.2 at index 1/);
  assert.throws(() => brierScore([0, 1], [0.2, 0.5], [1, -1]), /sampleWeight must be finite and ≥ 0, got -1/);
  assert.throws(() => brierScore([0, 1], [0.2, 0.5], [0, 0]), /weights sum to 0/);
  assert.throws(() => calibrationBins([0, 1], [0.2, 0.5], { nBins: 0 }), /nBins must be an integer ≥ 1/);
  assert.throws(() => calibrationBins([0, 1], [0.2, 0.5], { strategy: 'kmeans' as 'uniform' }), /strategy must be 'uniform' or 'quantile'/);
});

// Hand-computed: user 0 hits at ranks 2 and 5 of 3 relevant; user 1 has a 2-item list with a hit at
// rank 1; user 2 has nothing relevant (skipped); user 3 misses entirely.
const recs = [Int32Array.of(1, 2, 3, 4, 5), Int32Array.of(7, 8), Int32Array.of(1, 2, 3), Int32Array.of(4, 6, 10, 11, 12)];
const rel = [[2, 5, 9], new Set([7]), [], new Set([13])];

test('ranking metrics at k match hand-computed values', () => {
  const m = rankingMetrics(recs, rel, 5);
  const ndcg0 = (1 / Math.log2(3) + 1 / Math.log2(6)) / (1 + 1 / Math.log2(3) + 1 / Math.log2(4));
  assert.equal(m.nUsers, 3);
  assert.ok(Math.abs(m.precision - (2 / 5 + 1 / 5 + 0) / 3) < 1e-15); // hits/k: a short list is not rewarded
  assert.ok(Math.abs(m.recall - (2 / 3 + 1 + 0) / 3) < 1e-15);
  assert.ok(Math.abs(m.map - ((1 / 2 + 2 / 5) / 3 + 1 + 0) / 3) < 1e-15);
  assert.ok(Math.abs(m.ndcg - (ndcg0 + 1 + 0) / 3) < 1e-15);
  assert.ok(Math.abs(m.hitRate - 2 / 3) < 1e-15);
  assert.equal(precisionAtK(recs, rel, 5), m.precision);
  assert.equal(recallAtK(recs, rel, 5), m.recall);
  assert.equal(mapAtK(recs, rel, 5), m.map);
  assert.equal(ndcgAtK(recs, rel, 5), m.ndcg);
  assert.equal(hitRateAtK(recs, rel, 5), m.hitRate);
  const at1 = rankingMetrics(recs, rel, 1);
  assert.deepEqual({ ...at1 }, { k: 1, nUsers: 3, precision: 1 / 3, recall: 1 / 3, map: 1 / 3, ndcg: 1 / 3, hitRate: 1 / 3 });
  // more relevant items than k: AP@k and NDCG@k normalise by k, so a perfect list scores 1; recall does not
  const perfect = rankingMetrics([Int32Array.of(0, 1, 2)], [[0, 1, 2, 3, 4, 5]], 3);
  assert.deepEqual({ map: perfect.map, ndcg: perfect.ndcg, precision: perfect.precision, recall: perfect.recall }, { map: 1, ndcg: 1, precision: 1, recall: 0.5 });
  // duplicates in the relevant set count once
  assert.equal(rankingMetrics([[3]], [[3, 3, 4]], 1).recall, 0.5);
});

test('ranking metrics equal a direct per-user implementation on random lists', () => {
  const rng = createRng(17);
  const recommended: Int32Array[] = [], relevant: number[][] = [];
  for (let u = 0; u < 200; u++) {
    const pool = Array.from({ length: 60 }, (_, i) => i).sort(() => rng.next() - 0.5);
    recommended.push(Int32Array.from(pool.slice(0, 1 + rng.int(15))));
    relevant.push(Array.from({ length: rng.int(8) }, () => rng.int(60)));
  }
  for (const k of [1, 5, 10, 20]) {
    let users = 0, p = 0, r = 0, ap = 0, nd = 0, hr = 0;
    recommended.forEach((list, u) => {
      const R = new Set(relevant[u]);
      if (R.size === 0) return;
      users++;
      const top = [...list.slice(0, k)];
      const isRel = top.map((item) => R.has(item));
      const hits = isRel.filter(Boolean).length;
      p += hits / k;
      r += hits / R.size;
      ap += isRel.reduce((acc, hit, i) => acc + (hit ? isRel.slice(0, i + 1).filter(Boolean).length / (i + 1) : 0), 0) / Math.min(k, R.size);
      const dcg = isRel.reduce((acc, hit, i) => acc + (hit ? 1 / Math.log2(i + 2) : 0), 0);
      const idcg = Array.from({ length: Math.min(k, R.size) }, (_, i) => 1 / Math.log2(i + 2)).reduce((a, b) => a + b, 0);
      nd += dcg / idcg;
      hr += hits > 0 ? 1 : 0;
    });
    const m = rankingMetrics(recommended, relevant, k);
    assert.equal(m.nUsers, users);
    for (const [name, ours, direct] of [['precision', m.precision, p], ['recall', m.recall, r], ['map', m.map, ap], ['ndcg', m.ndcg, nd], ['hitRate', m.hitRate, hr]] as const) {
      assert.ok(Math.abs(ours - direct / users) < 1e-12, `k=${k} ${name}: ${ours} vs ${direct / users}`);
    }
  }
});

test('ranking metrics reject malformed input', () => {
  assert.throws(() => rankingMetrics(recs, rel.slice(1), 5), /recommended has 4 users but relevant has 3/);
  assert.throws(() => rankingMetrics(recs, rel, 0), /k must be an integer ≥ 1, got 0/);
  assert.throws(() => rankingMetrics([Int32Array.of(1, 2, 1)], [[1]], 3), /item 1 appears twice in the first 3 recommendations of user 0/);
  assert.doesNotThrow(() => rankingMetrics([Int32Array.of(1, 2, 1)], [[1]], 2)); // past k it does not matter
  assert.throws(() => rankingMetrics([[1, -2]], [[1]], 2), /integers ≥ 0, got -2 in the recommendations of user 0/);
  assert.throws(() => rankingMetrics([[1]], [[0.5]], 2), /got 0.5 in the relevant items of user 0/);
  assert.throws(() => rankingMetrics([[1], [2]], [[], []], 2), /no user has a relevant item/);
});

test('catalogue coverage counts the distinct items in everyone\'s first k', () => {
  assert.equal(catalogueCoverage([Int32Array.of(0, 1, 2), Int32Array.of(2, 3, 9)], 2, 10), 0.4);
  assert.equal(catalogueCoverage([Int32Array.of(0, 1, 2), Int32Array.of(2, 3, 9)], 3, 10), 0.5);
  assert.equal(catalogueCoverage([], 3, 10), 0);
  assert.throws(() => catalogueCoverage([[10]], 1, 10), /integers in \[0, 10\), got 10 for user 0/);
  assert.throws(() => catalogueCoverage([[1]], 1, 0), /nItems must be an integer ≥ 1/);
});

test('inertia is the weighted within-cluster sum of squares', () => {
  const X = fromRows([[0, 0], [2, 0], [10, 10]]);
  const C = fromRows([[1, 0], [10, 10]]);
  assert.equal(inertia(X, C, [0, 0, 1]), 2);
  assert.equal(inertia(X, C), 2); // nearest centres
  assert.equal(inertia(X, C, [0, 0, 1], [1, 2, 3]), 3);
  assert.equal(inertia(X, C, [1, 0, 1]), 200 + 1);
  assert.throws(() => inertia(X, C, [0, 2, 1]), /labels must be integers in \[0, 2\), got 2 at index 1/);
  assert.throws(() => inertia(X, fromRows([[1, 0, 0]])), /X has 2 columns but centers have 3/);
  assert.throws(() => inertia(fromRows([[0, NaN]]), C), /non-finite value \(NaN\) at row 0, column 1/);
  assert.throws(() => inertia(X, C, [0, 0]), /labels has 2 values but X has 3 rows/);
});

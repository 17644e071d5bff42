import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alsLoss, alsParams, alsScores, confidenceMatrix, exactUserStep, explain, fitAls, foldIn, foldInMany, recommend, recommendBatch, similarItems,
  type AlsModel, type AlsParams,
} from '../../src/ml/als.js';
import { csrFromTriplets, type Csr } from '../../src/ml/sparse.js';
import { createPool } from '../../src/ml/pool.js';
import { createRng } from '../../src/ml/random.js';
import { wasmAvailable } from '../../src/ml/wasm.js';

/** A small power-law-ish matrix with some empty users and items; strengths are counts 1..5. */
function sample(nUsers = 60, nItems = 40, seed = 1, maxItems = 30): Csr {
  const rng = createRng(seed);
  const rows: number[] = [], cols: number[] = [], vals: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    if (u % 17 === 5) continue; // empty users
    const m = 1 + Math.floor(Math.pow(rng.next(), 3) * maxItems);
    for (let k = 0; k < m; k++) {
      const i = Math.floor(Math.pow(rng.next(), 2) * (nItems - 3)); // the last 3 items are never bought
      rows.push(u); cols.push(i); vals.push(1 + rng.int(5));
    }
  }
  return csrFromTriplets(nUsers, nItems, rows, cols, vals);
}

function row(F: Float32Array, r: number, K: number): Float64Array {
  return Float64Array.from(F.subarray(r * K, r * K + K));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let f = 0; f < a.length; f++) s += a[f] * b[f];
  return s;
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, n = 0;
  for (let f = 0; f < a.length; f++) { d += (a[f] - b[f]) ** 2; n += b[f] ** 2; }
  return Math.sqrt(d / Math.max(n, 1e-30));
}

/** Dense Gaussian elimination with partial pivoting (test reference, independent of the Cholesky code). */
function solveDense(A: number[][], b: number[]): number[] {
  const n = b.length, M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** The HKV objective by brute force over every (user, item) pair, normalised as implicit does. */
function bruteLoss(model: AlsModel): number {
  const { nUsers, nItems, factors: K, userFactors: X, itemFactors: Y, confidence: C } = model;
  let loss = 0, denom = 0;
  for (let u = 0; u < nUsers; u++) {
    const conf = new Map<number, number>();
    for (let k = C.indptr[u]; k < C.indptr[u + 1]; k++) conf.set(C.indices[k], C.data[k]);
    for (let i = 0; i < nItems; i++) {
      const s = dot(row(X, u, K), row(Y, i, K));
      const c = conf.get(i) ?? 1, p = conf.has(i) ? 1 : 0;
      loss += c * (p - s) ** 2;
      denom += c;
    }
  }
  let norms = 0;
  for (const v of X) norms += v * v;
  for (const v of Y) norms += v * v;
  return (loss + model.params.regularization * norms) / denom;
}

const base: Partial<AlsParams> = { factors: 8, regularization: 0.1, alpha: 2, iterations: 8, seed: 11 };

test('parameters: defaults, and errors that say what is wrong and what is allowed', () => {
  const p = alsParams();
  assert.equal(p.factors, 64);
  assert.equal(p.cgSteps, 3);
  assert.equal(p.solver, 'cg');
  assert.throws(() => alsParams({ factors: 0 }), /factors must be an integer in 1\.\.1024, got 0/);
  assert.throws(() => alsParams({ factors: 2.5 }), /factors must be an integer/);
  assert.throws(() => alsParams({ regularization: -1 }), /regularization must be a finite number ≥ 0, got -1/);
  assert.throws(() => alsParams({ alpha: NaN }), /alpha must be a finite number ≥ 0, got NaN/);
  assert.throws(() => alsParams({ cgSteps: 0 }), /cgSteps must be an integer in 1\.\./);
  assert.throws(() => alsParams({ bm25B: 2 }), /bm25B must be a number in \[0, 1\], got 2/);
  assert.throws(() => alsParams({ weighting: 'tfidf' as never }), /weighting must be 'none', 'log' or 'bm25', got tfidf/);
  assert.throws(() => alsParams({ solver: 'lu' as never }), /solver must be 'cg' or 'cholesky'/);
  assert.throws(() => alsParams({ factor: 3 } as never), /unknown ALS parameter 'factor'/);
});

test('NaN, Infinity and negative strengths are refused with the user and item named', async () => {
  const good = sample(10, 8);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const data = good.data.slice();
    data[3] = bad;
    await assert.rejects(fitAls({ ...good, data }, base), new RegExp(`userItems: value at row \\d+, column \\d+ is ${bad}; values must be finite`));
  }
  const data = good.data.slice();
  data[2] = -1;
  await assert.rejects(fitAls({ ...good, data }, base), /negative strength -1 at user \d+, item \d+/);
  const model = await fitAls(good, base);
  assert.throws(() => foldIn(model, { items: [1], values: [NaN] }), /strength NaN of item 1 must be a finite number ≥ 0/);
  assert.throws(() => foldIn(model, { items: [99], values: [1] }), /item 99 is outside 0\.\.7/);
});

test('confidence is 1 + α·w(r) with w = r, log1p(r) or implicit\'s BM25 on the item × user matrix; zeros are dropped', () => {
  const m = csrFromTriplets(3, 4, [0, 0, 1, 2, 2, 2], [0, 2, 2, 0, 1, 3], [2, 0, 5, 1, 3, 4]);
  const none = confidenceMatrix(m, alsParams({ alpha: 3 })).confidence;
  assert.deepEqual([...none.indptr], [0, 1, 2, 5]); // the explicit zero at (0, 2) is not an interaction
  assert.deepEqual([...none.data], [7, 16, 4, 10, 13]);
  const log = confidenceMatrix(m, alsParams({ alpha: 2, weighting: 'log' })).confidence;
  assert.deepEqual([...log.data], [2, 5, 1, 3, 4].map((r) => Math.fround(1 + 2 * Math.log1p(r))));
  // BM25 as implicit's bm25_weight(X) on X = item × user: idf per user, length norm per item
  const K1 = 100, B = 0.8;
  const X = [[2, 0, 1], [0, 0, 3], [0, 5, 0], [0, 0, 4]]; // items × users, zero dropped
  const N = X.length;
  const df = [0, 1, 2].map((u) => X.filter((r) => r[u] > 0).length);
  const idf = df.map((d) => Math.log(N) - Math.log1p(d));
  const rowSums = X.map((r) => r.reduce((a, b) => a + b, 0));
  const avg = rowSums.reduce((a, b) => a + b, 0) / N;
  const expected: number[] = [];
  for (const [u, i] of [[0, 0], [1, 2], [2, 0], [2, 1], [2, 3]]) {
    const r = X[i][u], lengthNorm = 1 - B + (B * rowSums[i]) / avg;
    expected.push(Math.fround(1 + 0.5 * Math.max(0, (r * (K1 + 1)) / (K1 * lengthNorm + r) * idf[u])));
  }
  const bm25 = confidenceMatrix(m, alsParams({ alpha: 0.5, weighting: 'bm25', bm25K1: K1, bm25B: B })).confidence;
  for (let k = 0; k < expected.length; k++) assert.ok(Math.abs(bm25.data[k] - expected[k]) < 1e-6, `entry ${k}: ${bm25.data[k]} vs ${expected[k]}`);
});

test('the exact solver solves each user\'s normal equations (checked against a dense solve)', async () => {
  const data = sample();
  const model = await exactUserStep(await fitAls(data, { ...base, iterations: 2 }));
  const { factors: K, nItems, itemFactors: Y, confidence: C } = model;
  for (const u of [0, 1, 2, 3, 22, 40]) {
    const A = Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 0.1 : 0)));
    const b = new Array<number>(K).fill(0);
    const conf = new Map<number, number>();
    for (let k = C.indptr[u]; k < C.indptr[u + 1]; k++) conf.set(C.indices[k], C.data[k]);
    for (let i = 0; i < nItems; i++) {
      const y = row(Y, i, K), c = conf.get(i) ?? 1;
      for (let f = 0; f < K; f++) {
        if (conf.has(i)) b[f] += c * y[f];
        for (let g = 0; g < K; g++) A[f][g] += c * y[f] * y[g];
      }
    }
    const x = solveDense(A, b);
    assert.ok(relDiff(row(model.userFactors, u, K), x) < 1e-5, `user ${u}: ${relDiff(row(model.userFactors, u, K), x)}`);
  }
});

test('the training loss follows implicit\'s definition, equals the brute-force objective and decreases monotonically', async () => {
  const data = sample();
  for (const solver of ['cg', 'cholesky'] as const) {
    const model = await fitAls(data, { ...base, solver, iterations: 12 }, { computeLoss: true });
    const h = model.lossHistory;
    assert.equal(h.length, 12);
    for (let it = 1; it < h.length; it++) assert.ok(h[it] <= h[it - 1] * (1 + 1e-6), `${solver}: loss rose at iteration ${it}: ${h[it - 1]} → ${h[it]}`);
    assert.ok(h[h.length - 1] < h[0]);
    const brute = bruteLoss(model);
    assert.ok(Math.abs(h[h.length - 1] - brute) < 1e-5 * brute, `${solver}: ${h[h.length - 1]} vs brute force ${brute}`);
    assert.ok(Math.abs((await alsLoss(model)) - brute) < 1e-5 * brute);
  }
});

test('the CG solver\'s loss matches the exact solver\'s at every iteration', async () => {
  // a realistic regime (λ small, α = 1, 16 factors): implicit's claim is that 3 warm-started CG steps
  // track the exact solver; on this matrix they stay within 0.2% at every iteration
  const data = sample(1000, 300, 1, 40);
  const params: Partial<AlsParams> = { factors: 16, regularization: 0.01, alpha: 1, iterations: 10, seed: 11 };
  const exact = (await fitAls(data, { ...params, solver: 'cholesky' }, { computeLoss: true })).lossHistory;
  const three = (await fitAls(data, { ...params, solver: 'cg', cgSteps: 3 }, { computeLoss: true })).lossHistory;
  // as many CG steps as factors make CG an exact solver, up to rounding
  const full = (await fitAls(data, { ...params, solver: 'cg', cgSteps: 16 }, { computeLoss: true })).lossHistory;
  for (let it = 0; it < 10; it++) {
    assert.ok(Math.abs(three[it] - exact[it]) <= 2e-3 * exact[it], `iteration ${it}: CG(3) ${three[it]} vs exact ${exact[it]}`);
    assert.ok(Math.abs(full[it] - exact[it]) <= 1e-4 * exact[it], `iteration ${it}: CG(16) ${full[it]} vs exact ${exact[it]}`);
  }
});

test('factor counts that are not a multiple of the SIMD width give the same CG as the exact solver', async () => {
  const data = sample(400, 90, 4, 40);
  for (const factors of [1, 6, 7]) {
    const params: Partial<AlsParams> = { factors, regularization: 0.01, alpha: 1, iterations: 6, seed: 2 };
    const exact = (await fitAls(data, { ...params, solver: 'cholesky' }, { computeLoss: true })).lossHistory;
    const cg = (await fitAls(data, { ...params, cgSteps: factors }, { computeLoss: true })).lossHistory;
    for (let it = 0; it < 6; it++) assert.ok(Math.abs(cg[it] - exact[it]) <= 1e-4 * exact[it], `${factors} factors, iteration ${it}: CG ${cg[it]} vs exact ${exact[it]}`);
  }
});

test('after a final exact user half-step, fold-in of a training user reproduces its trained vector bit for bit', async () => {
  for (const weighting of ['none', 'log', 'bm25'] as const) {
    const data = sample(60, 40, 5);
    const model = await exactUserStep(await fitAls(data, { ...base, factors: 12, weighting }));
    const K = model.factors;
    let checked = 0;
    for (let u = 0; u < model.nUsers; u++) {
      const trained = row(model.userFactors, u, K);
      const byIndex = foldIn(model, u);
      const s = data.indptr[u], e = data.indptr[u + 1];
      const byRaw = foldIn(model, { items: data.indices.subarray(s, e), values: data.data.subarray(s, e) });
      if (s === e) {
        assert.ok(trained.every((v) => v === 0) && byRaw.every((v) => v === 0), `empty user ${u} must fold in to zero`);
        continue;
      }
      // one solver for both (Woodbury for few items, Cholesky for many), so re-scoring an unchanged customer changes nothing
      assert.deepEqual(Array.from(byIndex), Array.from(trained), `${weighting}, user ${u} (${e - s} items)`);
      assert.deepEqual(Array.from(byRaw), Array.from(trained), `${weighting}, user ${u} from raw strengths`);
      checked++;
    }
    assert.ok(checked > 40);
  }
});

test('foldInMany folds in every row on a pool exactly as foldIn does one, block by block', async () => {
  const pool = createPool({ threads: 2 });
  try {
    for (const weighting of ['none', 'log', 'bm25'] as const) {
      const model = await exactUserStep(await fitAls(sample(60, 40, 5), { ...base, factors: 12, weighting }));
      // other customers than the training ones, more of them than one block (50,000 rows), a few with many items
      const fresh = sample(100_001, 40, 9, 12);
      const rows: number[] = [];
      const X = await foldInMany(model, fresh, { pool, onProgress: (done) => rows.push(done) });
      assert.deepEqual(rows, [50_000, 100_000, 100_001]);
      const K = model.factors;
      for (let u = 0; u < fresh.nRows; u += 3) {
        const s = fresh.indptr[u], e = fresh.indptr[u + 1];
        const one = foldIn(model, { items: fresh.indices.subarray(s, e), values: fresh.data.subarray(s, e) });
        const many = X.subarray(u * K, u * K + K);
        if (!one.every((v, f) => Object.is(v, many[f]))) assert.fail(`${weighting}, row ${u} (${e - s} items): ${Array.from(many)} ≠ ${Array.from(one)}`);
      }
    }
  } finally {
    await pool.close();
  }
  const model = await fitAls(sample(), { ...base, factors: 4 });
  await assert.rejects(foldInMany(model, sample(10, 39)), /over the model's 40 items, got csr with 39 columns/);
});

test('fold-in sums duplicated items and ignores zero strengths, and gives the same vector in any order', async () => {
  const model = await fitAls(sample(), base);
  const a = foldIn(model, { items: [3, 1, 7, 1], values: [2, 1, 1, 2] });
  const b = foldIn(model, { items: [1, 3, 7, 9], values: [3, 2, 1, 0] });
  assert.ok(relDiff(a, b) < 1e-6);
  assert.throws(() => foldIn(model, { items: [1, 2], values: [1] }), /equal length/);
});

test('recommend ranks by x_u·y_i, leaves out what the user bought and the excluded items', async () => {
  const data = sample();
  const model = await fitAls(data, base);
  const K = model.factors;
  for (const u of [0, 3, 11, 30]) {
    const bought = new Set(data.indices.subarray(data.indptr[u], data.indptr[u + 1]));
    const exclude = [2, 4, 6];
    const rec = recommend(model, u, 10, { exclude });
    assert.equal(rec.items.length, 10);
    const all = Array.from({ length: model.nItems }, (_, i) => i)
      .filter((i) => !bought.has(i) && !exclude.includes(i))
      .map((i) => ({ i, s: Math.fround(dot(row(model.userFactors, u, K), row(model.itemFactors, i, K))) }))
      .sort((a, b) => b.s - a.s || a.i - b.i);
    for (let k = 0; k < 10; k++) {
      assert.ok(!bought.has(rec.items[k]) && !exclude.includes(rec.items[k]), `user ${u} got bought/excluded item ${rec.items[k]}`);
      assert.ok(Math.abs(rec.scores[k] - all[k].s) < 1e-6, `user ${u} rank ${k}: ${rec.scores[k]} vs ${all[k].s}`);
      if (k > 0) assert.ok(rec.scores[k] <= rec.scores[k - 1]);
    }
    const withBought = recommend(model, u, model.nItems, { filterAlreadyBought: false });
    assert.equal(withBought.items.length, model.nItems);
    assert.equal(recommend(model, u, model.nItems).items.length, model.nItems - bought.size);
  }
  // by factor vector (a folded-in user): nothing is filtered but exclude
  const v = foldIn(model, { items: [0, 1], values: [3, 1] });
  const byVector = recommend(model, v, 5, { exclude: [0, 1] });
  assert.ok(![...byVector.items].some((i) => i === 0 || i === 1));
  assert.throws(() => recommend(model, model.nUsers, 5), /user 60 is outside 0\.\.59/);
  assert.throws(() => recommend(model, 0, -1), /n must be a non-negative integer/);
  assert.throws(() => recommend(model, 0, 5, { exclude: [40] }), /item 40 is outside/);
});

test('batch recommend, on worker threads, equals one-by-one recommend', async () => {
  const data = sample(200, 50, 3);
  const model = await fitAls(data, base);
  const users = Array.from({ length: model.nUsers }, (_, u) => (u * 7) % model.nUsers);
  const pool = createPool({ threads: 2 });
  try {
    const batch = await recommendBatch(model, users, 8, { exclude: [1], pool });
    users.forEach((u, q) => {
      const one = recommend(model, u, 8, { exclude: [1] });
      for (let k = 0; k < 8; k++) {
        if (k < one.items.length) {
          assert.equal(batch.items[q * 8 + k], one.items[k]);
          assert.equal(batch.scores[q * 8 + k], one.scores[k]);
        } else {
          assert.equal(batch.items[q * 8 + k], -1);
          assert.equal(batch.scores[q * 8 + k], -Infinity);
        }
      }
    });
  } finally {
    await pool.close();
  }
});

test('item scoring: the WebAssembly kernel and its JavaScript twin give the same float32 scores, to the last bit', async () => {
  // 7 users: a tile of 4, then 3 one by one; 301 items: the last tile of items is padded
  const users = [0, 7, 33, 79, 5, 12, 40];
  for (const K of [1, 3, 8, 64, 67]) {
    const model = await fitAls(sample(80, 301, 4), { ...base, factors: K, iterations: 2 });
    const n = model.nItems, X = model.userFactors, Y = model.itemFactors;
    assert.ok(wasmAvailable, 'WebAssembly runs here, so the kernel is compared with its twin, not the twin with itself');
    const kernel = alsScores(model, users, true), { scores: twin, tileMaxes } = alsScores(model, users, false);
    assert.deepEqual(new Uint32Array(kernel.scores.buffer), new Uint32Array(twin.buffer), `K = ${K}`);
    // each tile of 8 items' highest score, which ranking uses to pass over tiles; the last tile is
    // padded with items of zero factors (score 0)
    assert.deepEqual(kernel.tileMaxes, tileMaxes);
    const tiles = Math.ceil(n / 8);
    users.forEach((_, q) => {
      for (let g = 0; g < tiles; g++) {
        const tile = [...twin.subarray(q * n + 8 * g, q * n + Math.min(n, 8 * g + 8))];
        assert.equal(tileMaxes[q * tiles + g], Math.max(...tile, ...(tile.length < 8 ? [0] : [])));
      }
    });
    // the documented order: s = 0, then s = s + x_f·y_f for f = 0 … K − 1, each product and sum rounded to float32
    users.forEach((u, q) => {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let f = 0; f < K; f++) s = Math.fround(s + Math.fround(X[u * K + f] * Y[i * K + f]));
        assert.ok(Object.is(twin[q * n + i], s), `K = ${K}, user ${u}, item ${i}: ${twin[q * n + i]} vs ${s}`);
      }
    });
    // and recommend ranks those scores
    const rec = recommend(model, 7, 20, { filterAlreadyBought: false });
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => twin[n + b] - twin[n + a] || a - b).slice(0, 20);
    assert.deepEqual([...rec.items], order);
    assert.deepEqual([...rec.scores], order.map((i) => twin[n + i]));
  }
});

test('ranking passes over tiles exactly: with ties, exclusions and bought items, the top n equals a full sort', async () => {
  const fitted = await fitAls(sample(80, 301, 4), { ...base, factors: 16, iterations: 2 });
  // items 40..79 copy item 3's factors: a block of exact ties across several tiles
  const Y = Float32Array.from(fitted.itemFactors);
  for (let i = 40; i < 80; i++) Y.copyWithin(i * 16, 3 * 16, 4 * 16);
  const model: AlsModel = { ...fitted, itemFactors: Y };
  const exclude = [3, 41, 42, 100, 200, 300];
  const users = Array.from({ length: model.nUsers }, (_, u) => u);
  const { scores } = alsScores(model, users, false);
  const n = model.nItems, c = model.confidence;
  const pool = createPool({ threads: 2 });
  try {
    const batch = await recommendBatch(model, users, 12, { exclude, pool });
    for (const u of users) {
      const bought = new Set(c.indices.subarray(c.indptr[u], c.indptr[u + 1]));
      const expected = Array.from({ length: n }, (_, i) => i)
        .filter((i) => !bought.has(i) && !exclude.includes(i))
        .sort((a, b) => scores[u * n + b] - scores[u * n + a] || a - b)
        .slice(0, 12);
      assert.deepEqual([...recommend(model, u, 12, { exclude }).items], expected, `user ${u}`);
      assert.deepEqual([...batch.items.subarray(u * 12, u * 12 + 12)], expected, `user ${u}, batch`);
    }
  } finally {
    await pool.close();
  }
});

test('similarItems ranks by cosine of item factors, without the item itself or empty items', async () => {
  const model = await fitAls(sample(), base);
  const K = model.factors;
  const norm = (i: number): number => Math.sqrt(dot(row(model.itemFactors, i, K), row(model.itemFactors, i, K)));
  const sim = similarItems(model, 0, 5);
  const all = Array.from({ length: model.nItems }, (_, i) => i)
    .filter((i) => i !== 0 && norm(i) > 0)
    .map((i) => ({ i, s: dot(row(model.itemFactors, 0, K), row(model.itemFactors, i, K)) / (norm(0) * norm(i)) }))
    .sort((a, b) => b.s - a.s);
  assert.deepEqual([...sim.items], all.slice(0, 5).map((x) => x.i));
  for (let k = 0; k < 5; k++) assert.ok(Math.abs(sim.scores[k] - all[k].s) < 1e-5);
  assert.equal(all.length, model.nItems - 4); // items 37..39 were never bought and have zero factors
  assert.equal(similarItems(model, 39, 5).items.length, 0);
});

test('explain: each past item\'s contribution, summing to the exact score of the item', async () => {
  const data = sample();
  const model = await exactUserStep(await fitAls(data, base));
  const K = model.factors;
  for (const u of [0, 3, 11]) {
    for (const item of [0, 5, 20]) {
      const ex = explain(model, u, item);
      const m = data.indptr[u + 1] - data.indptr[u];
      assert.equal(ex.items.length, m);
      const sum = ex.contributions.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - ex.score) < 1e-9 * Math.max(1, Math.abs(sum)));
      const exactScore = dot(foldIn(model, u), row(model.itemFactors, item, K));
      assert.ok(Math.abs(ex.score - exactScore) < 1e-4 * Math.max(1e-3, Math.abs(exactScore)), `user ${u}, item ${item}: ${ex.score} vs ${exactScore}`);
      for (let k = 1; k < m; k++) assert.ok(ex.contributions[k] <= ex.contributions[k - 1]);
      assert.deepEqual([...ex.items].sort((a, b) => a - b), [...data.indices.subarray(data.indptr[u], data.indptr[u + 1])]);
    }
  }
  const fresh = explain(model, { items: [1, 2], values: [1, 4] }, 3);
  assert.ok(Math.abs(fresh.contributions[0] + fresh.contributions[1] - fresh.score) < 1e-9);
  assert.equal(explain(model, 5, 3).score, 0); // user 5 has no interactions
});

test('empty users and items get zero factors; an all-empty matrix fits without NaN', async () => {
  const data = sample();
  const model = await fitAls(data, base);
  const K = model.factors;
  assert.ok(row(model.userFactors, 5, K).every((v) => v === 0));
  assert.ok(row(model.itemFactors, 39, K).every((v) => v === 0));
  assert.ok(model.userFactors.every(Number.isFinite) && model.itemFactors.every(Number.isFinite));
  const rec = recommend(model, 5, 3);
  assert.equal(rec.items.length, 3);
  assert.ok(foldIn(model, { items: [], values: [] }).every((v) => v === 0));
  const empty = await fitAls(csrFromTriplets(4, 3, [], [], []), { ...base, iterations: 2 }, { computeLoss: true });
  assert.ok(empty.userFactors.every((v) => v === 0) && empty.itemFactors.every((v) => v === 0));
  assert.ok(empty.lossHistory.every(Number.isFinite));
  const none = await fitAls(csrFromTriplets(0, 0, [], [], []), base);
  assert.equal(none.userFactors.length, 0);
});

test('the same seed gives the same model, on one thread or on a pool; another seed another', async () => {
  const data = sample(300, 60, 9);
  const a = await fitAls(data, { ...base, iterations: 3 });
  const pool = createPool({ threads: 2 });
  let b: AlsModel;
  try {
    b = await fitAls(data, { ...base, iterations: 3 }, { pool, computeLoss: true });
  } finally {
    await pool.close();
  }
  assert.deepEqual(a.userFactors, b.userFactors);
  assert.deepEqual(a.itemFactors, b.itemFactors);
  const c = await fitAls(data, { ...base, iterations: 3, seed: 12 });
  assert.notDeepEqual(a.userFactors, c.userFactors);
});

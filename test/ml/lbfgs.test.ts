import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimizeLbfgs, minimizeOwlqn, moreThuente, type LineFunction, type Objective } from '../../src/ml/lbfgs.js';
import { createRng } from '../../src/ml/random.js';

// The one-dimensional test functions of Moré & Thuente (1994), with the (c1, c2) they used.
const yanai = (b1: number, b2: number): LineFunction => {
  const g1 = Math.sqrt(1 + b1 * b1) - b1, g2 = Math.sqrt(1 + b2 * b2) - b2;
  return (a, out) => {
    const p = Math.sqrt((1 - a) ** 2 + b2 * b2), q = Math.sqrt(a * a + b1 * b1);
    out[0] = g1 * p + g2 * q;
    out[1] = (-g1 * (1 - a)) / p + (g2 * a) / q;
  };
};
const cases: { name: string; phi: LineFunction; c1: number; c2: number }[] = [
  { name: '−α/(α²+2)', c1: 1e-3, c2: 0.1, phi: (a, out) => { out[0] = -a / (a * a + 2); out[1] = (a * a - 2) / (a * a + 2) ** 2; } },
  { name: '(α+β)⁵ − 2(α+β)⁴', c1: 0.1, c2: 0.1, phi: (a, out) => { const t = a + 0.004; out[0] = t ** 5 - 2 * t ** 4; out[1] = 5 * t ** 4 - 8 * t ** 3; } },
  {
    name: 'wiggly (l = 39)', c1: 0.1, c2: 0.1, phi: (a, out) => {
      const b = 0.01, l = 39;
      let f0: number, d0: number;
      if (a <= 1 - b) { f0 = 1 - a; d0 = -1; } else if (a >= 1 + b) { f0 = a - 1; d0 = 1; } else { f0 = (a - 1) ** 2 / (2 * b) + b / 2; d0 = (a - 1) / b; }
      out[0] = f0 + ((2 * (1 - b)) / (l * Math.PI)) * Math.sin((l * Math.PI * a) / 2);
      out[1] = d0 + (1 - b) * Math.cos((l * Math.PI * a) / 2);
    },
  },
  { name: 'Yanai (0.001, 0.001)', c1: 1e-3, c2: 1e-3, phi: yanai(0.001, 0.001) },
  { name: 'Yanai (0.01, 0.001)', c1: 1e-3, c2: 1e-3, phi: yanai(0.01, 0.001) },
  { name: 'Yanai (0.001, 0.01)', c1: 1e-3, c2: 1e-3, phi: yanai(0.001, 0.01) },
];

test('Moré–Thuente finds a step satisfying the strong Wolfe conditions on the paper\'s test functions', () => {
  const out = new Float64Array(2);
  for (const c of cases) {
    c.phi(0, out);
    const f0 = out[0], g0 = out[1];
    for (const stp0 of [1e-3, 1e-1, 10, 1000]) {
      const r = moreThuente(c.phi, f0, g0, stp0, { c1: c.c1, c2: c.c2, xtol: 1e-10, maxEval: 50, fNoise: 0 });
      assert.equal(r.status, 'converged', `${c.name} from ${stp0}: ${r.status}`);
      c.phi(r.stp, out);
      assert.equal(r.f, out[0]);
      assert.equal(r.g, out[1]);
      assert.ok(r.f <= f0 + c.c1 * r.stp * g0, `${c.name} from ${stp0}: sufficient decrease fails at ${r.stp}`);
      assert.ok(Math.abs(r.g) <= c.c2 * Math.abs(g0), `${c.name} from ${stp0}: curvature fails at ${r.stp} (φ' = ${r.g})`);
      assert.ok(r.nEval <= 20, `${c.name} from ${stp0}: ${r.nEval} evaluations`);
    }
  }
});

test('the line search rejects an ascent direction and bad settings', () => {
  const phi: LineFunction = (a, out) => { out[0] = a * a; out[1] = 2 * a; };
  assert.throws(() => moreThuente(phi, 0, 0, 1), /descent direction/);
  assert.throws(() => moreThuente(phi, 0, -1, 1, { c1: 0.9, c2: 0.1 }), /0 < c1 ≤ c2 < 1/);
  assert.throws(() => moreThuente(phi, 0, -1, -1), /outside/);
});

test('a step where φ overflows is retreated from, not accepted', () => {
  // φ(α) = −ln(2 − α) − α: finite only for α < 2, minimum at α = 1.
  const phi: LineFunction = (a, out) => {
    out[0] = a < 2 ? -Math.log(2 - a) - a : NaN;
    out[1] = a < 2 ? 1 / (2 - a) - 1 : NaN;
  };
  const out = new Float64Array(2);
  phi(0, out);
  const r = moreThuente(phi, out[0], out[1], 5, { c2: 0.1 });
  assert.equal(r.status, 'converged');
  assert.ok(r.stp < 2 && Math.abs(r.g) <= 0.1 * 0.5);
});

const rosenbrock: Objective = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * a * x[i] - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

test('L-BFGS minimises the Rosenbrock function in 2 and 10 dimensions', () => {
  for (const n of [2, 10]) {
    const x0 = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const r = minimizeLbfgs(rosenbrock, x0, { tol: 1e-9, maxIter: 500 });
    assert.equal(r.converged, true, `n=${n}: ${r.stop}`);
    assert.equal(r.stop, 'gradient');
    assert.ok(r.gradNorm <= 1e-9);
    for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-7, `n=${n}: x = ${[...r.x]}`);
    assert.ok(r.nIter < 200 && r.nEval < 300, `n=${n}: ${r.nIter} iterations, ${r.nEval} evaluations`);
  }
});

test('L-BFGS solves an ill-conditioned quadratic exactly, even when f carries rounding noise', () => {
  // f = ½ Σ a_i (x_i − i)² (a_i from 1 to 1e4) plus a deterministic ±1e-13 wobble standing in for
  // the summation error of a real objective; the gradient is exact. Near the minimum the true
  // decreases (~1e-19) drown in the wobble: reaching tol = 1e-9 needs the derivative-based acceptance.
  const n = 30;
  const a = Array.from({ length: n }, (_, i) => 10 ** ((4 * i) / (n - 1)));
  const quad: Objective = (x, g) => {
    let f = 0, h = 0;
    for (let i = 0; i < n; i++) { const t = x[i] - i; f += 0.5 * a[i] * t * t; g[i] = a[i] * t; h += x[i] * (i + 1); }
    return f + 1e-13 * Math.sin(1e7 * h);
  };
  const r = minimizeLbfgs(quad, new Float64Array(n), { tol: 1e-9, maxIter: 2000 });
  assert.equal(r.stop, 'gradient');
  for (let i = 0; i < n; i++) assert.ok(Math.abs(r.x[i] - i) < 1e-8, `x[${i}] = ${r.x[i]}`);
  // Without it the search can only compare values that no longer mean anything: it gives up, and says so.
  const noisy = minimizeLbfgs(quad, new Float64Array(n), { tol: 1e-9, maxIter: 2000, lineSearch: { fNoise: 0 } });
  assert.equal(noisy.converged, false);
  assert.equal(noisy.stop, 'lineSearch');
  assert.ok(noisy.gradNorm > 1e-9);
});

test('running out of iterations is reported, not hidden; an optimal start takes no iterations', () => {
  const r = minimizeLbfgs(rosenbrock, [-1.2, 1], { tol: 1e-12, maxIter: 3 });
  assert.equal(r.converged, false);
  assert.equal(r.stop, 'maxIter');
  assert.equal(r.nIter, 3);
  assert.ok(r.gradNorm > 1e-12 && Number.isFinite(r.f));
  const at = minimizeLbfgs(rosenbrock, [1, 1], { tol: 1e-12 });
  assert.equal(at.converged, true);
  assert.equal(at.nIter, 0);
  assert.equal(at.nEval, 1);
});

test('L-BFGS steps back from a region where the objective is not finite', () => {
  // f(x) = −ln(1 − x) − 3x, defined for x < 1, minimum at x = 2/3; the secant steps overshoot past 1.
  const f: Objective = (x, g) => {
    g[0] = x[0] < 1 ? 1 / (1 - x[0]) - 3 : NaN;
    return x[0] < 1 ? -Math.log(1 - x[0]) - 3 * x[0] : NaN;
  };
  const r = minimizeLbfgs(f, [-5], { tol: 1e-10 });
  assert.equal(r.converged, true, r.stop);
  assert.ok(Math.abs(r.x[0] - 2 / 3) < 1e-9);
  assert.throws(() => minimizeLbfgs(f, [2]), /not finite at the starting point/);
});

test('L-BFGS validates its settings', () => {
  assert.throws(() => minimizeLbfgs(rosenbrock, [0, 0], { tol: -1 }), /tol/);
  assert.throws(() => minimizeLbfgs(rosenbrock, [0, 0], { maxIter: 1.5 }), /maxIter/);
  assert.throws(() => minimizeLbfgs(rosenbrock, [0, 0], { memory: 0 }), /memory/);
});

test('OWL-QN solves a separable lasso exactly: soft-thresholding, with exact zeros', () => {
  // f = ½ Σ a_i (x_i − c_i)² + Σ λ_i |x_i|  →  x_i = sign(c_i)·max(|c_i| − λ_i/a_i, 0)
  const a = [1, 4, 0.5, 2, 10, 3], c = [3, -0.2, 1, -5, 0.05, 0.7], l1 = [1, 1, 1, 0, 1, 0.5];
  const f: Objective = (x, g) => {
    let v = 0;
    for (let i = 0; i < x.length; i++) { const t = x[i] - c[i]; v += 0.5 * a[i] * t * t; g[i] = a[i] * t; }
    return v;
  };
  const r = minimizeOwlqn(f, new Float64Array(6), l1, { tol: 1e-10 });
  assert.equal(r.converged, true, r.stop);
  for (let i = 0; i < 6; i++) {
    const expected = Math.sign(c[i]) * Math.max(Math.abs(c[i]) - l1[i] / a[i], 0);
    if (expected === 0) assert.equal(r.x[i], 0, `x[${i}] should be exactly 0, got ${r.x[i]}`);
    else assert.ok(Math.abs(r.x[i] - expected) < 1e-10, `x[${i}] = ${r.x[i]}, expected ${expected}`);
  }
});

test('OWL-QN meets the lasso optimality conditions on a correlated problem; λ = 0 is plain L-BFGS', () => {
  // f = ½ xᵀAx − bᵀx with A = BᵀB + I (correlated), λ = 2 on all but the last coordinate
  const n = 12, rng = createRng(3);
  const B = Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = i === j ? 1 : 0; for (let k = 0; k < n; k++) s += B[k * n + i] * B[k * n + j]; A[i * n + j] = s; }
  const b = Array.from({ length: n }, () => 3 * rng.normal());
  const f: Objective = (x, g) => {
    let v = 0;
    for (let i = 0; i < n; i++) { let ax = 0; for (let j = 0; j < n; j++) ax += A[i * n + j] * x[j]; g[i] = ax - b[i]; v += 0.5 * x[i] * ax - b[i] * x[i]; }
    return v;
  };
  const lambda = Array.from({ length: n }, (_, i) => (i === n - 1 ? 0 : 2));
  const r = minimizeOwlqn(f, new Float64Array(n), lambda, { tol: 1e-9, maxIter: 2000 });
  assert.equal(r.converged, true, r.stop);
  const g = new Float64Array(n);
  f(r.x, g);
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    if (r.x[i] !== 0) assert.ok(Math.abs(g[i] + lambda[i] * Math.sign(r.x[i])) < 1e-8, `stationarity at ${i}`);
    else { zeros++; assert.ok(Math.abs(g[i]) <= lambda[i] + 1e-8, `subgradient condition at ${i}: |g| = ${Math.abs(g[i])}`); }
  }
  assert.ok(zeros > 0 && zeros < n - 1, `${zeros} zeros: the penalty should select some coordinates, not all or none`);
  const plain = minimizeOwlqn(f, new Float64Array(n), new Float64Array(n), { tol: 1e-9, maxIter: 2000 });
  const lbfgs = minimizeLbfgs(f, new Float64Array(n), { tol: 1e-9, maxIter: 2000 });
  for (let i = 0; i < n; i++) assert.ok(Math.abs(plain.x[i] - lbfgs.x[i]) < 1e-8);
  assert.throws(() => minimizeOwlqn(f, new Float64Array(n), [1]), /l1 has 1 weights but x has 12 coordinates/);
  assert.throws(() => minimizeOwlqn(f, new Float64Array(n), new Float64Array(n).fill(-1)), /l1 weights must be finite and ≥ 0/);
});

// Limited-memory BFGS with the Moré–Thuente line search (MINPACK-2 dcsrch/dcstep, the search inside
// L-BFGS-B and therefore inside scikit-learn's 'lbfgs' solver), and OWL-QN for an added L1 term.
// Unconstrained minimisation; the caller's objective writes its gradient into a buffer it is handed,
// so an iteration allocates nothing proportional to the problem. Both run as generators (reverse
// communication), so one implementation serves synchronous and asynchronous objectives.

/** Evaluates the objective at x: writes ∇f(x) into grad and returns f(x). Must not keep x or grad. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

/** Line-search parameters: sufficient decrease c1, curvature c2 (0 < c1 ≤ c2 < 1; c1 < c2 guarantees a step exists), interval tolerance xtol. */
export interface LineSearchOptions {
  /** sufficient-decrease (Armijo) constant, 0 < c1 ≤ c2; default 1e-4 */
  c1?: number;
  /** curvature constant of the strong Wolfe condition |φ'(α)| ≤ c2·|φ'(0)|; default 0.9 */
  c2?: number;
  /** stop when the bracketing interval is narrower than xtol·(its right end); default 0.1 (as L-BFGS-B) */
  xtol?: number;
  /** bounds on the step; defaults 0 and 1e10 */
  stpMin?: number;
  stpMax?: number;
  /** most evaluations of φ; default 20 (as scipy) */
  maxEval?: number;
  /**
   * Near a minimum the change in f along the line falls below f's rounding error and comparing
   * values becomes a coin toss. Where |φ(α) − φ(0)| ≤ fNoise·max(1, |φ(0)|) the search uses
   * φ(0) + α·(φ'(0) + φ'(α))/2 instead of φ(α) — the trapezoid integral of φ', exact for a quadratic.
   * The sufficient-decrease test then reads φ'(α) ≤ (2·c1 − 1)·φ'(0): Hager and Zhang's approximate
   * Wolfe condition. Default 1e-12; 0 turns it off.
   */
  fNoise?: number;
}

/**
 * How the line search ended: 'converged' (strong Wolfe, or approximate Wolfe within f's rounding), or
 * one of the ways it can fail, in which case `stp` is the last step evaluated.
 */
export type LineSearchStatus = 'converged' | 'maxEval' | 'rounding' | 'xtol' | 'stpMax' | 'stpMin' | 'nonFinite';

export interface LineSearchResult {
  readonly stp: number;
  /** φ(stp) and φ'(stp) */
  readonly f: number;
  readonly g: number;
  readonly nEval: number;
  readonly status: LineSearchStatus;
}

/** φ(stp): writes [φ(stp), φ'(stp)] into out. */
export type LineFunction = (stp: number, out: Float64Array) => void;

interface Resolved { c1: number; c2: number; xtol: number; stpMin: number; stpMax: number; maxEval: number; fNoise: number }

function resolveLineSearch(o: LineSearchOptions): Resolved {
  const r: Resolved = {
    c1: o.c1 ?? 1e-4, c2: o.c2 ?? 0.9, xtol: o.xtol ?? 0.1, stpMin: o.stpMin ?? 0, stpMax: o.stpMax ?? 1e10,
    maxEval: o.maxEval ?? 20, fNoise: o.fNoise ?? 1e-12,
  };
  if (!(r.c1 > 0 && r.c1 <= r.c2 && r.c2 < 1)) throw new RangeError(`line search needs 0 < c1 ≤ c2 < 1, got c1=${r.c1}, c2=${r.c2}`);
  if (!(r.xtol >= 0)) throw new RangeError(`line search xtol must be ≥ 0, got ${r.xtol}`);
  if (!(r.stpMin >= 0 && r.stpMax > r.stpMin)) throw new RangeError(`line search needs 0 ≤ stpMin < stpMax, got ${r.stpMin}, ${r.stpMax}`);
  if (!Number.isInteger(r.maxEval) || r.maxEval < 1) throw new RangeError(`line search maxEval must be an integer ≥ 1, got ${r.maxEval}`);
  if (!(r.fNoise >= 0)) throw new RangeError(`line search fNoise must be ≥ 0, got ${r.fNoise}`);
  return r;
}

/**
 * Moré & Thuente (1994) line search: finds a step α > 0 satisfying the strong Wolfe conditions
 *   φ(α) ≤ φ(0) + c1·α·φ'(0)   and   |φ'(α)| ≤ c2·|φ'(0)|,
 * by safeguarded cubic/quadratic interpolation on an interval that is extrapolated until it
 * brackets such a step. φ'(0) must be negative (a descent direction).
 */
export function moreThuente(phi: LineFunction, f0: number, g0: number, stp0: number, options: LineSearchOptions = {}): LineSearchResult {
  const out = new Float64Array(2);
  const search = lineSearch(f0, g0, stp0, resolveLineSearch(options), out);
  for (let step = search.next(); ; step = search.next()) {
    if (step.done) return step.value;
    phi(step.value, out);
  }
}

// A port of MINPACK-2's dcsrch, keeping its reverse communication: the generator yields each trial
// step, and the caller writes [φ(stp), φ'(stp)] into `out` before resuming it.
function* lineSearch(finit: number, ginit: number, stpIn: number, o: Resolved, out: Float64Array): Generator<number, LineSearchResult, void> {
  if (!(ginit < 0)) throw new RangeError(`line search needs a descent direction (φ'(0) < 0), got φ'(0) = ${ginit}`);
  if (!Number.isFinite(finit)) throw new RangeError(`line search needs a finite φ(0), got ${finit}`);
  if (!(stpIn >= o.stpMin && stpIn <= o.stpMax)) throw new RangeError(`initial step ${stpIn} is outside [${o.stpMin}, ${o.stpMax}]`);
  const xtrapl = 1.1, xtrapu = 4.0;
  const gtest = o.c1 * ginit;
  const fSlack = o.fNoise * Math.max(1, Math.abs(finit));
  const st: StepState = { stx: 0, fx: finit, gx: ginit, sty: 0, fy: finit, gy: ginit, stp: stpIn, brackt: false };
  let stage = 1;
  let width = o.stpMax - o.stpMin, width1 = width / 0.5;
  let stmin = 0, stmax = stpIn + xtrapu * stpIn;
  let stp = stpIn;
  let stpCap = Infinity; // trials stay below a step where φ overflowed
  for (let nEval = 1; ; nEval++) {
    yield stp;
    const fTrue = out[0], g = out[1];
    if (!Number.isFinite(fTrue) || !Number.isFinite(g)) {
      if (nEval >= o.maxEval) return { stp, f: fTrue, g, nEval, status: 'nonFinite' };
      stpCap = stp;
      stp = st.stx + 0.5 * (stp - st.stx);
      continue;
    }
    const f = Math.abs(fTrue - finit) <= fSlack ? finit + 0.5 * stp * (ginit + g) : fTrue;
    const ftest = finit + stp * gtest;
    if (stage === 1 && f <= ftest && g >= 0) stage = 2;
    const end = (status: LineSearchStatus): LineSearchResult => ({ stp, f: fTrue, g, nEval, status });
    if (f <= ftest && Math.abs(g) <= -o.c2 * ginit) return end('converged');
    if (st.brackt && (stp <= stmin || stp >= stmax)) return end('rounding');
    if (st.brackt && stmax - stmin <= o.xtol * stmax) return end('xtol');
    if (stp === o.stpMax && f <= ftest && g <= gtest) return end('stpMax');
    if (stp === o.stpMin && (f > ftest || g >= gtest)) return end('stpMin');
    if (nEval >= o.maxEval) return end('maxEval');

    st.stp = stp;
    if (stage === 1 && f <= st.fx && f > ftest) {
      // The modified function ψ(α) = φ(α) − φ(0) − c1·α·φ'(0) has a lower value here but the
      // sufficient decrease does not hold yet: interpolate ψ rather than φ.
      const fx = st.fx, fy = st.fy, gx = st.gx, gy = st.gy;
      st.fx = fx - st.stx * gtest; st.fy = fy - st.sty * gtest; st.gx = gx - gtest; st.gy = gy - gtest;
      dcstep(st, f - stp * gtest, g - gtest, stmin, stmax);
      st.fx += st.stx * gtest; st.fy += st.sty * gtest; st.gx += gtest; st.gy += gtest;
    } else {
      dcstep(st, f, g, stmin, stmax);
    }
    stp = st.stp;
    if (st.brackt) {
      // Force a sufficient shrink of the interval: bisect if the last two steps did not.
      if (Math.abs(st.sty - st.stx) >= 0.66 * width1) stp = st.stx + 0.5 * (st.sty - st.stx);
      width1 = width;
      width = Math.abs(st.sty - st.stx);
      stmin = Math.min(st.stx, st.sty);
      stmax = Math.max(st.stx, st.sty);
    } else {
      stmin = stp + xtrapl * (stp - st.stx);
      stmax = stp + xtrapu * (stp - st.stx);
    }
    stp = Math.min(Math.max(stp, o.stpMin), o.stpMax);
    if (stp >= stpCap) stp = st.stx + 0.5 * (stpCap - st.stx);
    // If further progress is impossible, let the last evaluation be the best step so far.
    if ((st.brackt && (stp <= stmin || stp >= stmax)) || (st.brackt && stmax - stmin <= o.xtol * stmax)) stp = st.stx;
  }
}

interface StepState { stx: number; fx: number; gx: number; sty: number; fy: number; gy: number; stp: number; brackt: boolean }

// MINPACK-2 dcstep: one safeguarded step. (stx, fx, gx) is the best step so far, (sty, fy, gy) the other
// end of the interval, (stp, fp, dp) the new trial. Updates the interval and puts the next trial in st.stp.
function dcstep(st: StepState, fp: number, dp: number, stpmin: number, stpmax: number): void {
  const { stx, fx, gx: dx, sty, fy, gy: dy, stp } = st;
  const sgnd = dp * Math.sign(dx);
  let stpf: number;
  if (fp > fx) {
    // Case 1: a higher function value; the minimum is bracketed. Cubic step if closer to stx, else halfway to the quadratic one.
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp < stx) gamma = -gamma;
    const p = gamma - dx + theta;
    const q = gamma - dx + gamma + dp;
    const stpc = stx + (p / q) * (stp - stx);
    const stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx) / 2) * (stp - stx);
    stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    st.brackt = true;
  } else if (sgnd < 0) {
    // Case 2: lower value, derivatives of opposite sign; bracketed. The step farther from stp (cubic or secant).
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dx;
    const stpc = stp + (p / q) * (stx - stp);
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
    st.brackt = true;
  } else if (Math.abs(dp) < Math.abs(dx)) {
    // Case 3: lower value, same-sign derivative of smaller magnitude. The cubic may not have a minimiser
    // in the direction of the step; fall back to the secant step and keep it inside the safeguards.
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma + (dx - dp) + gamma;
    const r = p / q;
    let stpc: number;
    if (r < 0 && gamma !== 0) stpc = stp + r * (stx - stp);
    else if (stp > stx) stpc = stpmax;
    else stpc = stpmin;
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (st.brackt) {
      stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? Math.min(stp + 0.66 * (sty - stp), stpf) : Math.max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
      stpf = Math.max(stpmin, Math.min(stpmax, stpf));
    }
  } else if (st.brackt) {
    // Case 4: lower value, same-sign derivative that does not decrease; bracketed: cubic step towards sty.
    const theta = (3 * (fp - fy)) / (sty - stp) + dy + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dy), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) * (theta / s) - (dy / s) * (dp / s)));
    if (stp > sty) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dy;
    stpf = stp + (p / q) * (sty - stp);
  } else {
    stpf = stp > stx ? stpmax : stpmin;
  }
  if (fp > fx) {
    st.sty = stp; st.fy = fp; st.gy = dp;
  } else {
    if (sgnd < 0) { st.sty = stx; st.fy = fx; st.gy = dx; }
    st.stx = stp; st.fx = fp; st.gx = dp;
  }
  st.stp = stpf;
}

/** L-BFGS (and OWL-QN) settings. */
export interface LbfgsOptions {
  /** stop when max_i |∂f/∂x_i| ≤ tol (the infinity norm, as L-BFGS-B's pgtol; OWL-QN: of the pseudo-gradient); default 1e-5 */
  tol?: number;
  /** most iterations (line searches that moved x); default 1000 */
  maxIter?: number;
  /** number of correction pairs kept; default 10 (as L-BFGS-B) */
  memory?: number;
  /** line-search settings; defaults as in moreThuente (OWL-QN uses c1, fNoise and maxEval, at least 40, of its backtracking) */
  lineSearch?: LineSearchOptions;
}

/**
 * Why L-BFGS stopped: 'gradient' — the gradient norm reached tol (the only converged outcome);
 * 'maxIter' — the iteration budget ran out; 'lineSearch' — no step along the steepest-descent
 * direction lowered f (typically tol below what rounding allows); 'nonFinite' — the objective
 * returned NaN/Infinity at every trial step.
 */
export type LbfgsStop = 'gradient' | 'maxIter' | 'lineSearch' | 'nonFinite';

export interface LbfgsResult {
  readonly x: Float64Array;
  /** the objective at x (OWL-QN: including the L1 term) */
  readonly f: number;
  /** the gradient at x (OWL-QN: the pseudo-gradient) */
  readonly grad: Float64Array;
  /** max_i |grad_i| */
  readonly gradNorm: number;
  readonly nIter: number;
  /** objective evaluations, including the one at x0 */
  readonly nEval: number;
  /** true iff gradNorm ≤ tol */
  readonly converged: boolean;
  readonly stop: LbfgsStop;
}

/**
 * Minimises a smooth function by L-BFGS (Nocedal 1980; Liu & Nocedal 1989): the two-loop recursion
 * over the last `memory` correction pairs with the initial scaling γ = sᵀy/yᵀy, steps from the
 * Moré–Thuente strong-Wolfe line search, the first step (and the first after a restart) of length
 * 1/‖g‖₂ along −g. Pairs with sᵀy ≤ ε·yᵀy are skipped so the inverse-Hessian approximation stays
 * positive definite. A failed line search restarts once from steepest descent with the memory
 * cleared, as L-BFGS-B does; failing again ends the run, reported in `stop` — never hidden.
 */
export function minimizeLbfgs(fn: Objective, x0: ArrayLike<number>, options: LbfgsOptions = {}): LbfgsResult {
  const x = Float64Array.from(x0), g = new Float64Array(x.length);
  const run = lbfgs(x, g, options);
  for (let step = run.next(0); ; step = run.next(fn(x, g))) if (step.done) return step.value;
}

/** minimizeLbfgs for an objective that is computed asynchronously (say, on a pool of worker threads). */
export async function minimizeLbfgsAsync(fn: (x: Float64Array, grad: Float64Array) => Promise<number>, x0: ArrayLike<number>, options: LbfgsOptions = {}): Promise<LbfgsResult> {
  const x = Float64Array.from(x0), g = new Float64Array(x.length);
  const run = lbfgs(x, g, options);
  for (let step = run.next(0); ; step = run.next(await fn(x, g))) if (step.done) return step.value;
}

/** The settings both optimisers share, defaults filled in and checked. */
function resolveOptions(options: LbfgsOptions) {
  const tol = options.tol ?? 1e-5;
  const maxIter = options.maxIter ?? 1000;
  const m = options.memory ?? 10;
  if (!(tol >= 0)) throw new RangeError(`tol must be a number ≥ 0, got ${tol}`);
  if (!Number.isInteger(maxIter) || maxIter < 0) throw new RangeError(`maxIter must be an integer ≥ 0, got ${maxIter}`);
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`memory must be an integer ≥ 1, got ${m}`);
  return { tol, maxIter, m, ls: resolveLineSearch(options.lineSearch ?? {}) };
}

// The algorithm, by reverse communication: each yield asks the driver to evaluate the objective at
// x, write the gradient into g and resume with f(x). The same code serves sync and async objectives.
function* lbfgs(x: Float64Array, g: Float64Array, options: LbfgsOptions): Generator<void, LbfgsResult, number> {
  const { tol, maxIter, m, ls } = resolveOptions(options);
  const n = x.length;
  let f: number = yield;
  let nEval = 1;
  if (!Number.isFinite(f) || !allFinite(g)) throw new RangeError(`the objective is not finite at the starting point (f = ${f})`);
  let gnorm = maxAbs(g);

  const mem = createMemory(m, n);
  const d = new Float64Array(n), xPrev = new Float64Array(n), gPrev = new Float64Array(n);
  const out = new Float64Array(2);
  let nIter = 0;
  let stop: LbfgsStop = gnorm <= tol ? 'gradient' : 'maxIter';
  let fPrev = f;

  while (stop !== 'gradient' && nIter < maxIter) {
    searchDirection(mem, g, d);
    let dg = dot(g, d, n);
    if (!(dg < 0)) {
      // Rounding made H·g lose descent: forget the curvature pairs and go downhill.
      mem.count = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dg = dot(g, d, n);
    }
    const stp0 = mem.count === 0 ? Math.min(1 / Math.sqrt(-dg), ls.stpMax) : 1;
    xPrev.set(x);
    gPrev.set(g);
    fPrev = f;
    const search = lineSearch(fPrev, dg, stp0, ls, out);
    let step = search.next();
    while (!step.done) {
      const stp = step.value;
      for (let i = 0; i < n; i++) x[i] = xPrev[i] + stp * d[i];
      out[0] = yield;
      out[1] = dot(g, d, n);
      nEval++;
      step = search.next();
    }
    const r = step.value;
    f = r.f;
    const moved = r.status === 'converged' || (Number.isFinite(f) && f < fPrev && allFinite(g));
    if (!moved) {
      x.set(xPrev);
      g.set(gPrev);
      f = fPrev;
      if (mem.count === 0) {
        stop = r.status === 'nonFinite' ? 'nonFinite' : 'lineSearch';
        break;
      }
      mem.count = 0;
      continue;
    }
    nIter++;
    remember(mem, x, xPrev, g, gPrev);
    gnorm = maxAbs(g);
    if (gnorm <= tol) stop = 'gradient';
  }
  return { x, f, grad: g, gradNorm: maxAbs(g), nIter, nEval, converged: stop === 'gradient', stop };
}

/**
 * Minimises f(x) + Σᵢ λᵢ·|xᵢ| — f smooth, λᵢ ≥ 0 (0 leaves a coordinate unpenalised) — by OWL-QN
 * (Andrew & Gao 2007): L-BFGS driven by the pseudo-gradient ◇F (the steepest-descent direction of
 * the non-smooth F), each step confined to the orthant the current point lies in (or ◇F points to),
 * so coordinates reach exactly 0 and stay there until the gradient pulls them out (unpenalised ones move
 * freely). Curvature pairs
 * use the smooth gradient only. The step is found by backtracking from 1 on the projected path with
 * F(x⁺) ≤ F(x) + c1·◇Fᵀ(x⁺ − x); where F's change is within its rounding the test falls back on
 * the trapezoid of the directional derivative, as moreThuente does. Convergence: max|◇Fᵢ| ≤ tol.
 * The result's f is F and its grad the pseudo-gradient. The objective computes f alone.
 */
export function minimizeOwlqn(fn: Objective, x0: ArrayLike<number>, l1: ArrayLike<number>, options: LbfgsOptions = {}): LbfgsResult {
  const x = Float64Array.from(x0), g = new Float64Array(x.length);
  const run = owlqn(x, g, l1, options);
  for (let step = run.next(0); ; step = run.next(fn(x, g))) if (step.done) return step.value;
}

/** minimizeOwlqn for an objective that is computed asynchronously. */
export async function minimizeOwlqnAsync(fn: (x: Float64Array, grad: Float64Array) => Promise<number>, x0: ArrayLike<number>, l1: ArrayLike<number>, options: LbfgsOptions = {}): Promise<LbfgsResult> {
  const x = Float64Array.from(x0), g = new Float64Array(x.length);
  const run = owlqn(x, g, l1, options);
  for (let step = run.next(0); ; step = run.next(await fn(x, g))) if (step.done) return step.value;
}

function* owlqn(x: Float64Array, g: Float64Array, l1In: ArrayLike<number>, options: LbfgsOptions): Generator<void, LbfgsResult, number> {
  const { tol, maxIter, m, ls } = resolveOptions(options);
  const n = x.length;
  if (l1In.length !== n) throw new RangeError(`l1 has ${l1In.length} weights but x has ${n} coordinates`);
  const l1 = Float64Array.from(l1In);
  for (let i = 0; i < n; i++) if (!(Number.isFinite(l1[i]) && l1[i] >= 0)) throw new RangeError(`l1 weights must be finite and ≥ 0, got ${l1[i]} at ${i}`);
  const maxTries = Math.max(ls.maxEval, 40);

  let fs: number = yield;
  let nEval = 1;
  if (!Number.isFinite(fs) || !allFinite(g)) throw new RangeError(`the objective is not finite at the starting point (f = ${fs})`);
  let F = fs + l1Norm(x, l1);
  const pg = new Float64Array(n);
  pseudoGradient(x, g, l1, pg);
  const mem = createMemory(m, n);
  const d = new Float64Array(n), xPrev = new Float64Array(n), gPrev = new Float64Array(n), orth = new Float64Array(n);
  let nIter = 0;
  let stop: LbfgsStop = maxAbs(pg) <= tol ? 'gradient' : 'maxIter';

  while (stop !== 'gradient' && nIter < maxIter) {
    searchDirection(mem, pg, d);
    // Only components that descend; an unpenalised coordinate (the intercept) is smooth and keeps
    // L-BFGS's direction, as libLBFGS's orthant-wise range leaves it out.
    for (let i = 0; i < n; i++) if (l1[i] > 0 && d[i] * pg[i] >= 0) d[i] = 0;
    let dpg = dot(d, pg, n);
    if (!(dpg < 0)) {
      mem.count = 0;
      for (let i = 0; i < n; i++) d[i] = -pg[i];
      dpg = dot(d, pg, n);
    }
    for (let i = 0; i < n; i++) orth[i] = x[i] !== 0 ? Math.sign(x[i]) : -Math.sign(pg[i]);
    let stp = mem.count === 0 ? 1 / Math.sqrt(dot(d, d, n)) : 1;
    xPrev.set(x);
    gPrev.set(g);
    const FPrev = F, slack = ls.fNoise * Math.max(1, Math.abs(FPrev));
    let accepted = false;
    for (let tries = 0; tries < maxTries; tries++, stp *= 0.5) {
      for (let i = 0; i < n; i++) {
        const v = xPrev[i] + stp * d[i];
        x[i] = l1[i] === 0 || v * orth[i] > 0 ? v : 0; // leaving the orthant means stopping at 0
      }
      fs = yield;
      nEval++;
      F = fs + l1Norm(x, l1);
      if (!Number.isFinite(F) || !allFinite(g)) continue;
      let decrease = 0, slopeNew = 0;
      for (let i = 0; i < n; i++) {
        const step = x[i] - xPrev[i];
        decrease += pg[i] * step;
        slopeNew += (g[i] + l1[i] * orth[i]) * step;
      }
      // The projection can turn a descent direction into one that is not (the free intercept's part kept,
      // others clamped at 0): such a step is never accepted, however F compares.
      if (decrease < 0 && (F <= FPrev + ls.c1 * decrease || (Math.abs(F - FPrev) <= slack && 0.5 * (decrease + slopeNew) <= ls.c1 * decrease))) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      x.set(xPrev);
      g.set(gPrev);
      F = FPrev;
      if (mem.count === 0) {
        stop = 'lineSearch';
        break;
      }
      mem.count = 0;
      continue;
    }
    nIter++;
    remember(mem, x, xPrev, g, gPrev);
    pseudoGradient(x, g, l1, pg);
    if (maxAbs(pg) <= tol) stop = 'gradient';
  }
  pseudoGradient(x, g, l1, pg);
  return { x, f: F, grad: pg, gradNorm: maxAbs(pg), nIter, nEval, converged: stop === 'gradient', stop };
}

/** ◇F: the gradient of f + Σλ|x| where x ≠ 0; at 0, the one-sided derivative that descends, or 0 if neither does. */
function pseudoGradient(x: Float64Array, g: Float64Array, l1: Float64Array, pg: Float64Array): void {
  for (let i = 0; i < x.length; i++) {
    const gi = g[i], l = l1[i];
    if (x[i] > 0) pg[i] = gi + l;
    else if (x[i] < 0) pg[i] = gi - l;
    else if (gi + l < 0) pg[i] = gi + l;
    else if (gi - l > 0) pg[i] = gi - l;
    else pg[i] = 0;
  }
}

function l1Norm(x: Float64Array, l1: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += l1[i] * Math.abs(x[i]);
  return s;
}

// The last m correction pairs s = x_{k+1} − x_k, y = ∇f_{k+1} − ∇f_k, in a ring buffer whose newest
// pair is at (head − 1) mod m.
interface Memory { m: number; n: number; S: Float64Array; Y: Float64Array; rho: Float64Array; alpha: Float64Array; head: number; count: number }

function createMemory(m: number, n: number): Memory {
  return { m, n, S: new Float64Array(m * n), Y: new Float64Array(m * n), rho: new Float64Array(m), alpha: new Float64Array(m), head: 0, count: 0 };
}

/** d = −H·v by the two-loop recursion, H₀ = γI with γ = sᵀy/yᵀy of the newest pair. */
function searchDirection(mem: Memory, v: Float64Array, d: Float64Array): void {
  const { m, n, S, Y, rho, alpha, head, count } = mem;
  for (let i = 0; i < n; i++) d[i] = -v[i];
  for (let k = 0; k < count; k++) {
    const j = (head - 1 - k + m) % m;
    const a = rho[j] * dotAt(S, j * n, d, n);
    alpha[j] = a;
    axpyAt(-a, Y, j * n, d, n);
  }
  if (count > 0) {
    const j = (head - 1 + m) % m;
    const gamma = 1 / (rho[j] * dotAt(Y, j * n, Y, n, j * n));
    for (let i = 0; i < n; i++) d[i] *= gamma;
  }
  for (let k = count - 1; k >= 0; k--) {
    const j = (head - 1 - k + m) % m;
    const b = rho[j] * dotAt(Y, j * n, d, n);
    axpyAt(alpha[j] - b, S, j * n, d, n);
  }
}

/** Stores the pair (x − xPrev, g − gPrev) when its curvature sᵀy is safely positive. */
function remember(mem: Memory, x: Float64Array, xPrev: Float64Array, g: Float64Array, gPrev: Float64Array): void {
  const { n, S, Y } = mem;
  const off = mem.head * n;
  let sy = 0, yy = 0;
  for (let i = 0; i < n; i++) {
    const si = x[i] - xPrev[i], yi = g[i] - gPrev[i];
    S[off + i] = si;
    Y[off + i] = yi;
    sy += si * yi;
    yy += yi * yi;
  }
  if (sy > 2.220446049250313e-16 * yy && yy > 0) {
    mem.rho[mem.head] = 1 / sy;
    mem.head = (mem.head + 1) % mem.m;
    if (mem.count < mem.m) mem.count++;
  }
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

function dotAt(a: Float64Array, aOff: number, b: Float64Array, n: number, bOff = 0): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

function axpyAt(alpha: number, a: Float64Array, aOff: number, y: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] += alpha * a[aOff + i];
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m || v !== v) m = v;
  }
  return m;
}

function allFinite(a: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

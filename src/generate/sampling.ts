// Discrete sampling for the generator: Walker/Vose alias tables (O(1) draws from a fixed distribution,
// one uniform per draw) and a Fenwick tree over integer weights (O(log n) draws from a distribution
// that changes as customers arrive and churn). Weights in the Fenwick tree are integers so that adding
// and removing a customer is exact: no floating-point residue can leave a churned customer selectable.

export interface AliasTable {
  readonly n: number;
  /** probability of keeping column i (else take alias[i]) */
  readonly prob: Float64Array;
  readonly alias: Int32Array;
}

/** Vose's alias method. Weights must be finite and non-negative with a positive sum. */
export function aliasTable(weights: ArrayLike<number>): AliasTable {
  const n = weights.length;
  if (n === 0) throw new RangeError('alias table needs at least one weight');
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} is ${w}; weights must be finite and >= 0`);
    sum += w;
  }
  if (!(sum > 0)) throw new RangeError('alias table weights sum to 0');
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = new Float64Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let ns = 0, nl = 0;
  for (let i = 0; i < n; i++) {
    scaled[i] = (weights[i] * n) / sum;
    if (scaled[i] < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[--nl];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  // what is left is 1 up to rounding
  while (nl > 0) { const l = large[--nl]; prob[l] = 1; alias[l] = l; }
  while (ns > 0) { const s = small[--ns]; prob[s] = 1; alias[s] = s; }
  return { n, prob, alias };
}

/** One draw with a uniform u in [0, 1). */
export function sampleAlias(table: AliasTable, u: number): number {
  const x = u * table.n;
  const i = x | 0;
  return x - i < table.prob[i] ? i : table.alias[i];
}

/**
 * Many alias tables over disjoint groups packed in two arrays: group g owns slots start[g]..start[g+1]-1,
 * and a draw returns the member stored in that slot (e.g. a product index within a category).
 */
export interface GroupedAlias {
  readonly start: Int32Array;
  readonly prob: Float64Array;
  /** member drawn when the slot is kept */
  readonly member: Int32Array;
  /** member drawn when the slot defers to its alias */
  readonly aliasMember: Int32Array;
}

/** members: group members listed group by group (start[g]..start[g+1]-1); weights per member index. */
export function groupedAlias(start: Int32Array, members: Int32Array, weights: ArrayLike<number>): GroupedAlias {
  const total = members.length;
  const prob = new Float64Array(total);
  const member = new Int32Array(total);
  const aliasMember = new Int32Array(total);
  for (let g = 0; g + 1 < start.length; g++) {
    const a = start[g], b = start[g + 1];
    if (b === a) continue;
    const w = new Float64Array(b - a);
    for (let k = a; k < b; k++) w[k - a] = weights[members[k]];
    const t = aliasTable(w);
    for (let k = a; k < b; k++) {
      prob[k] = t.prob[k - a];
      member[k] = members[k];
      aliasMember[k] = members[a + t.alias[k - a]];
    }
  }
  return { start, prob, member, aliasMember };
}

export function sampleGroup(g: GroupedAlias, group: number, u: number): number {
  const a = g.start[group];
  const x = u * (g.start[group + 1] - a);
  const i = x | 0;
  const k = a + i;
  return x - i < g.prob[k] ? g.member[k] : g.aliasMember[k];
}

/** Fenwick (binary indexed) tree of non-negative integer weights, sampled in proportion to weight. */
export class WeightTree {
  readonly size: number;
  private readonly tree: Float64Array;
  private readonly weight: Float64Array;
  private readonly topStep: number;
  private sum = 0;

  constructor(size: number) {
    this.size = size;
    this.tree = new Float64Array(size + 1);
    this.weight = new Float64Array(size);
    let step = 1;
    while (step * 2 <= size) step *= 2;
    this.topStep = size === 0 ? 0 : step;
  }

  get total(): number {
    return this.sum;
  }

  /** Sets the weight of item i (an integer >= 0). */
  set(i: number, w: number): void {
    const delta = w - this.weight[i];
    if (delta === 0) return;
    this.weight[i] = w;
    this.sum += delta;
    for (let j = i + 1; j <= this.size; j += j & -j) this.tree[j] += delta;
  }

  /** The item whose cumulative range holds target, for an integer target in [0, total). */
  find(target: number): number {
    let pos = 0;
    let rest = target;
    for (let step = this.topStep; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.size && this.tree[next] <= rest) {
        pos = next;
        rest -= this.tree[next];
      }
    }
    return pos;
  }

  /** A draw in proportion to weight, with a uniform u in [0, 1); -1 when every weight is 0. */
  sample(u: number): number {
    if (this.sum <= 0) return -1;
    return this.find(Math.floor(u * this.sum));
  }
}

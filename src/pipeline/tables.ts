// Warehouse tables → typed arrays for the models: customer features as a Matrix, interactions as CSR.
// Ids are mapped once to dense indices; the maps travel with the models.
import { sqlString, type Warehouse } from '../data/warehouse.js';
import { buildFeatures, CUSTOMER_FEATURES, type FeatureRequest, type FeatureSummary } from '../features/build.js';
import { matrix, type Matrix } from '../ml/matrix.js';
import { csrFromTriplets, type Csr } from '../ml/sparse.js';
import type { Holdout } from '../models/recommendations.js';

export interface CustomerTable {
  ids: string[];
  /** customers × CUSTOMER_FEATURES, NULLs as NaN (the models decide how to impute) */
  features: Matrix;
  /** 0/1 churn label per customer (meaningful when the window is observed) */
  churned: Uint8Array;
}

/** Reads the `customer_features` temp table built by buildFeatures. */
export async function readCustomers(warehouse: Warehouse): Promise<CustomerTable> {
  const cols = CUSTOMER_FEATURES.map((c) => `coalesce(${c}, 'NaN'::DOUBLE) AS ${c}`).join(', ');
  const reader = await warehouse.connection.runAndReadAll(`SELECT customer_id, churned, ${cols} FROM customer_features ORDER BY customer_id`);
  const n = reader.currentRowCount;
  const ids: string[] = new Array(n);
  const churned = new Uint8Array(n);
  const features = matrix(n, CUSTOMER_FEATURES.length);
  const columns = reader.getColumnsJS();
  for (let i = 0; i < n; i++) {
    ids[i] = String(columns[0][i]);
    churned[i] = Number(columns[1][i]);
  }
  for (let j = 0; j < CUSTOMER_FEATURES.length; j++) {
    const col = columns[j + 2];
    for (let i = 0; i < n; i++) features.data[i * CUSTOMER_FEATURES.length + j] = Number(col[i]);
  }
  return { ids, features, churned };
}

export interface IdIndex {
  ids: string[];
  index: Map<string, number>;
}

export function idIndex(ids: string[]): IdIndex {
  return { ids, index: new Map(ids.map((id, i) => [id, i])) };
}

/** The indices of those of `ids` that the index knows (others cannot appear in its results anyway). */
export function knownIndices(index: IdIndex, ids: Iterable<string>): number[] {
  const out: number[] = [];
  for (const id of ids) {
    const i = index.index.get(id);
    if (i !== undefined) out.push(i);
  }
  return out;
}

export interface Interactions {
  users: IdIndex;
  items: IdIndex;
  /** users × items, value = distinct orders containing the product */
  matrix: Csr;
}

/**
 * Reads the `interactions` and `holdout` temp tables built by buildFeatures as CSR matrices over the
 * customers of `customer_features` (`users`, in its customer_id order) and the products of
 * `interactions` (ordered by product_id). The ids are mapped to indices in SQL, so only integers
 * cross into JavaScript: reading strings for every pair cost more than building the tables.
 */
export async function readInteractionTables(warehouse: Warehouse, users: IdIndex): Promise<{ interactions: Interactions; holdout: Csr }> {
  await warehouse.run(`
    CREATE OR REPLACE TEMP TABLE item_index AS
    SELECT product_id, (row_number() OVER (ORDER BY product_id) - 1)::INTEGER AS i FROM (SELECT DISTINCT product_id FROM interactions)`);
  await warehouse.run(`
    CREATE OR REPLACE TEMP TABLE user_index AS
    SELECT customer_id, (row_number() OVER (ORDER BY customer_id) - 1)::INTEGER AS u FROM customer_features`);
  const itemIds = (await warehouse.query<{ product_id: string }>('SELECT product_id FROM item_index ORDER BY i')).map((r) => String(r.product_id));
  const items = idIndex(itemIds);
  const read = async (source: string): Promise<Csr> => {
    const result = await warehouse.connection.run(
      `SELECT u.u, it.i, x.orders::DOUBLE AS v FROM (${source}) x JOIN user_index u USING (customer_id) JOIN item_index it USING (product_id) ORDER BY u.u, it.i`,
    );
    // the rows come sorted by (user, item), one per pair: they are the CSR arrays already, so they go
    // straight into typed arrays (2-3x faster than arrays of numbers and a triplet sort at 1M pairs)
    let rows = new Int32Array(1 << 16), cols = new Int32Array(1 << 16), vals = new Float32Array(1 << 16);
    let n = 0, sorted = true;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      const u = chunk.getColumnVector(0), i = chunk.getColumnVector(1), v = chunk.getColumnVector(2), m = chunk.rowCount;
      if (n + m > rows.length) {
        const size = Math.max(2 * rows.length, n + m);
        rows = grow(rows, new Int32Array(size));
        cols = grow(cols, new Int32Array(size));
        vals = grow(vals, new Float32Array(size));
      }
      for (let k = 0; k < m; k++, n++) {
        rows[n] = u.getItem(k) as number;
        cols[n] = i.getItem(k) as number;
        vals[n] = v.getItem(k) as number;
        if (n > 0 && (rows[n] < rows[n - 1] || (rows[n] === rows[n - 1] && cols[n] <= cols[n - 1]))) sorted = false;
      }
    }
    const nRows = users.ids.length, nCols = itemIds.length;
    if (!sorted) return csrFromTriplets(nRows, nCols, rows.subarray(0, n), cols.subarray(0, n), vals.subarray(0, n));
    const indptr = new Int32Array(nRows + 1);
    for (let k = 0; k < n; k++) indptr[rows[k] + 1]++;
    for (let r = 0; r < nRows; r++) indptr[r + 1] += indptr[r];
    return { format: 'csr', nRows, nCols, indptr, indices: cols.slice(0, n), data: vals.slice(0, n) };
  };
  const matrix = await read('SELECT customer_id, product_id, orders FROM interactions');
  const holdout = await read('SELECT customer_id, product_id, 1 AS orders FROM holdout');
  return { interactions: { users, items, matrix }, holdout };
}

/**
 * A customer's purchases in the whole warehouse: distinct orders per product, the same measure as the
 * training interactions (returns and credit notes are not purchases).
 */
export async function readCustomerPurchases(warehouse: Warehouse, customerId: string): Promise<Map<string, number>> {
  const rows = await warehouse.query<{ product_id: string; orders: number }>(
    `SELECT product_id, count(DISTINCT order_id)::DOUBLE AS orders FROM transactions
     WHERE customer_id = ${sqlString(customerId)} AND NOT is_return GROUP BY product_id ORDER BY product_id`,
  );
  return new Map(rows.map((r) => [String(r.product_id), Number(r.orders)]));
}

/** `to` with `from` copied into its start. */
function grow<T extends Int32Array | Float32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * Product names by id (the most common name of each product), for reports and recommendations. A tie
 * goes to the smallest name, not to whichever line came first: the same sales given as files in another
 * order give the same names, and the same model artifact.
 */
export async function readProductNames(warehouse: Warehouse): Promise<Map<string, string>> {
  const rows = await warehouse.query<{ product_id: string; name: string | null }>(
    `SELECT product_id, arg_min(product_name, (-n, product_name)) AS name FROM (
       SELECT product_id, product_name, count(*) AS n FROM transactions WHERE product_name IS NOT NULL AND product_name <> '' GROUP BY ALL
     ) GROUP BY product_id`,
  );
  return new Map(rows.filter((r) => r.name).map((r) => [r.product_id, String(r.name).trim()]));
}

export interface Snapshot {
  features: FeatureSummary;
  customers: CustomerTable;
  users: IdIndex;
  interactions: Interactions;
  holdout: Holdout;
}

/** Features, interactions and holdout as of one cutoff, read into arrays. */
export async function snapshot(warehouse: Warehouse, request: FeatureRequest): Promise<Snapshot> {
  const features = await buildFeatures(warehouse, request);
  const customers = await readCustomers(warehouse);
  const users = idIndex(customers.ids);
  const { interactions, holdout: m } = await readInteractionTables(warehouse, users);
  const hUsers: number[] = [];
  const hItems: Int32Array[] = [];
  for (let u = 0; u < m.nRows; u++) {
    if (m.indptr[u + 1] > m.indptr[u]) {
      hUsers.push(u);
      hItems.push(m.indices.slice(m.indptr[u], m.indptr[u + 1]));
    }
  }
  return { features, customers, users, interactions, holdout: { users: Int32Array.from(hUsers), items: hItems } };
}

// Warehouse tables → typed arrays for the models: customer features as a Matrix, interactions as CSR.
// Ids are mapped once to dense indices; the maps travel with the models.
import type { Warehouse } from '../data/warehouse.js';
import { CUSTOMER_FEATURES } from '../features/build.js';
import { matrix, type Matrix } from '../ml/matrix.js';
import { csrFromTriplets, type Csr } from '../ml/sparse.js';

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

export interface Interactions {
  users: IdIndex;
  items: IdIndex;
  /** users × items, value = distinct orders containing the product */
  matrix: Csr;
}

/** Reads customer × product pairs from a table/query with columns customer_id, product_id, orders. */
export async function readInteractions(warehouse: Warehouse, source: string, users: IdIndex, items?: IdIndex): Promise<Interactions> {
  const reader = await warehouse.connection.runAndReadAll(`SELECT customer_id, product_id, orders FROM (${source}) ORDER BY customer_id, product_id`);
  const n = reader.currentRowCount;
  const [cust, prod, orders] = reader.getColumnsJS();
  let itemIndex = items;
  if (!itemIndex) {
    const seen = [...new Set(prod.map(String))].sort();
    itemIndex = idIndex(seen);
  }
  const rows: number[] = [];
  const colsArr: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = users.index.get(String(cust[i]));
    const it = itemIndex.index.get(String(prod[i]));
    if (u === undefined || it === undefined) continue;
    rows.push(u);
    colsArr.push(it);
    vals.push(Number(orders[i]));
  }
  const m = csrFromTriplets(users.ids.length, itemIndex.ids.length, Int32Array.from(rows), Int32Array.from(colsArr), Float32Array.from(vals));
  return { users, items: itemIndex, matrix: m };
}

/** Product names by id (the most common name of each product), for reports and recommendations. */
export async function readProductNames(warehouse: Warehouse): Promise<Map<string, string>> {
  const rows = await warehouse.query<{ product_id: string; name: string | null }>(
    `SELECT product_id, mode(product_name) AS name FROM transactions GROUP BY product_id`,
  );
  return new Map(rows.filter((r) => r.name).map((r) => [r.product_id, String(r.name).trim()]));
}

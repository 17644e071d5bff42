// Features as of a cutoff date, in SQL on the warehouse.
// The cutoff day belongs to the past: the past is every line with ts < cutoff + 1 day; the label window is
// (cutoff, cutoff + horizon] in whole days. Nothing after the cutoff feeds a feature (no leakage).
import { parseDay } from '../dates.js';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { sqlInstant, sqlString, type Warehouse } from '../data/warehouse.js';

export interface FeatureRequest {
  /** YYYY-MM-DD; default: the date of the last line minus the horizon */
  asOf?: string;
  horizonDays: number;
  /**
   * An instant on the cutoff day (YYYY-MM-DDTHH:MM:SSZ): the past ends there, not at the day's end, so
   * scoring `--now` at 09:00 does not see that afternoon's orders. Its recent-activity windows end there too.
   */
  until?: string;
  /**
   * An instant the label window may not pass (YYYY-MM-DDTHH:MM:SSZ): train's look-back to a `--now` on the
   * window's last day, whose later sales are not known yet.
   */
  labelsUntil?: string;
  /** features.exchangeRates, checked against the data once per command (see checkExchangeRates) */
  exchangeRates?: CheckedRates;
}

declare const checkedAgainstTheData: unique symbol;
/**
 * Rates per upper-case currency code (amounts are added in the currency of rate 1) that checkExchangeRates
 * found a rate in for every currency of the data: only it makes them, so a command checks once, not once
 * per snapshot (each a pass over all transactions).
 */
export type CheckedRates = Readonly<Record<string, number>> & { readonly [checkedAgainstTheData]: true };

export interface FeatureSummary {
  cutoff: string;
  horizonDays: number;
  /** the label window, inclusive dates */
  window: { from: string; to: string };
  dataFrom: string;
  dataTo: string;
  /** the day of the data's last purchase, which the default cutoff follows */
  lastPurchase: string;
  /** false when the data's last purchase is before the window ends: churn labels then overstate churn */
  labelsComplete: boolean;
  customers: number;
  churned: number;
  churnRate: number;
  interactions: { pairs: number; users: number; items: number };
  holdout: { pairs: number; users: number; droppedNewItems: number };
}

/** The features a churn model reads, in this order (all numeric, computed as of the cutoff). */
export const CUSTOMER_FEATURES = [
  'recency_days', 'frequency', 'monetary', 'tenure_days', 'avg_order_value', 'avg_units_per_order', 'avg_lines_per_order',
  'distinct_products', 'returns_rate', 'mean_days_between_orders', 'orders_last_30d', 'orders_last_90d',
  'spend_last_90d', 'spend_prev_90d', 'active_months', 'days_since_prev_order', 'last_order_lines', 'credit_notes',
  'last_basket_retention',
] as const;

/** Days before the cutoff at which last_basket_retention's products are scored on who came back since. */
const RETENTION_LAG_DAYS = 60;

/**
 * The days of the data's first and last lines, and of its last purchase: the default cutoff follows the
 * last purchase, as a return is not one (a stray credit note months after the last sale would otherwise
 * move every cutoff past the sales).
 */
export async function dataSpan(warehouse: Warehouse): Promise<{ from: string; to: string; lastPurchase: string } | null> {
  const [row] = await warehouse.query<{ from: string | null; to: string | null; lastPurchase: string | null }>(
    `SELECT strftime(min(ts), '%Y-%m-%d') AS "from", strftime(max(ts), '%Y-%m-%d') AS "to",
            strftime(max(ts) FILTER (WHERE NOT is_return), '%Y-%m-%d') AS "lastPurchase" FROM transactions`,
  );
  return row.from && row.to ? { from: row.from, to: row.to, lastPurchase: row.lastPurchase ?? row.to } : null;
}

/**
 * features.exchangeRates once they cover the data: a currency of the data without a rate is refused, as
 * adding it unconverted is what the rates are there to stop. Undefined (no rates) stays undefined.
 * `ratesOf` says where the rates come from in that error (score uses the version's, not the setting).
 */
export async function checkExchangeRates(db: Warehouse, rates: Record<string, number> | undefined, ratesOf = 'features.exchangeRates'): Promise<CheckedRates | undefined> {
  if (rates === undefined) return undefined;
  const codes = Object.keys(rates);
  const unpriced = await db.query<{ currency: string; lines: number }>(
    `SELECT currency, count(*)::BIGINT AS lines FROM transactions
     WHERE currency IS NOT NULL AND upper(trim(currency)) NOT IN (${codes.length ? codes.map(sqlString).join(', ') : 'NULL'})
     GROUP BY currency ORDER BY lines DESC, currency`,
  );
  if (unpriced.length) {
    const named = unpriced.slice(0, 5).map((u) => `${JSON.stringify(u.currency)} (${u.lines.toLocaleString('en-US')} line${u.lines === 1 ? '' : 's'})`).join(', ');
    throw new FloyoError(
      `${ratesOf} has no rate for ${unpriced.length === 1 ? 'a currency' : `${unpriced.length} currencies`} of the data: ${named}` +
        `${unpriced.length > 5 ? ', …' : ''}; give each a rate to the currency of rate 1 (rates now: ${codes.length ? codes.map((c) => `${c} ${rates[c]}`).join(', ') : 'none'})`,
    );
  }
  return rates as CheckedRates;
}

/**
 * The transactions with their amounts in one currency: `transactions` itself without rates; with them,
 * each line's amount and refund times its currency's rate (a line without a currency is taken as it is).
 */
function pricedLines(rates: CheckedRates | undefined): string {
  if (rates === undefined) return 'transactions';
  const codes = Object.keys(rates);
  const rate = `CASE upper(trim(currency)) ${codes.map((c) => `WHEN ${sqlString(c)} THEN ${rates[c]}`).join(' ')} ELSE 1 END`;
  return `(SELECT * REPLACE (amount * ${rate} AS amount, refunded * ${rate} AS refunded) FROM transactions)`;
}

/**
 * Builds the temp tables `customer_features` (one row per customer with a purchase in the past, with the
 * churn label), `interactions` (customer × product in the past) and `holdout` (new customer × product pairs
 * in the window, restricted to products seen in the past).
 */
export async function buildFeatures(warehouse: Warehouse, request: FeatureRequest): Promise<FeatureSummary> {
  const span = await dataSpan(warehouse);
  if (!span) throw new FloyoError(`the warehouse ${warehouse.path} holds no transactions yet; run \`floyo ingest\` first`, {}, NOT_FOUND_EXIT);
  const h = request.horizonDays;
  if (!Number.isInteger(h) || h <= 0) throw new FloyoError(`--horizon-days must be a positive whole number of days, got ${h}`);
  let cutoff = request.asOf;
  if (cutoff === undefined) {
    const [row] = await warehouse.query<{ d: string }>(`SELECT strftime(DATE ${sqlString(span.lastPurchase)} - INTERVAL ${h} DAY, '%Y-%m-%d') AS d`);
    cutoff = row.d;
  }
  parseDay(cutoff, '--as-of');
  if (cutoff < span.from) throw new FloyoError(`--as-of ${cutoff} is before the first transaction (${span.from}): there is no past to learn from`);

  const C = `DATE ${sqlString(cutoff)}`;
  if (request.until !== undefined && request.until.slice(0, 10) !== cutoff) {
    throw new Error(`buildFeatures: until ${request.until} is not on the cutoff day ${cutoff}`); // a caller's bug, not the user's
  }
  const pastEnd = request.until === undefined ? `(${C} + INTERVAL 1 DAY)` : `(${sqlInstant(request.until)} + INTERVAL 1 SECOND)`; // exclusive
  const windowEnd = request.labelsUntil === undefined
    ? `(${C} + INTERVAL ${h + 1} DAY)` // exclusive
    : `least(${C} + INTERVAL ${h + 1} DAY, ${sqlInstant(request.labelsUntil)} + INTERVAL 1 SECOND)`;
  const db = warehouse;
  const lines = pricedLines(request.exchangeRates);

  // Purchases are orders with at least one non-return line; returns and refunds reduce net spend.
  // Sums are rounded to 1e-6: DuckDB adds doubles in parallel in no fixed order, and features (so models)
  // must be the same bit for bit on every run.
  await db.run(`
    CREATE OR REPLACE TEMP TABLE past_orders AS
    SELECT customer_id, order_id, min(ts) AS ts,
           round(sum(CASE WHEN NOT is_return THEN amount ELSE 0 END), 6) AS gross,
           round(sum(amount) - sum(refunded), 6) AS net,
           round(sum(CASE WHEN is_return THEN -amount ELSE 0 END) + sum(refunded), 6) AS returned,
           round(sum(CASE WHEN NOT is_return THEN quantity ELSE 0 END), 6) AS units,
           count(*) FILTER (WHERE NOT is_return) AS lines,
           bool_or(NOT is_return) AS is_purchase
    FROM ${lines}
    WHERE customer_id IS NOT NULL AND ts < ${pastEnd}
    GROUP BY customer_id, order_id`);

  // Every customer × product pair of the past, once: distinct products, the last basket and who bought
  // what before the retention lag are all read from it, not from the transactions again.
  await db.run(`
    CREATE OR REPLACE TEMP TABLE interactions AS
    SELECT customer_id, product_id, count(DISTINCT order_id)::DOUBLE AS orders, round(sum(quantity), 6) AS units,
           max(ts) AS last_ts, min(ts) AS first_ts
    FROM transactions
    WHERE customer_id IS NOT NULL AND NOT is_return AND ts < ${pastEnd}
    GROUP BY customer_id, product_id
    ORDER BY customer_id, product_id`);

  // What each customer bought in the window, read once for the churn labels and the holdout.
  await db.run(`
    CREATE OR REPLACE TEMP TABLE window_pairs AS
    SELECT DISTINCT customer_id, product_id FROM transactions
    WHERE customer_id IS NOT NULL AND NOT is_return AND ts >= ${pastEnd} AND ts < ${windowEnd}`);

  await db.run(`
    CREATE OR REPLACE TEMP TABLE customer_features AS
    WITH p AS (
      SELECT customer_id,
             max(ts) FILTER (WHERE is_purchase) AS last_ts,
             min(ts) FILTER (WHERE is_purchase) AS first_ts,
             count(*) FILTER (WHERE is_purchase) AS frequency,
             round(sum(net), 6) AS monetary,
             round(sum(gross), 6) AS gross,
             round(sum(returned), 6) AS returned,
             round(sum(units), 6) AS units,
             sum(lines) AS lines,
             count(*) FILTER (WHERE is_purchase AND ts >= ${pastEnd} - INTERVAL 30 DAY) AS orders_last_30d,
             count(*) FILTER (WHERE is_purchase AND ts >= ${pastEnd} - INTERVAL 90 DAY) AS orders_last_90d,
             round(coalesce(sum(net) FILTER (WHERE ts >= ${pastEnd} - INTERVAL 90 DAY), 0), 6) AS spend_last_90d,
             round(coalesce(sum(net) FILTER (WHERE ts >= ${pastEnd} - INTERVAL 180 DAY AND ts < ${pastEnd} - INTERVAL 90 DAY), 0), 6) AS spend_prev_90d,
             count(DISTINCT date_trunc('month', ts)) FILTER (WHERE is_purchase) AS active_months,
             count(*) FILTER (WHERE NOT is_purchase) AS credit_notes
      FROM past_orders GROUP BY customer_id HAVING count(*) FILTER (WHERE is_purchase) > 0
    ),
    last_order AS (
      SELECT customer_id, lines AS last_order_lines FROM (
        SELECT customer_id, lines, row_number() OVER (PARTITION BY customer_id ORDER BY ts DESC, order_id DESC) AS k
        FROM past_orders WHERE is_purchase) WHERE k = 1
    ),
    -- How often the buyers of each product came back, on the past alone: of the customers who bought it
    -- before L = cutoff − ${RETENTION_LAG_DAYS} days, the share who bought again in (L, cutoff], shrunk
    -- towards the shop's overall rate with 10 pseudo-customers. A customer's last basket scores the mean
    -- over its products (products first sold after L score the overall rate).
    lag_buyers AS (
      SELECT customer_id, product_id FROM interactions WHERE first_ts < ${pastEnd} - INTERVAL ${RETENTION_LAG_DAYS} DAY
    ),
    -- a customer's last purchase line and products, from the pairs: a pair's last_ts is its latest line
    pair_span AS (
      SELECT customer_id, max(last_ts) AS last_line_ts, count(*) AS distinct_products FROM interactions GROUP BY customer_id
    ),
    came_back AS (
      SELECT customer_id FROM pair_span WHERE last_line_ts >= ${pastEnd} - INTERVAL ${RETENTION_LAG_DAYS} DAY
    ),
    base AS (
      SELECT coalesce(avg((cb.customer_id IS NOT NULL)::DOUBLE), 0) AS rate
      FROM (SELECT DISTINCT customer_id FROM lag_buyers) b LEFT JOIN came_back cb USING (customer_id)
    ),
    product_rate AS (
      SELECT b.product_id, (count(cb.customer_id) + 10 * any_value(base.rate)) / (count(*) + 10) AS rate
      FROM lag_buyers b LEFT JOIN came_back cb USING (customer_id), base GROUP BY b.product_id
    ),
    last_basket AS (
      SELECT customer_id, round(avg(coalesce(r.rate, base.rate)), 12) AS last_basket_retention
      FROM (SELECT i.customer_id, i.product_id FROM interactions i JOIN pair_span s USING (customer_id) WHERE i.last_ts = s.last_line_ts) lp
      LEFT JOIN product_rate r USING (product_id), base
      GROUP BY customer_id
    ),
    prev AS (
      SELECT customer_id, max(ts) AS prev_ts FROM (
        SELECT customer_id, ts, row_number() OVER (PARTITION BY customer_id ORDER BY ts DESC) AS k
        FROM past_orders WHERE is_purchase) WHERE k = 2 GROUP BY customer_id
    ),
    future AS (SELECT DISTINCT customer_id FROM window_pairs)
    SELECT p.customer_id,
           date_diff('day', p.last_ts::DATE, ${C})::DOUBLE AS recency_days,
           p.frequency::DOUBLE AS frequency,
           p.monetary,
           date_diff('day', p.first_ts::DATE, ${C})::DOUBLE AS tenure_days,
           p.gross / p.frequency AS avg_order_value,
           p.units / p.frequency AS avg_units_per_order,
           p.lines / p.frequency AS avg_lines_per_order,
           coalesce(pr.distinct_products, 0)::DOUBLE AS distinct_products,
           CASE WHEN p.gross > 0 THEN least(p.returned / p.gross, 1.0) ELSE 0 END AS returns_rate,
           CASE WHEN p.frequency > 1 THEN date_diff('minute', p.first_ts, p.last_ts) / 1440.0 / (p.frequency - 1) END AS mean_days_between_orders,
           p.orders_last_30d::DOUBLE AS orders_last_30d,
           p.orders_last_90d::DOUBLE AS orders_last_90d,
           p.spend_last_90d,
           p.spend_prev_90d,
           p.active_months::DOUBLE AS active_months,
           CASE WHEN prev.prev_ts IS NOT NULL THEN date_diff('day', prev.prev_ts::DATE, ${C})::DOUBLE END AS days_since_prev_order,
           lo.last_order_lines::DOUBLE AS last_order_lines,
           p.credit_notes::DOUBLE AS credit_notes,
           lb.last_basket_retention,
           p.first_ts, p.last_ts,
           (f.customer_id IS NULL)::INTEGER AS churned
    FROM p
    LEFT JOIN prev USING (customer_id)
    LEFT JOIN last_order lo USING (customer_id)
    LEFT JOIN last_basket lb USING (customer_id)
    LEFT JOIN pair_span pr USING (customer_id)
    LEFT JOIN future f USING (customer_id)
    ORDER BY p.customer_id`);

  // Holdout: what a customer bought in the window that they had not bought before; products the past never
  // saw cannot be recommended by any model, so they are dropped (and counted).
  await db.run(`
    CREATE OR REPLACE TEMP TABLE holdout_all AS
    SELECT w.customer_id, w.product_id
    FROM window_pairs w
    WHERE w.customer_id IN (SELECT customer_id FROM customer_features)
      AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = w.customer_id AND i.product_id = w.product_id)`);
  await db.run(`
    CREATE OR REPLACE TEMP TABLE holdout AS
    SELECT * FROM holdout_all WHERE product_id IN (SELECT DISTINCT product_id FROM interactions) ORDER BY customer_id, product_id`);

  const [c] = await db.query<{ customers: number; churned: number }>(
    `SELECT count(*)::BIGINT AS customers, coalesce(sum(churned), 0)::BIGINT AS churned FROM customer_features`,
  );
  const [i] = await db.query<{ pairs: number; users: number; items: number }>(
    `SELECT count(*)::BIGINT AS pairs, count(DISTINCT customer_id)::BIGINT AS users, count(DISTINCT product_id)::BIGINT AS items FROM interactions`,
  );
  const [ho] = await db.query<{ pairs: number; users: number; all_pairs: number }>(
    `SELECT (SELECT count(*) FROM holdout)::BIGINT AS pairs, (SELECT count(DISTINCT customer_id) FROM holdout)::BIGINT AS users, ` +
      `(SELECT count(*) FROM holdout_all)::BIGINT AS all_pairs`,
  );
  const [w] = await db.query<{ from: string; to: string }>(
    `SELECT strftime(${C} + INTERVAL 1 DAY, '%Y-%m-%d') AS "from", strftime(${C} + INTERVAL ${h} DAY, '%Y-%m-%d') AS "to"`,
  );
  return {
    cutoff,
    horizonDays: h,
    window: w,
    dataFrom: span.from,
    dataTo: span.to,
    lastPurchase: span.lastPurchase,
    labelsComplete: w.to <= span.lastPurchase,
    customers: c.customers,
    churned: c.churned,
    churnRate: c.customers ? c.churned / c.customers : 0,
    interactions: i,
    holdout: { pairs: ho.pairs, users: ho.users, droppedNewItems: ho.all_pairs - ho.pairs },
  };
}

type FeatureTable = 'customer_features' | 'interactions' | 'holdout';

/** Counts and days are DOUBLE in the tables, as the models read them; a file gives them as the whole numbers they are. */
const WHOLE_NUMBERS: Record<FeatureTable, string[]> = {
  customer_features: [
    'recency_days', 'frequency', 'tenure_days', 'distinct_products', 'orders_last_30d', 'orders_last_90d',
    'active_months', 'days_since_prev_order', 'last_order_lines', 'credit_notes',
  ],
  interactions: ['orders'],
  holdout: [],
};

/** DuckDB's COPY options for an export named .parquet or .csv; another name is refused (before any work, by the CLI). */
export function exportFormat(path: string): string {
  const format = /\.parquet$/i.test(path) ? '(FORMAT parquet, COMPRESSION zstd)' : /\.csv$/i.test(path) ? '(FORMAT csv, HEADER true)' : null;
  if (!format) throw new FloyoError(`cannot tell the format of ${path}: name it .parquet or .csv`);
  return format;
}

/** Writes one of the feature tables to a .parquet or .csv file. */
export async function exportTable(warehouse: Warehouse, table: FeatureTable, path: string): Promise<void> {
  const format = exportFormat(path);
  const whole = WHOLE_NUMBERS[table];
  const rows = whole.length ? `(SELECT * REPLACE (${whole.map((c) => `${c}::BIGINT AS ${c}`).join(', ')}) FROM ${table})` : table;
  try {
    await warehouse.run(`COPY ${rows} TO ${sqlString(path)} ${format}`);
  } catch (err) {
    throw new FloyoError(`cannot write ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

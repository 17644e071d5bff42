import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorld, generateShop, HEADER, resolveShopOptions, type ShopOptions, type ShopStats } from '../../src/generate/shop.js';
import { CUSTOMER_TYPES, typeQuotas } from '../../src/generate/population.js';
import { csvField, formatPrice } from '../../src/generate/catalog.js';
import { FloyoError } from '../../src/errors.js';

// big enough for the statistics to be stable (about 130k rows), small enough to parse in well under a second
const SMALL: ShopOptions = { customers: 1200, products: 1200, orders: 7000, seed: 11, from: '2024-01-01', to: '2025-12-31' };

async function generateText(options: ShopOptions): Promise<{ text: string; stats: ShopStats }> {
  const chunks: Buffer[] = [];
  const stats = await generateShop(options, (chunk) => { chunks.push(Buffer.from(chunk)); });
  return { text: Buffer.concat(chunks).toString('utf8'), stats };
}

/** A strict RFC 4180 parser: quoted fields may hold commas, doubled quotes and newlines; nothing else. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error(`unterminated quote at ${i}`);
        field += text.slice(i, q);
        if (text[q + 1] === '"') { field += '"'; i = q + 2; } else { i = q + 1; break; }
      }
      if (i < n && text[i] !== ',' && text[i] !== '\n') throw new Error(`text after a closing quote at ${i}`);
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n') j++;
      field = text.slice(i, j);
      if (field.includes('"')) throw new Error(`bare quote in an unquoted field at ${i}: ${field}`);
      i = j;
    }
    row.push(field);
    if (i >= n || text[i] === '\n') { rows.push(row); row = []; }
    i++;
  }
  return rows;
}

interface Line { invoice: string; credit: boolean; code: string; description: string; quantity: number; date: string; day: number; price: number; customer: number; country: string }

const NON_PRODUCT_CODES = new Set(['POST', 'DOT', 'C2', 'M']);
const DAY_MS = 86_400_000;

function toLines(rows: string[][]): Line[] {
  return rows.slice(1).map((r, k) => {
    assert.equal(r.length, 8, `row ${k + 2} has ${r.length} fields: ${r.join('|')}`);
    const [invoice, code, description, quantity, date, price, customer, country] = r;
    assert.match(invoice, /^C?\d{6,}$/, `row ${k + 2} InvoiceNo`);
    assert.ok(/^\d{5}[A-Z]?$/.test(code) || NON_PRODUCT_CODES.has(code), `row ${k + 2} StockCode ${code}`);
    assert.match(quantity, /^-?[1-9]\d*$/, `row ${k + 2} Quantity`);
    assert.match(date, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:00$/, `row ${k + 2} InvoiceDate`);
    assert.match(price, /^\d+\.\d{1,2}$/, `row ${k + 2} UnitPrice`);
    assert.match(customer, /^\d{5,}$/, `row ${k + 2} CustomerID`);
    assert.ok(description.length > 0 && country.length > 0, `row ${k + 2} Description/Country`);
    const ms = Date.parse(date.replace(' ', 'T') + 'Z');
    assert.ok(Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19).replace('T', ' ') === date, `row ${k + 2} date ${date} is real`);
    const credit = invoice.startsWith('C');
    const q = Number(quantity);
    assert.equal(q < 0, credit, `row ${k + 2}: negative quantity exactly on C-invoices`);
    assert.ok(Number(price) > 0, `row ${k + 2} price > 0`);
    return { invoice, credit, code, description, quantity: q, date, day: Math.floor(ms / DAY_MS), price: Number(price), customer: Number(customer), country };
  });
}

let cached: Promise<{ text: string; stats: ShopStats; lines: Line[] }> | undefined;
function small() {
  cached ??= generateText(SMALL).then(({ text, stats }) => ({ text, stats, lines: toLines(parseCsv(text)) }));
  return cached;
}

const isProduct = (l: Line) => /^\d{5}/.test(l.code);

test('the same seed gives byte-identical output; another seed gives another', async () => {
  const opts: ShopOptions = { customers: 200, products: 150, orders: 1500, seed: 5 };
  const a = await generateText(opts);
  const b = await generateText(opts);
  const c = await generateText({ ...opts, seed: 6 });
  assert.equal(a.text, b.text);
  assert.notEqual(a.text, c.text);
  assert.deepEqual(a.stats, b.stats);
  // the catalogue depends on the seed, not on how many orders are drawn
  const w1 = buildWorld(opts), w2 = buildWorld({ ...opts, orders: 3000 });
  assert.deepEqual(w1.catalog.code, w2.catalog.code);
  assert.deepEqual(w1.catalog.description, w2.catalog.description);
});

test('header and every row parse with valid types; rows are in InvoiceDate order within the span', async () => {
  const { text, lines } = await small();
  assert.equal(text.slice(0, text.indexOf('\n')), HEADER);
  assert.ok(text.endsWith('\n'));
  for (let k = 1; k < lines.length; k++) assert.ok(lines[k - 1].date <= lines[k].date, `row ${k + 2} goes back in time`);
  assert.ok(lines[0].date >= '2024-01-01' && lines[lines.length - 1].date <= '2025-12-31 23:59:00');
  // an invoice is one customer at one time, like the real data
  const byInvoice = new Map<string, string>();
  for (const l of lines) {
    const key = `${l.customer}|${l.date}|${l.country}`;
    const seen = byInvoice.get(l.invoice);
    if (seen === undefined) byInvoice.set(l.invoice, key);
    else assert.equal(seen, key, `invoice ${l.invoice} mixes customers or times`);
  }
});

test('descriptions with commas and quotes are quoted per RFC 4180', async () => {
  const { text, lines } = await small();
  const withComma = lines.find((l) => l.description.includes(','));
  const withQuote = lines.find((l) => l.description.includes('"'));
  assert.ok(withComma, 'some description holds a comma');
  assert.ok(withQuote, 'some description holds a double quote');
  assert.ok(text.includes(`,"${withComma.description}",`), 'a comma makes the field quoted');
  assert.ok(text.includes(`,"${withQuote.description.replace(/"/g, '""')}",`), 'a quote is doubled inside a quoted field');
  // by hand, the two rules
  assert.equal(csvField('PAPER CRAFT , LITTLE BIRDIE'), '"PAPER CRAFT , LITTLE BIRDIE"');
  assert.equal(csvField('SET OF 4 "LOVE" COASTERS'), '"SET OF 4 ""LOVE"" COASTERS"');
  assert.equal(csvField('PLAIN NAME '), 'PLAIN NAME ');
  assert.deepEqual(parseCsv('a,"b,c","d""e"\n'), [['a', 'b,c', 'd"e']]);
  assert.throws(() => parseCsv('a,b"c\n'), /bare quote/);
  // prices as the UCI data writes them
  assert.deepEqual([formatPrice(18), formatPrice(2.1), formatPrice(2.55), formatPrice(0.42)], ['18.0', '2.1', '2.55', '0.42']);
});

test('counts reconcile: exactly --orders purchase invoices, every customer orders, stats match the file', async () => {
  const { stats, lines } = await small();
  const purchases = new Set(lines.filter((l) => !l.credit).map((l) => l.invoice));
  const credits = new Set(lines.filter((l) => l.credit).map((l) => l.invoice));
  assert.equal(purchases.size, SMALL.orders);
  assert.equal(stats.orders, SMALL.orders);
  assert.equal(stats.rows, lines.length);
  assert.equal(stats.returns, credits.size);
  assert.equal(stats.returnLines, lines.filter((l) => l.credit).length);
  assert.equal(stats.nonProductLines, lines.filter((l) => !isProduct(l)).length);
  assert.equal(new Set(lines.map((l) => l.customer)).size, SMALL.customers);
  assert.equal(stats.customers, SMALL.customers);
  assert.equal(stats.productsSold, new Set(lines.filter(isProduct).map((l) => l.code)).size);
  // invoice numbers rise with time and are unique
  const numbers = [...new Set(lines.map((l) => l.invoice))].map((i) => Number(i.replace('C', '')));
  for (let k = 1; k < numbers.length; k++) assert.ok(numbers[k] > numbers[k - 1]);
  // non-product lines are a small share, as in the UCI data (about 0.5%)
  assert.ok(stats.nonProductLines > 0 && stats.nonProductLines / stats.rows < 0.02, `${stats.nonProductLines} non-product lines`);
});

test('ground truth: customer types in the configured shares; churn counts add up', async () => {
  const { stats } = await small();
  const quotas = typeQuotas(SMALL.customers);
  CUSTOMER_TYPES.forEach((t, k) => {
    assert.equal(stats.groundTruth.types[t.key].customers, quotas[k]);
    assert.ok(Math.abs(quotas[k] - t.share * SMALL.customers) < 1);
  });
  const sum = Object.values(stats.groundTruth.types).reduce((a, t) => a + t.churned, 0);
  assert.equal(stats.groundTruth.churned, sum);
  const churnShare = (key: 'regular' | 'occasional' | 'oneOff') => stats.groundTruth.types[key].churned / stats.groundTruth.types[key].customers;
  assert.ok(churnShare('regular') < churnShare('occasional'), 'occasional buyers churn more than regulars');
  assert.ok(churnShare('oneOff') > 0.95, 'one-off buyers stop after one order');
});

test('product popularity is heavy-tailed: the top 10% of products take well over a third of lines', async () => {
  const { lines } = await small();
  const counts = new Map<string, number>();
  let total = 0;
  for (const l of lines) if (isProduct(l) && !l.credit) { counts.set(l.code, (counts.get(l.code) ?? 0) + 1); total++; }
  const sorted = [...counts.values()].sort((a, b) => b - a);
  const top = Math.ceil(SMALL.products * 0.1);
  const share = sorted.slice(0, top).reduce((a, b) => a + b, 0) / total;
  assert.ok(share > 0.38, `top 10% share ${share.toFixed(3)}`); // UCI Online Retail: 0.456
  // and the tail is long: the median product sells far less than the top one
  assert.ok(sorted[0] > 10 * sorted[Math.floor(sorted.length / 2)], `top ${sorted[0]} vs median ${sorted[Math.floor(sorted.length / 2)]}`);
});

test('customer types differ in frequency, basket size and spend as configured', async () => {
  const { lines } = await small();
  const world = buildWorld(SMALL);
  const pop = world.population;
  const D = world.calendar.days;
  const indexOf = new Map<number, number>();
  for (let i = 0; i < pop.count; i++) indexOf.set(pop.id[i], i);

  const orders = new Map<string, { customer: number; lines: number; value: number }>();
  for (const l of lines) {
    if (l.credit || !isProduct(l)) continue;
    const o = orders.get(l.invoice) ?? { customer: l.customer, lines: 0, value: 0 };
    o.lines++;
    o.value += l.quantity * l.price;
    orders.set(l.invoice, o);
  }
  const perCustomer = new Int32Array(pop.count);
  const byType = CUSTOMER_TYPES.map(() => ({ orders: 0, lines: 0, value: 0, repeats: 0, days: 0 }));
  for (const o of orders.values()) {
    const i = indexOf.get(o.customer)!;
    perCustomer[i]++;
    const t = byType[pop.type[i]];
    t.orders++; t.lines += o.lines; t.value += o.value;
  }
  for (let i = 0; i < pop.count; i++) {
    const activeDays = Math.min(pop.end[i], D) - pop.arrival[i];
    if (activeDays < 30) continue;
    byType[pop.type[i]].repeats += perCustomer[i] - 1;
    byType[pop.type[i]].days += activeDays;
  }
  const [regular, wholesaler, occasional, oneOff] = CUSTOMER_TYPES.map((t) => t.key);
  const k = (key: string) => CUSTOMER_TYPES.findIndex((t) => t.key === key);
  const frequency = (key: string) => byType[k(key)].repeats / byType[k(key)].days;
  const basket = (key: string) => byType[k(key)].lines / byType[k(key)].orders;
  const spend = (key: string) => byType[k(key)].value / byType[k(key)].orders;

  // repeat frequency: measured ratios within 40% of the configured ones
  const cfg = (key: string) => CUSTOMER_TYPES[k(key)];
  for (const [a, b] of [[regular, occasional], [wholesaler, occasional], [regular, wholesaler]]) {
    const measured = frequency(a) / frequency(b);
    const configured = cfg(a).frequency / cfg(b).frequency;
    assert.ok(measured > configured / 1.4 && measured < configured * 1.4, `frequency ${a}/${b}: ${measured.toFixed(2)} vs ${configured.toFixed(2)}`);
  }
  // one-off buyers order exactly once
  for (let i = 0; i < pop.count; i++) if (CUSTOMER_TYPES[pop.type[i]].key === oneOff) assert.equal(perCustomer[i], 1);
  // basket size: mean lines per order follow the configured log-normal medians
  const expectedLines = (key: string) => cfg(key).basketLines * Math.exp((cfg(key).basketSigma ** 2) / 2);
  for (const [a, b] of [[wholesaler, occasional], [regular, occasional], [wholesaler, regular]]) {
    const measured = basket(a) / basket(b);
    const configured = expectedLines(a) / expectedLines(b);
    assert.ok(measured > configured / 1.35 && measured < configured * 1.35, `basket ${a}/${b}: ${measured.toFixed(2)} vs ${configured.toFixed(2)}`);
  }
  // spend per order: wholesalers far above regulars, regulars above occasional buyers
  assert.ok(spend(wholesaler) > 3 * spend(regular), `spend wholesaler ${spend(wholesaler).toFixed(0)} vs regular ${spend(regular).toFixed(0)}`);
  assert.ok(spend(regular) > 2 * spend(occasional), `spend regular ${spend(regular).toFixed(0)} vs occasional ${spend(occasional).toFixed(0)}`);
});

test('customers churn: nobody orders after their churn date, and churned customers go quiet', async () => {
  const { lines } = await small();
  const world = buildWorld(SMALL);
  const pop = world.population;
  const D = world.calendar.days;
  const firstDay = world.calendar.firstDay;
  const indexOf = new Map<number, number>();
  for (let i = 0; i < pop.count; i++) indexOf.set(pop.id[i], i);
  const lastOrderDay = new Int32Array(pop.count).fill(-1);
  const firstOrderDay = new Int32Array(pop.count).fill(D);
  for (const l of lines) {
    if (l.credit) continue;
    const i = indexOf.get(l.customer)!;
    const d = l.day - firstDay;
    assert.ok(d < pop.end[i], `customer ${l.customer} orders on day ${d}, after churning on day ${pop.end[i]}`);
    lastOrderDay[i] = Math.max(lastOrderDay[i], d);
    firstOrderDay[i] = Math.min(firstOrderDay[i], d);
  }
  for (let i = 0; i < pop.count; i++) assert.equal(firstOrderDay[i], pop.arrival[i], 'first order on the arrival day');
  // seen from the data alone: customers with orders but none in the last 90 days
  const quiet = [...lastOrderDay].filter((d) => d >= 0 && d < D - 90).length;
  assert.ok(quiet > 0.3 * pop.count, `${quiet} of ${pop.count} customers silent in the last 90 days`);
  // regulars who have not churned mostly ordered recently
  let activeRegulars = 0, recentRegulars = 0;
  for (let i = 0; i < pop.count; i++) {
    if (CUSTOMER_TYPES[pop.type[i]].key !== 'regular' || pop.end[i] < D || pop.arrival[i] > D - 180) continue;
    activeRegulars++;
    if (lastOrderDay[i] >= D - 90) recentRegulars++;
  }
  assert.ok(recentRegulars > 0.8 * activeRegulars, `${recentRegulars} of ${activeRegulars} active regulars ordered in the last 90 days`);
});

test('returns are C-invoices with negative quantities of products the customer bought earlier', async () => {
  const { lines, stats } = await small();
  const bought = new Map<string, number>(); // customer|code -> units bought so far
  const returned = new Map<string, number>();
  let credits = 0;
  for (const l of lines) {
    const key = `${l.customer}|${l.code}`;
    if (!l.credit) { bought.set(key, (bought.get(key) ?? 0) + l.quantity); continue; }
    credits++;
    assert.ok(isProduct(l), 'returns are of products');
    const total = (returned.get(key) ?? 0) - l.quantity;
    returned.set(key, total);
    assert.ok((bought.get(key) ?? 0) >= total, `customer ${l.customer} returns ${total} of ${l.code} but bought ${bought.get(key) ?? 0}`);
  }
  assert.ok(credits > 0);
  assert.ok(stats.returns > 10);
  assert.ok(credits / lines.length < 0.05, `returns are a small share: ${credits}/${lines.length}`);
});

test('seasonality: a November peak, a quiet weekend, closed on Christmas Day', async () => {
  const { lines } = await small();
  const byMonth = new Map<string, number>();
  const byWeekday = new Array(7).fill(0);
  for (const l of lines) {
    if (l.credit) continue;
    const month = l.date.slice(5, 7);
    byMonth.set(month, (byMonth.get(month) ?? 0) + 1);
    byWeekday[new Date(l.day * DAY_MS).getUTCDay()]++;
    assert.notEqual(l.date.slice(5, 10), '12-25', 'closed on Christmas Day');
  }
  const daysIn = (m: string) => ({ '02': 29 + 28, '04': 60, '06': 60, '09': 60, '11': 60 } as Record<string, number>)[m] ?? 62;
  const perDay = (m: string) => (byMonth.get(m) ?? 0) / daysIn(m);
  const ordinary = ['02', '03', '04', '05', '06', '07'].reduce((a, m) => a + perDay(m), 0) / 6;
  assert.ok(perDay('11') > 1.6 * ordinary, `November ${perDay('11').toFixed(0)}/day vs ${ordinary.toFixed(0)}/day`);
  assert.ok(byWeekday[4] > 1.6 * byWeekday[6], `Thursday ${byWeekday[4]} vs Saturday ${byWeekday[6]}`);
});

test('every product has its own name, at every catalogue size (colour variants add their colour)', () => {
  for (const products of [200, 1200, 20_000]) {
    const { catalog } = buildWorld({ customers: 10, products, orders: 10, seed: 3 });
    const byName = new Map<string, string>();
    for (let p = 0; p < catalog.products; p++) {
      const name = catalog.description[p].trimEnd();
      const other = byName.get(name);
      assert.equal(other, undefined, `${products} products: ${catalog.code[p]} and ${other} are both "${name}"`);
      byName.set(name, catalog.code[p]);
      assert.doesNotMatch(name, /\b(HANGING|JUMBO|VINTAGE)\b.*\b\1\b/, `a prefix the name says already: ${name}`);
    }
  }
});

test('co-purchase: products of one category share baskets far more often than chance', async () => {
  const { lines } = await small();
  const world = buildWorld(SMALL);
  const categoryOf = new Map(world.catalog.code.map((c, p) => [c, world.catalog.category[p]]));
  const baskets = new Map<string, number[]>();
  const lineShare = new Float64Array(world.catalog.categories);
  let productLines = 0;
  for (const l of lines) {
    if (l.credit || !isProduct(l)) continue;
    const c = categoryOf.get(l.code)!;
    (baskets.get(l.invoice) ?? baskets.set(l.invoice, []).get(l.invoice)!).push(c);
    lineShare[c]++;
    productLines++;
  }
  let same = 0, pairs = 0;
  for (const cats of baskets.values()) {
    for (let a = 0; a < cats.length; a++) for (let b = a + 1; b < cats.length; b++) { pairs++; if (cats[a] === cats[b]) same++; }
  }
  const chance = lineShare.reduce((s, n) => s + (n / productLines) ** 2, 0);
  const observed = same / pairs;
  assert.ok(observed > 4 * chance, `same-category pairs ${observed.toFixed(3)} vs ${chance.toFixed(3)} by chance`);
});

test('options are validated with errors that name the flag', () => {
  const base = { customers: 10, products: 10, orders: 100, seed: 1 };
  const bad: Array<[Partial<ShopOptions>, RegExp]> = [
    [{ customers: 0 }, /--customers must be positive/],
    [{ products: -5 }, /--products must be positive/],
    [{ orders: 2.5 }, /--orders must be a whole number/],
    [{ orders: 5 }, /--orders \(5\) must be at least --customers \(10\)/],
    [{ products: 100_000 }, /--products must be at most 89,999: stock codes are 5 digits/],
    [{ seed: -1 }, /--seed must be a whole number >= 0/],
    [{ from: '2024-02-30' }, /--from is not a calendar date/],
    [{ to: '31/12/2025' }, /--to must be a date as YYYY-MM-DD/],
    [{ from: '2025-06-01', to: '2025-01-01' }, /--to \(2025-01-01\) is before --from/],
    [{ from: '1990-01-01', to: '2025-01-01' }, /longer than 7320 days/],
  ];
  for (const [patch, message] of bad) {
    assert.throws(() => resolveShopOptions({ ...base, ...patch }), (e: unknown) => e instanceof FloyoError && message.test(e.message), JSON.stringify(patch));
  }
  assert.throws(() => buildWorld({ ...base, from: '2024-12-25', to: '2024-12-26' }), /only days the shop is closed/);
  assert.equal(resolveShopOptions(base).from, '2024-01-01');
});

test('small and odd shapes still work: one customer, one product, one day', async () => {
  const one = await generateText({ customers: 1, products: 1, orders: 3, seed: 2, from: '2025-03-05', to: '2025-03-05' });
  const lines = toLines(parseCsv(one.text));
  assert.equal(new Set(lines.filter((l) => !l.credit).map((l) => l.invoice)).size, 3);
  assert.ok(lines.every((l) => l.date.startsWith('2025-03-05')));
  assert.equal(one.stats.customers, 1);
});

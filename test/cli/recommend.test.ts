// floyo recommend and floyo similar through the CLI, on a version published by floyo train, with the
// business rules applied at query time and what customers bought checked against the warehouse.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { assertErrorStdout, floyo, tempDir, FIXTURES, type CliResult } from '../support/cli.js';
import type { TrainReport } from '../../src/cli/train.js';
import { register, type RecommendResult, type SimilarResult } from '../../src/cli/recommend.js';
import { openRegistry } from '../../src/models/registry.js';

const FIXTURE = join(FIXTURES, 'online_retail_sample.csv');

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => floyo(args, { env });

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

function assertOneLineError(r: CliResult, pattern: RegExp, code = 2): void {
  assert.equal(r.code, code, r.stderr);
  assertErrorStdout(r);
  assert.match(r.stderr, /^floyo: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

const ids = (r: RecommendResult | SimilarResult): string[] => ('recommendations' in r ? r.recommendations : r.similar).map((x) => x.productId);

function assertRanked(scores: number[]): void {
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i] <= scores[i - 1], `scores fall with the rank: ${scores.join(', ')}`);
}

describe('floyo recommend and floyo similar', () => {
  const home = tempDir();
  // a registry holding the trained version republished to serve ALS: on the small fixture ALS does not
  // beat popularity, so train serves popularity; this exercises the ALS path on genuinely fitted factors
  const alsEnv = { FLOYO_MODELS_LOCATION: join(tempDir(), 'models'), FLOYO_HOME: home };
  let report: TrainReport;
  let alsVersion: string;
  /** product ids each customer bought (not counting returns), from the warehouse */
  const bought = new Map<string, Set<string>>();
  /** the product most customers bought, and the customer with the most products among its buyers */
  let top: string;
  let customer: string;

  before(async () => {
    report = ok(await cli(['train', '--data', FIXTURE, '--home', home, '--json', '-q'])).json<TrainReport>();

    // the instance closed too, not left to the garbage collector: while it lives it holds the file, and a
    // recommend run meanwhile finds the warehouse locked (and falls back to training data, saying so)
    const instance = await DuckDBInstance.create(join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' });
    const db = await instance.connect();
    const rows = (await db.runAndReadAll(
      `SELECT DISTINCT customer_id, product_id FROM transactions WHERE customer_id IS NOT NULL AND NOT is_return`,
    )).getRowObjectsJS() as Array<{ customer_id: string; product_id: string }>;
    db.closeSync();
    instance.closeSync();
    const buyers = new Map<string, number>();
    for (const { customer_id: c, product_id: p } of rows) {
      if (!bought.has(c)) bought.set(c, new Set());
      bought.get(c)!.add(p);
      buyers.set(p, (buyers.get(p) ?? 0) + 1);
    }
    top = [...buyers].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
    assert.equal(top, '85123A', 'the fixture\'s most bought product (WHITE HANGING HEART T-LIGHT HOLDER)');
    customer = [...bought].filter(([, ps]) => ps.has(top)).sort((a, b) => b[1].size - a[1].size)[0][0];

    const source = openRegistry(join(home, 'models'));
    const target = openRegistry(alsEnv.FLOYO_MODELS_LOCATION);
    try {
      const { manifest, arrays, documents } = await source.load();
      const models = { ...manifest.models, recommendations: { ...manifest.models.recommendations, algorithm: 'implicit ALS (conjugate gradient)' } };
      const published = await target.publish(
        { models, data: manifest.data, report: manifest.report, gate: manifest.gate, arrays, documents: { ...documents, serving: { recommender: 'als' } } },
        { promote: true },
      );
      alsVersion = published.version;
    } finally {
      source.close();
      target.close();
    }
  });

  test('a known customer gets n products they never bought, from the current version; --include-bought lets them back', async () => {
    const [r, all, text, asFloat] = await Promise.all([
      cli(['recommend', customer, '-n', '10', '--home', home, '--json']),
      cli(['recommend', customer, '-n', '10', '--home', home, '--json', '--include-bought']),
      cli(['recommend', customer, '--home', home]),
      // as a spreadsheet or pandas writes the id: ingest stored it whole
      cli(['recommend', `${customer}.0`, '-n', '10', '--home', home, '--json']),
    ]);
    const out = ok(r).json<RecommendResult>();
    assert.equal(out.customer, customer);
    assert.equal(out.known, true);
    assert.equal(out.recommender, report.recommendations.model);
    assert.equal(out.modelVersion, report.modelVersion);
    assert.equal(out.recommendations.length, 10);
    assert.equal(new Set(ids(out)).size, 10);
    for (const id of ids(out)) assert.ok(!bought.get(customer)!.has(id), `${customer} already bought ${id}`);
    assertRanked(out.recommendations.map((x) => x.score));
    assert.ok(out.recommendations.every((x) => typeof x.productName === 'string' && x.productName.length > 0));

    assert.deepEqual(ok(asFloat).json<RecommendResult>(), out);

    const withBought = ok(all).json<RecommendResult>();
    assert.equal(withBought.filterAlreadyBought, false);
    assert.ok(ids(withBought).some((id) => bought.get(customer)!.has(id)), 'a heavy buyer of the top product gets bought products back');

    const lines = ok(text).stdout.split('\n');
    assert.match(lines[0], new RegExp(`^customer ${customer}: `));
    assert.match(lines[1], /^rank +product +name +score$/);
    assert.match(lines[3], new RegExp(`^ +1 +${out.recommendations[0].productId} +`));
  });

  test('config recommendations.count and includeBought set the defaults; -n and --no-include-bought override them', async () => {
    const env = { FLOYO_RECOMMENDATIONS_COUNT: '4', FLOYO_RECOMMENDATIONS_INCLUDE_BOUGHT: 'true' };
    const [byConfig, overridden] = await Promise.all([
      cli(['recommend', customer, '--home', home, '--json'], env),
      cli(['recommend', customer, '-n', '6', '--no-include-bought', '--home', home, '--json'], env),
    ]);
    const c = ok(byConfig).json<RecommendResult>();
    assert.equal(c.recommendations.length, 4);
    assert.equal(c.filterAlreadyBought, false);
    assert.ok(ids(c).some((id) => bought.get(customer)!.has(id)), 'a heavy buyer of the top product gets bought products back');
    const o = ok(overridden).json<RecommendResult>();
    assert.equal(o.recommendations.length, 6);
    assert.equal(o.filterAlreadyBought, true);
    for (const id of ids(o)) assert.ok(!bought.get(customer)!.has(id), `${customer} already bought ${id}`);
  });

  test('an unknown customer gets the popular products, known = false; exclusions from the config and --exclude apply', async () => {
    const [unknown, viaEnv, viaFlag] = await Promise.all([
      cli(['recommend', 'no-such-customer', '-n', '5', '--home', home, '--json']),
      cli(['recommend', 'no-such-customer', '-n', '5', '--home', home, '--json'], { FLOYO_RECOMMENDATIONS_EXCLUDE: JSON.stringify([top]) }),
      cli(['recommend', customer, '-n', '10', '--home', home, '--json', '--include-bought', '--exclude', top], alsEnv),
    ]);
    const u = ok(unknown).json<RecommendResult>();
    assert.deepEqual([u.known, u.recommender], [false, 'popularity']);
    assert.match(unknown.stderr, /^floyo: customer "no-such-customer" has no purchases model version \S+ knows: the most popular products are returned\n$/);
    assert.equal(u.recommendations.length, 5);
    assert.equal(u.recommendations[0].productId, top, 'the product most customers bought comes first');
    assertRanked(u.recommendations.map((x) => x.score));
    assert.ok(u.recommendations.every((x) => x.score > 0 && x.score <= 1), 'popularity scores are shares of customers');

    const e = ok(viaEnv).json<RecommendResult>();
    assert.deepEqual(e.excluded, [top]);
    assert.ok(!ids(e).includes(top));
    assert.deepEqual(ids(e).slice(0, 4), ids(u).slice(1, 5), 'the rest of the ranking moves up');

    const f = ok(viaFlag).json<RecommendResult>();
    assert.equal(viaFlag.stderr, '', 'a known product excluded: no warning');
    const typo = await cli(['recommend', customer, '-n', '3', '--home', home, '--json', '--exclude', 'NOPE123']);
    assert.equal(ok(typo).json<RecommendResult>().recommendations.length, 3);
    assert.match(typo.stderr, /^floyo: warning: --exclude "NOPE123": not a product model version \S+ knows, so nothing is excluded for it/);
    const empty = await cli(['recommend', '', '--home', home]);
    assert.deepEqual([empty.code, empty.stdout, empty.stderr], [2, '', 'floyo: the customer id is empty\n'], 'not the popular products for a customer called ""');
    // config ids are trimmed like --exclude's; one in another case is named with the id it likely means
    const lettered = u.recommendations.map((x) => x.productId).find((p) => /[A-Z]/.test(p));
    assert.ok(lettered, 'a popular product whose id has a letter');
    const loose = await cli(['recommend', 'no-such-customer', '-n', '5', '--home', home, '--json'], { FLOYO_RECOMMENDATIONS_EXCLUDE: JSON.stringify([` ${top} `, lettered.toLowerCase()]) });
    assert.ok(!ids(ok(loose).json<RecommendResult>()).includes(top), 'a padded id in the config still excludes');
    assert.match(loose.stderr, new RegExp(`^floyo: warning: config recommendations.exclude "${lettered.toLowerCase()}" \\(did you mean ${lettered}\\?\\): not a product`, 'm'));
    assert.equal(f.recommender, 'als');
    assert.equal(f.recommendations.length, 10);
    assert.ok(!ids(f).includes(top), '--exclude wins over --include-bought');
  });

  test('with ALS served: n unbought products outside --exclude, each explained by past purchases', async () => {
    const plain = ok(await cli(['recommend', customer, '-n', '10', '--json'], alsEnv)).json<RecommendResult>();
    assert.deepEqual([plain.recommender, plain.modelVersion, plain.known], ['als', alsVersion, true]);
    const excluded = ids(plain).slice(0, 2);
    const [r, text, unknown] = await Promise.all([
      cli(['recommend', customer, '-n', '10', '--explain', '--json', '--exclude', excluded.join(',')], alsEnv),
      cli(['recommend', customer, '-n', '3', '--explain'], alsEnv),
      cli(['recommend', 'no-such-customer', '-n', '3', '--json'], alsEnv),
    ]);
    const out = ok(r).json<RecommendResult>();
    assert.equal(out.recommender, 'als');
    assert.deepEqual(out.excluded, excluded);
    assert.equal(out.recommendations.length, 10);
    const mine = bought.get(customer)!;
    for (const id of ids(out)) {
      assert.ok(!mine.has(id), `${customer} already bought ${id}`);
      assert.ok(!excluded.includes(id), `${id} is excluded`);
    }
    assert.deepEqual(ids(out).slice(0, 8), ids(plain).slice(2, 10), 'excluding the top two moves the rest up');
    assertRanked(out.recommendations.map((x) => x.score));
    assert.ok(out.recommendations.some((x) => x.because!.length > 0));
    for (const rec of out.recommendations) {
      const because = rec.because!;
      assert.ok(because.length <= 3);
      for (const b of because) assert.ok(mine.has(b.productId), `an explanation names ${b.productId}, which ${customer} never bought`);
      assertRanked(because.map((b) => b.contribution));
      assert.ok(because.every((b) => b.contribution > 0));
      assert.ok(because.reduce((s, b) => s + b.contribution, 0) > 0);
      if (because.length) assert.match(rec.reason!, new RegExp(`^because they bought ${escape(because[0].productName ?? because[0].productId)}(, | and |$)`));
    }
    assert.match(ok(text).stdout, /^rank +product +name +score +why$/m);
    assert.match(text.stdout, /because they bought /);
    const u = ok(unknown).json<RecommendResult>();
    assert.deepEqual([u.known, u.recommender], [false, 'popularity'], 'no history: popular products even when ALS serves');
  });

  test('purchases since training count: not recommended again, a new customer is folded in; a busy home falls back to training data', async () => {
    const home2 = tempDir();
    cpSync(home, home2, { recursive: true });
    const env = { ...alsEnv, FLOYO_HOME: home2 };
    const before = ok(await cli(['recommend', customer, '-n', '10', '--json'], env)).json<RecommendResult>();
    assert.deepEqual([before.recommender, before.purchasesFrom, before.purchases], ['als', 'warehouse', bought.get(customer)!.size]);
    const [justBought, second] = ids(before);
    const newcomer = 'new-since-training';
    const later = join(home2, 'later.csv');
    writeFileSync(later, [
      'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
      `900001,${justBought},LATER PURCHASE,2,2011-12-10 09:00:00,1.25,${customer},United Kingdom`,
      `900002,${top},LATER PURCHASE,1,2011-12-10 10:00:00,2.55,${newcomer},United Kingdom`,
      `900002,${second},LATER PURCHASE,1,2011-12-10 10:00:00,1.95,${newcomer},United Kingdom`,
    ].join('\n') + '\n');
    ok(await cli(['ingest', later, '-q'], env));

    const after = ok(await cli(['recommend', customer, '-n', '10', '--json'], env)).json<RecommendResult>();
    assert.equal(after.purchases, before.purchases + 1);
    assert.ok(!ids(after).includes(justBought), `${customer} just bought ${justBought}`);
    assert.equal(after.recommendations.length, 10);
    const fresh = ok(await cli(['recommend', newcomer, '-n', '5', '--json', '--explain'], env)).json<RecommendResult>();
    assert.deepEqual([fresh.known, fresh.recommender, fresh.purchases], [true, 'als', 2]);
    assert.ok(!ids(fresh).includes(top) && !ids(fresh).includes(second), 'what the newcomer bought is left out');
    for (const rec of fresh.recommendations) for (const b of rec.because!) assert.ok([top, second].includes(b.productId));

    // another command holds the home: the query waits a little, then answers from the training data and says so
    writeFileSync(join(home2, 'lock.json'), JSON.stringify({ pid: process.pid, command: 'floyo train', host: hostname(), since: new Date().toISOString() }));
    const busy = await cli(['recommend', customer, '-n', '10', '--json'], env);
    rmSync(join(home2, 'lock.json'));
    const b = ok(busy).json<RecommendResult>();
    assert.match(busy.stderr, /^floyo: warning: the Floyo home .* is in use by `floyo train` .*; recommending from the purchases the model version was trained on\n$/);
    assert.deepEqual([b.purchasesFrom, b.purchases], ['training', before.purchases]);
    assert.deepEqual(ids(b), ids(before), 'the training data does not know the later purchase');
  });

  test('similar: products other than itself, most similar first; an unknown product is one clear line', async () => {
    const [r, text, unknown, nearName, noVersions, badN] = await Promise.all([
      cli(['similar', top, '-n', '5', '--home', home, '--json']),
      cli(['similar', top, '-n', '3', '--home', home]),
      cli(['similar', 'NO-SUCH-PRODUCT', '--home', home]),
      cli(['similar', '85123a', '--home', home]),
      cli(['recommend', customer, '--home', tempDir()]),
      cli(['recommend', customer, '-n', 'ten', '--home', home]),
    ]);
    const out = ok(r).json<SimilarResult>();
    assert.equal(out.product, top);
    assert.equal(out.modelVersion, report.modelVersion);
    assert.equal(out.similar.length, 5);
    assert.ok(!ids(out).includes(top));
    assert.equal(new Set(ids(out)).size, 5);
    assertRanked(out.similar.map((s) => s.similarity));
    assert.ok(out.similar.every((s) => s.similarity >= -1 && s.similarity <= 1));
    assert.match(ok(text).stdout, new RegExp(`^products similar to .*\\(${top}\\)`));
    // nothing to answer with: exit 1
    assertOneLineError(unknown, /product "NO-SUCH-PRODUCT" is not in model version .*; product ids are the product_id column/, 1);
    assertOneLineError(nearName, /product "85123a" is not in model version .*; did you mean 85123A \(WHITE HANGING HEART T-LIGHT HOLDER\)\?$/m, 1);
    assertOneLineError(noVersions, /^floyo: no model versions yet; run floyo train/, 1);
    assertOneLineError(badN, /-n must be a whole number from 1 to 1000, got "ten"/);
  });
});

test('recommend and similar have --help with their options and the common ones', () => {
  // the help text is static: read from the registered commands instead of starting a process for each
  const program = new Command('floyo');
  register(program);
  const help = (name: string) => program.commands.find((c) => c.name() === name)!.helpInformation();
  const recommend = help('recommend');
  assert.match(recommend, /^Usage: floyo recommend \[options\] <customer>/);
  for (const option of ['-n <count>', '--exclude <ids>', '--include-bought', '--no-include-bought', '--explain', '--json', '--home <dir>']) assert.ok(recommend.includes(option), option);
  const similar = help('similar');
  assert.match(similar, /^Usage: floyo similar \[options\] <product>/);
  for (const option of ['-n <count>', '--exclude <ids>', '--json', '--home <dir>']) assert.ok(similar.includes(option), option);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

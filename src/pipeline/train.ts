// `floyo train`: features → hyperparameters on a validation cutoff → honest evaluation on the reported
// cutoff → refit on all the data → publish a model version → score every customer → predictions.
//
// Cutoffs (whole days; each cutoff day belongs to its past):
//   V = C − horizon   validation: hyperparameters are chosen here, labels in (V, C] — never the reported window
//   C                 evaluation: the reported metrics, labels in (C, C + horizon]
//   S = --now or the data's last day   scoring: every customer, with models refit on all the data
// C + horizon must not pass the data's last day: a window the data does not cover labels every customer
// who simply has not been seen yet as churned, so the metrics and the gate would judge invented labels.
import { parseDay, shiftDays } from '../dates.js';
import type { Config } from '../config.js';
import { roundMoney } from '../data/values.js';
import { sqlInstant, type Warehouse } from '../data/warehouse.js';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import { checkExchangeRates, dataSpan, CUSTOMER_FEATURES } from '../features/build.js';
import { exactUserStep, fitAls, type AlsModel, type AlsParams } from '../ml/als.js';
import { defaultThreads, withPool, type Pool } from '../ml/pool.js';
import type { Matrix } from '../ml/matrix.js';
import { rocAuc } from '../ml/metrics.js';
import { createRng } from '../ml/random.js';
import { csrRows, type Csr } from '../ml/sparse.js';
import {
  chooseC, churnMetrics, churnProbability, costThreshold, crossValidatedAuc, fitChurn, stratifiedFolds, subset,
  type ChurnMetrics, type ChurnModel,
} from '../models/churn.js';
import {
  alsProgress, chooseRecommender, evaluate, K, popularityRanking, popularityShare, recommendAls, recommendAlsScored, recommendPopular, recommendPopularScored,
  type Holdout, type RecommenderMetrics,
} from '../models/recommendations.js';
import { assignedProfiles, assignSegments, fitSegmentation, SEGMENT_FEATURE_INDEX, TooFewProfilesError, type PreviousSegmentation, type SegmentationModel } from '../models/segments.js';
import { scoringTime, staleDataWarning, type ScoredCustomers } from './score.js';
import { servedRecommender } from './serving.js';
import { knownIndices, readProductNames, snapshot, type Snapshot } from './tables.js';

export interface TrainOptions {
  asOf?: string;
  horizonDays: number;
  /** scoring time: YYYY-MM-DD or an ISO timestamp; default the data's last timestamp */
  now?: string;
  seed: number;
  config: Config;
  /**
   * The segmentation of the current version (its names and profiles), when there is one and it can be read:
   * the new clusters that continue its clusters keep their names. Without it, every cluster is named afresh.
   */
  previousSegmentation?: PreviousSegmentation | null;
  /** what the current version serves (null: no usable version is current), for servedRecommender */
  currentRecommender?: 'als' | 'popularity' | null;
  /** the three cutoffs' headlines, as each begins */
  onStep?: (step: string) => void;
  /** what the caller should hear before the fitting starts (a scoring time far past the last purchase) */
  onWarning?: (warning: string) => void;
  /** what is being done now: `done` of the run's `total` stages are finished */
  onProgress?: (progress: TrainProgress) => void;
}

export interface TrainProgress { done: number; total: number; what: string }

/** The stages of a run, for progress: 4 at V, 3 at C, 5 at S (the `stage` calls in trainOn). */
const STAGES = 12;

export interface TrainResult {
  cutoff: string;
  validationCutoff: string;
  /** the customers hyperparameters were chosen on at the validation cutoff (a sample when there are more than tuning.maxCustomers), of all there */
  tuning: { customers: number; of: number; evaluatedUsers: number };
  horizonDays: number;
  scoredAsOf: string;
  /** a --now before the data's end: the last line at or before it, and the lines after it that were left out */
  lookBack?: { lastLine: string; linesLeftOut: number };
  segmentation: {
    k: number; inertia: number; silhouette: number;
    /** the silhouette of each k tried at the validation cutoff, which chose k (empty when segmentation.k fixes it) */
    kScores: SegmentationModel['scores'];
    /** as the customers are assigned (the stored predictions): sizes, and medians of their members */
    segments: Array<{ name: string; size: number; centroid: { recencyDays: number; frequency: number; monetary: number; avgOrderValue: number } }>;
  };
  /**
   * The segment names kept from the version that was current (clusters that continue its clusters), in
   * segment order; the other segments were named afresh. [] for a first version, or when the current
   * version's segmentation could not be read.
   */
  segmentNamesKept: string[];
  churn: ChurnMetrics & {
    nTrain: number; nTest: number; cvRocAucMean: number; cvRocAucStd: number; baselineRecencyRocAuc: number; threshold: number;
    C: number; cGrid: Array<{ C: number; rocAuc: number }>; converged: boolean;
  };
  recommendations: {
    model: 'als' | 'popularity'; params: Partial<AlsParams>;
    /** why `model` is served (servedRecommender) */
    servedBecause: string;
    precisionAt10: number; recallAt10: number; mapAt10: number; ndcgAt10: number; hitRateAt10: number; coverage: number;
    users: number; items: number; evaluatedUsers: number; holdoutDroppedNewItems: number;
    popularity: { precisionAt10: number; recallAt10: number; mapAt10: number; ndcgAt10: number; hitRateAt10: number; coverage: number };
    /** ALS on the reported window, whether or not it is served */
    als: { precisionAt10: number; recallAt10: number; mapAt10: number; ndcgAt10: number; hitRateAt10: number; coverage: number };
    validation: { als: { precisionAt10: number; ndcgAt10: number }; popularity: { precisionAt10: number; ndcgAt10: number }; grid: Array<{ params: Partial<AlsParams>; precisionAt10: number; ndcgAt10: number }> };
  };
  /** the final models and the scored customers, for publishing and the prediction store */
  final: FinalModels;
  timingsMs: Record<string, number>;
}

export interface FinalModels {
  segmentation: SegmentationModel;
  churn: ChurnModel;
  als: AlsModel;
  served: 'als' | 'popularity';
  popularity: Int32Array;
  scoring: Snapshot;
  productNames: Map<string, string>;
  scores: ScoredCustomers;
}

function rankingSummary(m: RecommenderMetrics) {
  return { precisionAt10: m.precision, recallAt10: m.recall, mapAt10: m.map, ndcgAt10: m.ndcg, hitRateAt10: m.hitRate, coverage: m.coverage };
}

/**
 * The reported cutoff C (default: the last purchase's day − h) and the validation cutoff V = C − h. Refuses a C whose
 * window runs past the data, or whose V leaves no past to learn from, naming the --as-of that would work.
 */
function cutoffs(span: { from: string; lastPurchase: string }, asOf: string | undefined, h: number, knownAt?: string): { C: string; V: string } {
  const data = knownAt === undefined ? 'the data' : `the data known at --now ${knownAt}`;
  const latest = shiftDays(span.lastPurchase, -h);
  const C = asOf ?? latest;
  const V = shiftDays(C, -h);
  const earliest = shiftDays(span.from, h + 1);
  if (V <= span.from) {
    if (asOf === undefined || earliest > latest) {
      throw new FloyoError(`${data} (${span.from} .. its last purchase on ${span.lastPurchase}) is too short for a ${h}-day horizon: evaluation needs a validation cutoff ${V} after the first day; use a shorter --horizon-days${knownAt === undefined ? '' : ' or a later --now'}`);
    }
    throw new FloyoError(`--as-of ${C} leaves no past before its validation cutoff ${V} (the data starts on ${span.from}): the earliest --as-of that works is ${earliest}`);
  }
  if (C > latest) {
    const covered = Math.round((Date.parse(span.lastPurchase) - Date.parse(C)) / 86_400_000); // days of the window the data holds
    const shorter = covered > 0 && shiftDays(C, -covered) > span.from ? `, or keep ${C} with --horizon-days ${covered}` : '';
    throw new FloyoError(
      `--as-of ${C} needs churn labels up to ${shiftDays(C, h)} but ${data} has its last purchase on ${span.lastPurchase}: ` +
        `the latest --as-of that works is ${latest} (that day − ${days(h)})${shorter}`,
    );
  }
  return { C, V };
}

const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;

/** Fewer customers than this before the validation cutoff: too few to choose k, C and the recommender on. */
const MIN_CUSTOMERS = 20;
/** Each churn outcome needs this many customers: one in each of the 5 stratified folds. */
const MIN_PER_OUTCOME = 5;

/**
 * What a snapshot needs before anything is fitted on it, each refused with what to change: enough
 * customers, both churn outcomes (a window where nearly everyone came back, or nobody did, has nothing to
 * tell apart), two products, and customers who bought something new in the window (the recommendations'
 * only metric).
 */
function requireLearnable(s: Snapshot, cutoff: string, which: 'validation' | 'evaluation', h: number): void {
  const n = s.customers.ids.length;
  const at = `the ${which} cutoff ${cutoff}`;
  if (n < MIN_CUSTOMERS) {
    throw new FloyoError(
      `only ${n} customer${n === 1 ? '' : 's'} bought on or before ${at}; Floyo needs at least ${MIN_CUSTOMERS} to train: ` +
        `ingest a longer history, or use a shorter --horizon-days (the validation cutoff lies one horizon before the evaluation cutoff)`,
    );
  }
  let churned = 0;
  for (const v of s.customers.churned) churned += v;
  const stayed = n - churned;
  if (Math.min(churned, stayed) < MIN_PER_OUTCOME) {
    throw new FloyoError(
      `of the ${n} customers before ${at}, ${stayed} bought again in the next ${days(h)} and ${churned} did not: ` +
        `churn needs at least ${MIN_PER_OUTCOME} of each to learn from; ` +
        (stayed < MIN_PER_OUTCOME ? 'a longer --horizon-days gives customers more time to come back' : 'a shorter --horizon-days, or data that runs longer after --as-of'),
    );
  }
  if (s.interactions.matrix.nCols < 2) {
    throw new FloyoError(`the customers before ${at} bought ${s.interactions.matrix.nCols === 1 ? 'only one product' : 'no products'}: recommendations need at least two`);
  }
  if (s.holdout.users.length === 0) {
    throw new FloyoError(
      `no customer bought a product new to them in the ${days(h)} after ${at}: ` +
        'there is nothing to evaluate recommendations on; use a longer --horizon-days or another --as-of',
    );
  }
}

/** What hyperparameters are chosen on: the validation cutoff's customers, or a sample of them. */
interface TuningData {
  features: Matrix;
  churned: Uint8Array;
  interactions: Csr;
  holdout: Holdout;
}

/**
 * At most `max` of the snapshot's customers, drawn at random (seeded) within each churn outcome so the sample
 * keeps the churn rate; all of them when there are no more. Choosing k, C and the ALS setting on 100k
 * customers picks what a million would, in a fraction of the time; the reported metrics and the published
 * models still use every customer.
 */
export function tuningSample(
  s: { customers: { features: Matrix; churned: Uint8Array }; interactions: { matrix: Csr }; holdout: Holdout }, max: number, seed: number,
): TuningData {
  const { features, churned } = s.customers;
  const n = churned.length;
  if (n <= max) return { features, churned, interactions: s.interactions.matrix, holdout: s.holdout };
  const rng = createRng(seed);
  const byOutcome = [0, 1].map((outcome) => [...churned.keys()].filter((i) => churned[i] === outcome));
  const churners = Math.min(byOutcome[1].length, Math.max(MIN_PER_OUTCOME, Math.round((max * byOutcome[1].length) / n)));
  const picked: number[] = [];
  for (const [outcome, rows] of byOutcome.entries()) {
    const take = outcome === 1 ? churners : Math.min(rows.length, max - churners);
    for (let k = 0; k < take; k++) { // partial Fisher–Yates
      const j = k + Math.floor(rng.next() * (rows.length - k));
      [rows[k], rows[j]] = [rows[j], rows[k]];
      picked.push(rows[k]);
    }
  }
  const sampled = Int32Array.from(picked).sort();
  const newRow = new Int32Array(n).fill(-1);
  sampled.forEach((r, k) => { newRow[r] = k; });
  const users: number[] = [], items: Int32Array[] = [];
  s.holdout.users.forEach((u, k) => {
    if (newRow[u] >= 0) { users.push(newRow[u]); items.push(s.holdout.items[k]); }
  });
  return {
    features: subset(features, sampled), churned: Uint8Array.from(sampled, (r) => churned[r]),
    interactions: csrRows(s.interactions.matrix, sampled), holdout: { users: Int32Array.from(users), items },
  };
}

export async function train(warehouse: Warehouse, options: TrainOptions): Promise<TrainResult> {
  // one pool for the whole run: five ALS fits and their recommendations would otherwise each start workers
  return withPool(undefined, defaultThreads(), (pool) => trainOn(warehouse, options, pool));
}

async function trainOn(warehouse: Warehouse, options: TrainOptions, pool: Pool): Promise<TrainResult> {
  const { horizonDays: h, seed, config } = options;
  const step = options.onStep ?? (() => undefined);
  const progress = options.onProgress ?? (() => undefined);
  const timings: Record<string, number> = {};
  let stagesDone = 0;
  /** Runs one stage: timed under `name`, shown as `what`, and as `what: detail` while `fn` says how far it is. */
  const stage = async <T>(name: string, what: string, fn: (detail: (s: string) => void) => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    progress({ done: stagesDone, total: STAGES, what });
    try {
      return await fn((detail) => progress({ done: stagesDone, total: STAGES, what: `${what}: ${detail}` }));
    } finally {
      timings[name] = (timings[name] ?? 0) + Math.round(performance.now() - t0);
      stagesDone++;
    }
  };
  const folds = (say: (s: string) => void) => (f: number, n: number) => say(`fold ${f + 1}/${n}`);
  if (options.asOf !== undefined) parseDay(options.asOf, '--as-of');
  const span = await dataSpan(warehouse);
  if (!span) throw new FloyoError(`the warehouse ${warehouse.path} holds no transactions; give --data or run \`floyo ingest\` first`, {}, NOT_FOUND_EXIT);
  const time = await scoringTime(warehouse, options.now);
  const { scoredAsOf, day: S } = time;
  const stale = staleDataWarning(time, h);
  if (stale !== null) options.onWarning?.(stale);
  // A --now before the data's end looks back: everything is as if the data were cut at --now (the cutoffs
  // follow from its last purchase then, and no label reads a later sale), or churn would learn from the future.
  const [{ last, lastKnown, lastKnownPurchase, later }] = await warehouse.query<{ last: string; lastKnown: string; lastKnownPurchase: string | null; later: number }>(
    `SELECT strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') AS last, strftime(max(ts) FILTER (WHERE ts <= ${sqlInstant(scoredAsOf)}), '%Y-%m-%dT%H:%M:%SZ') AS "lastKnown", ` +
      `strftime(max(ts) FILTER (WHERE ts <= ${sqlInstant(scoredAsOf)} AND NOT is_return), '%Y-%m-%d') AS "lastKnownPurchase", ` +
      `count(*) FILTER (WHERE ts > ${sqlInstant(scoredAsOf)})::INTEGER AS later FROM transactions`,
  );
  const labelsUntil = options.now !== undefined && scoredAsOf < last ? scoredAsOf : undefined;
  // the cutoffs follow the last purchase (known at --now when it looks back); scoringTime refused a --now before the first line
  const known = { from: span.from, lastPurchase: labelsUntil ? lastKnownPurchase ?? lastKnown.slice(0, 10) : span.lastPurchase };
  const { C, V } = cutoffs(known, options.asOf, h, labelsUntil);
  // once for the three snapshots: the check is a pass over every transaction
  const exchangeRates = await checkExchangeRates(warehouse, config.features.exchangeRates);

  // 1. validation cutoff: choose hyperparameters
  step(`validation cutoff ${V}: choosing k, regularisation and recommender`);
  const val = await stage('features', `features as of ${V}`, () => snapshot(warehouse, { asOf: V, horizonDays: h, exchangeRates }));
  requireLearnable(val, V, 'validation', h);
  const tune = tuningSample(val, config.tuning.maxCustomers, seed);
  const segParams = { kMin: config.segmentation.kMin, kMax: config.segmentation.kMax, nInit: 10, seed, k: config.segmentation.k, activeWithinDays: h };
  const kSearch = await stage('segmentation', `segments of ${tune.churned.length.toLocaleString('en-US')} customers`, (say) =>
    fitSegmentation(tune.features, segParams, null, (k) => say(`k = ${k}`)));
  const cChoice = await stage('churn', 'churn regularisation by 5-fold CV', (say) =>
    chooseC(tune.features, tune.churned, [0.01, 0.1, 1, 10], seed, pool, folds(say)));
  const recChoice = await stage('recommendations', 'recommender choice (ALS settings against popularity)', (say) =>
    chooseRecommender(tune.interactions, tune.holdout, seed, { pool }, say));

  // 2. reported cutoff: evaluate
  step(`evaluation cutoff ${C}: churn on a stratified 80/20 split, recommendations on the window`);
  const ev = await stage('features', `features as of ${C}`, () => snapshot(warehouse, { asOf: C, horizonDays: h, labelsUntil, exchangeRates }));
  requireLearnable(ev, C, 'evaluation', h);
  const threshold = costThreshold(config.churn.costMissedChurner, config.churn.costWastedOffer);
  const churnEval = await stage('churn', 'churn evaluation', async (say) => {
    say('80/20 split');
    const y = ev.customers.churned;
    const fold = stratifiedFolds(y, 5, seed); // fold 0 is the 20% test split
    const trainRows = Int32Array.from([...fold.keys()].filter((i) => fold[i] !== 0));
    const testRows = Int32Array.from([...fold.keys()].filter((i) => fold[i] === 0));
    const model = await fitChurn(ev.customers.features, y, cChoice.C, threshold, trainRows, pool);
    const yTest = Array.from(testRows, (i) => y[i]);
    const testFeatures = subset(ev.customers.features, testRows);
    const p = churnProbability(model, testFeatures);
    const recency = Array.from(testRows, (i) => ev.customers.features.data[i * CUSTOMER_FEATURES.length + SEGMENT_FEATURE_INDEX.RECENCY]);
    const [cv] = await crossValidatedAuc(ev.customers.features, y, [cChoice.C], 5, seed, pool, folds(say));
    return { metrics: churnMetrics(yTest, p), nTrain: trainRows.length, nTest: testRows.length, cv, baseline: rocAuc(yTest, recency), converged: model.logistic.converged };
  });
  const recEval = await stage('recommendations', 'recommendations evaluation', async (say) => {
    const m = ev.interactions.matrix;
    const als = await fitAls(m, { ...recChoice.params, seed }, { pool, onIteration: alsProgress(recChoice.params, say) });
    say(`ranking ${ev.holdout.users.length.toLocaleString('en-US')} customers`);
    return {
      als: evaluate(await recommendAls(als, ev.holdout.users, K, [], { pool }), ev.holdout, m.nCols),
      popularity: evaluate(recommendPopular(popularityRanking(m), m, ev.holdout.users, K), ev.holdout, m.nCols),
    };
  });

  const alsOnWindow = rankingSummary(recEval.als), popularityOnWindow = rankingSummary(recEval.popularity);
  const { served, because } = servedRecommender(
    recChoice.served, { als: alsOnWindow, popularity: popularityOnWindow, evaluatedUsers: ev.holdout.users.length }, options.currentRecommender ?? null,
  );

  // 3. refit on all the data and score every customer as of S
  step(`scoring as of ${scoredAsOf}: refitting on all the data${labelsUntil ? ' up to it' : ''}`);
  const churnFinal = await stage('churn', 'churn refit on every labelled customer', () => fitChurn(ev.customers.features, ev.customers.churned, cChoice.C, threshold, undefined, pool));
  const scoring = await stage('features', `features as of ${S}`, () => snapshot(warehouse, { asOf: S, horizonDays: h, until: scoredAsOf, exchangeRates }));
  const segmentation = await stage('segmentation', `segments (k = ${kSearch.k})`, () => {
    try {
      return fitSegmentation(scoring.customers.features, { ...segParams, k: kSearch.k }, options.previousSegmentation);
    } catch (err) {
      // segmentation's message speaks of segmentation.k; this k was train's own choice at V (the customers
      // now are those of V and more, so it takes odd data to get here)
      if (!(err instanceof TooFewProfilesError) || config.segmentation.k !== undefined) throw err;
      const most = err.limit < 2 ? 'no segments' : `at most ${err.limit} segments`;
      throw new FloyoError(
        `as of ${scoredAsOf}, ${err.customers} customers with ${err.profiles} distinct profiles of recency, order count and spend ` +
          `make ${most}, fewer than the k = ${kSearch.k} chosen at the validation cutoff ${V}${err.limit < 2 ? '' : `: set segmentation.k to at most ${err.limit}`}`,
      );
    }
  });
  // A final exact user half-step: the published user vectors are then what folding in a customer's purchases
  // gives (floyo score and the stream scorer do that), so re-scoring unchanged customers changes nothing.
  const als = await stage('recommendations', 'ALS refit on all the data', async (say) => {
    const fitted = await fitAls(scoring.interactions.matrix, { ...recChoice.params, seed }, { pool, onIteration: alsProgress(recChoice.params, say) });
    say('exact user step');
    return exactUserStep(fitted, { pool });
  });
  const popularity = popularityRanking(scoring.interactions.matrix);
  const productNames = await readProductNames(warehouse);
  const scores = await stage('scoring', `scoring ${scoring.customers.ids.length.toLocaleString('en-US')} customers`, async () => {
    const all = Int32Array.from(scoring.customers.ids.keys());
    const rules = config.recommendations;
    const exclude = knownIndices(scoring.interactions.items, rules.exclude);
    return {
      ids: scoring.customers.ids,
      features: scoring.customers.features,
      segment: assignSegments(segmentation, scoring.customers.features),
      churn: churnProbability(churnFinal, scoring.customers.features),
      recommendations: served === 'als'
        ? await recommendAlsScored(als, all, rules.count, exclude, { pool }, rules.includeBought)
        : recommendPopularScored(popularity, scoring.interactions.matrix, all, rules.count, new Set(exclude), popularityShare(scoring.interactions.matrix), rules.includeBought),
      itemIds: scoring.interactions.items.ids,
    };
  });

  const prof = assignedProfiles(segmentation, scoring.customers.features, scores.segment);
  return {
    cutoff: C,
    validationCutoff: V,
    tuning: { customers: tune.churned.length, of: val.customers.churned.length, evaluatedUsers: tune.holdout.users.length },
    horizonDays: h,
    scoredAsOf,
    ...(labelsUntil ? { lookBack: { lastLine: lastKnown, linesLeftOut: later } } : {}),
    segmentation: {
      k: segmentation.k, inertia: segmentation.inertia,
      silhouette: segmentation.silhouette,
      kScores: kSearch.scores,
      // a median of two amounts is their mean: rounded as amounts are, so the report shows no float noise (2462.3199999999997)
      segments: prof.map((p) => ({
        name: p.name, size: p.size,
        centroid: { recencyDays: p.centroid.recencyDays, frequency: p.centroid.frequency, monetary: roundMoney(p.centroid.monetary), avgOrderValue: roundMoney(p.centroid.avgOrderValue) },
      })),
    },
    segmentNamesKept: segmentation.namesCarriedOver,
    churn: {
      ...churnEval.metrics, nTrain: churnEval.nTrain, nTest: churnEval.nTest, cvRocAucMean: churnEval.cv.mean, cvRocAucStd: churnEval.cv.std,
      baselineRecencyRocAuc: churnEval.baseline, threshold, C: cChoice.C, cGrid: cChoice.scores, converged: churnEval.converged && churnFinal.logistic.converged,
    },
    recommendations: {
      model: served, params: recChoice.params, servedBecause: because,
      ...(served === 'als' ? alsOnWindow : popularityOnWindow),
      users: ev.interactions.matrix.nRows, items: ev.interactions.matrix.nCols, evaluatedUsers: ev.holdout.users.length,
      holdoutDroppedNewItems: ev.features.holdout.droppedNewItems,
      popularity: popularityOnWindow,
      als: alsOnWindow,
      validation: {
        als: { precisionAt10: recChoice.als.precision, ndcgAt10: recChoice.als.ndcg },
        popularity: { precisionAt10: recChoice.popularity.precision, ndcgAt10: recChoice.popularity.ndcg },
        grid: recChoice.grid,
      },
    },
    final: { segmentation, churn: churnFinal, als, served, popularity, scoring, productNames, scores },
    timingsMs: timings,
  };
}

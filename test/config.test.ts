import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { envName, loadConfig } from '../src/config.js';
import type { FloyoError } from '../src/errors.js';
import { tempDir } from './support/cli.js';

const dir = () => tempDir('floyo-config-');

test('defaults < file < env < flags, each value remembers its source', () => {
  const cwd = dir();
  writeFileSync(join(cwd, 'floyo.config.yaml'), 'home: from-file\ns3:\n  region: eu-west-1\n  endpoint: http://127.0.0.1:7480\nfeatures:\n  horizonDays: 60\n');
  const loaded = loadConfig({ cwd, env: { FLOYO_S3_REGION: 'eu-central-1', FLOYO_FEATURES_HORIZON_DAYS: '30' }, flags: { home: 'from-flag' } });
  assert.equal(loaded.config.home, join(cwd, 'from-flag'));
  assert.equal(loaded.sources.home, 'flag --home');
  assert.equal(loaded.config.s3.region, 'eu-central-1');
  assert.equal(loaded.sources['s3.region'], 'env FLOYO_S3_REGION');
  assert.equal(loaded.config.s3.endpoint, 'http://127.0.0.1:7480');
  assert.match(loaded.sources['s3.endpoint'], /^file .*floyo\.config\.yaml$/);
  assert.equal(loaded.config.features.horizonDays, 30);
  assert.equal(loaded.config.s3.forcePathStyle, false);
  assert.equal(loaded.sources['s3.forcePathStyle'], 'default');
});

test('the default home is ./.floyo and FLOYO_HOME sets it', () => {
  const cwd = dir();
  assert.equal(loadConfig({ cwd, env: {} }).config.home, join(cwd, '.floyo'));
  assert.equal(loadConfig({ cwd, env: { FLOYO_HOME: '/tmp/elsewhere' } }).config.home, '/tmp/elsewhere');
});

test('unknown keys are refused with the key and what is allowed', () => {
  const cwd = dir();
  writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify({ s3: { endpont: 'x' } }));
  assert.throws(() => loadConfig({ cwd, env: {} }), /unknown setting "s3\.endpont".*allowed: s3\.region, s3\.endpoint, s3\.forcePathStyle/);
  assert.throws(() => loadConfig({ cwd: dir(), env: { FLOYO_NOPE: '1' } }), /unknown environment variable FLOYO_NOPE/);
  // a misspelt section: named with the sections, also when it is empty (it used to vanish without a word)
  for (const misspelt of [{ churnn: { costWastedOffer: 2 } }, { churnn: {} }, { churnn: 5 }]) {
    writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify(misspelt));
    assert.throws(() => loadConfig({ cwd, env: {} }), /unknown setting "churnn(\.costWastedOffer)?".*allowed: home, lockWaitSeconds, s3, ingest, features, tuning, segmentation, churn, recommendations, models$/);
  }
  writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify({ churn: {}, s3: { region: 'eu-west-1' } }));
  assert.equal(loadConfig({ cwd, env: {} }).config.s3.region, 'eu-west-1', 'an empty known section is fine');
});

test('wrong types are refused naming the key and its source', () => {
  assert.throws(
    () => loadConfig({ cwd: dir(), env: { FLOYO_S3_FORCE_PATH_STYLE: 'maybe' } }),
    /s3\.forcePathStyle \(from env FLOYO_S3_FORCE_PATH_STYLE\): .*expected boolean/,
  );
  const cwd = dir();
  writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify({ features: { horizonDays: -3 } }));
  assert.throws(() => loadConfig({ cwd, env: {} }), /features\.horizonDays \(from file .*\): .*>0/);
  // a horizon of millions of days ran dates out of range deep inside train (exit 70)
  assert.throws(() => loadConfig({ cwd: dir(), env: {}, flags: { 'features.horizonDays': 100_000_000 } }), /features\.horizonDays \(from flag .*\): .*<=3660/);
  assert.throws(() => loadConfig({ cwd: dir(), env: { FLOYO_INGEST_PRESET: 'woo' } }), /ingest\.preset .*"online-retail"\|"shopify"/);
  // a list in an environment variable is JSON, and the message says so
  assert.throws(
    () => loadConfig({ cwd: dir(), env: { FLOYO_RECOMMENDATIONS_EXCLUDE: '84378' } }),
    /recommendations\.exclude \(from env FLOYO_RECOMMENDATIONS_EXCLUDE\): .*expected array.*; write it as JSON, e\.g\. FLOYO_RECOMMENDATIONS_EXCLUDE='\["a","b"\]'/,
  );
  assert.deepEqual(loadConfig({ cwd: dir(), env: { FLOYO_RECOMMENDATIONS_EXCLUDE: '["84378"]' } }).config.recommendations.exclude, ['84378']);
  // a kMin above kMax quietly tried kMax alone
  assert.throws(
    () => loadConfig({ cwd: dir(), env: { FLOYO_SEGMENTATION_K_MIN: '9' } }),
    /segmentation\.kMin \(from env FLOYO_SEGMENTATION_K_MIN\): must be at most segmentation\.kMax \(8\)/,
  );
  assert.equal(loadConfig({ cwd: dir(), env: { FLOYO_SEGMENTATION_K_MIN: '6', FLOYO_SEGMENTATION_K_MAX: '6' } }).config.segmentation.kMin, 6);
});

test('environment variables as shells write them: yes/no as TRUE, 1, yes or off; an empty one is unset', () => {
  for (const [raw, value] of [['TRUE', true], ['1', true], ['yes', true], ['On', true], ['False', false], ['0', false], ['no', false], ['off', false]] as const) {
    assert.equal(loadConfig({ cwd: dir(), env: { FLOYO_S3_FORCE_PATH_STYLE: raw } }).config.s3.forcePathStyle, value, raw);
  }
  const loaded = loadConfig({ cwd: dir(), env: { FLOYO_HOME: '', FLOYO_SEGMENTATION_K: ' ' } });
  assert.equal(loaded.sources.home, 'default');
  assert.equal(loaded.config.segmentation.k, undefined);
});

test('a list in a config file: a product id may be a bare number, and a wrong element names the file', () => {
  const cwd = dir();
  writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify({ recommendations: { exclude: ['85123A', 22423] } }));
  assert.deepEqual(loadConfig({ cwd, env: {} }).config.recommendations.exclude, ['85123A', '22423']);
  writeFileSync(join(cwd, 'floyo.config.json'), JSON.stringify({ recommendations: { exclude: ['85123A', { id: 1 }] } }));
  let thrown: unknown;
  assert.throws(() => {
    try {
      loadConfig({ cwd, env: {} });
    } catch (err) {
      thrown = err;
      throw err;
    }
  }, /recommendations\.exclude\.1 \(from file .*floyo\.config\.json\): .*expected string/);
  assert.equal((thrown as FloyoError).context.file, join(cwd, 'floyo.config.json'));
  assert.throws(() => loadConfig({ cwd: dir(), env: { FLOYO_RECOMMENDATIONS_EXCLUDE: '[""]' } }), /recommendations\.exclude\.0 \(from env FLOYO_RECOMMENDATIONS_EXCLUDE\): a product id cannot be empty/);
});

test('relative paths in a config file are relative to its folder; from env and flags, to the working directory', () => {
  const shop = dir();
  writeFileSync(join(shop, 'floyo.config.yaml'), 'home: ./shop-home\ningest:\n  mapping: maps/eu.yaml\nmodels:\n  location: ../registry\n');
  const elsewhere = dir();
  const fromFile = loadConfig({ cwd: elsewhere, env: {}, configFile: relative(elsewhere, join(shop, 'floyo.config.yaml')) });
  assert.equal(fromFile.config.home, join(shop, 'shop-home'));
  assert.equal(fromFile.config.ingest.mapping, join(shop, 'maps', 'eu.yaml'));
  assert.equal(fromFile.config.models.location, join(shop, '..', 'registry'));
  const fromEnv = loadConfig({ cwd: elsewhere, env: { FLOYO_CONFIG: join(shop, 'floyo.config.yaml'), FLOYO_INGEST_MAPPING: 'm.yaml', FLOYO_MODELS_LOCATION: 's3://bucket/models' }, flags: { home: 'h' } });
  assert.equal(fromEnv.config.ingest.mapping, join(elsewhere, 'm.yaml'));
  assert.equal(fromEnv.config.models.location, 's3://bucket/models');
  assert.equal(fromEnv.config.home, join(elsewhere, 'h'));
});

test('two default config files in one folder are refused: which one is in force would be a guess', () => {
  const cwd = dir();
  writeFileSync(join(cwd, 'floyo.config.json'), '{}');
  writeFileSync(join(cwd, 'floyo.config.yaml'), 'home: x\n');
  assert.throws(() => loadConfig({ cwd, env: {} }), /floyo\.config\.json and floyo\.config\.yaml are both in .*; keep one, or say which with --config or FLOYO_CONFIG/);
  assert.equal(loadConfig({ cwd, env: {}, configFile: 'floyo.config.yaml' }).config.home, join(cwd, 'x'));
});

test('ingest.notBefore is a calendar date, 1990-01-01 unless set; anything else is refused saying how to write it', () => {
  assert.equal(loadConfig({ cwd: dir(), env: {} }).config.ingest.notBefore, '1990-01-01');
  assert.equal(loadConfig({ cwd: dir(), env: { FLOYO_INGEST_NOT_BEFORE: '2009-12-01' } }).config.ingest.notBefore, '2009-12-01');
  const cwd = dir();
  // unquoted in YAML it stays text (YAML 1.2 has no date type)
  writeFileSync(join(cwd, 'floyo.config.yaml'), 'ingest:\n  notBefore: 2000-02-29\n');
  assert.equal(loadConfig({ cwd, env: {} }).config.ingest.notBefore, '2000-02-29');
  for (const bad of ['1990-1-1', '01/01/1990', '2023-02-29', '1990-13-01', '1990-01-01T00:00:00Z']) {
    assert.throws(() => loadConfig({ cwd: dir(), env: { FLOYO_INGEST_NOT_BEFORE: bad } }),
      /ingest\.notBefore \(from env FLOYO_INGEST_NOT_BEFORE\): must be a date written YYYY-MM-DD, such as 1990-01-01/, bad);
  }
});

test('environment names are derived from the keys', () => {
  assert.equal(envName('s3.forcePathStyle'), 'FLOYO_S3_FORCE_PATH_STYLE');
  assert.equal(envName('home'), 'FLOYO_HOME');
});

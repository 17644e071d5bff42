// One schema for every setting. Layers, later wins: built-in defaults < config file < FLOYO_* environment < flags.
// Every effective value remembers where it came from, so `floyo config` can say so.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { yaml } from './yaml.js';
import { isDay } from './dates.js';
import { FloyoError } from './errors.js';

export const PRESET_NAMES = ['online-retail', 'shopify'] as const;
export const FORMATS = ['auto', 'csv', 'csv.gz', 'parquet', 'ndjson', 'ndjson.gz'] as const;

export const ConfigSchema = z
  .object({
    home: z.string().min(1).default('./.floyo').describe('home folder: warehouse, quarantine, models'),
    lockWaitSeconds: z.number().nonnegative().max(86_400).default(3)
      .describe('how long a command waits for another Floyo process using the home before it stops with exit 3 naming it (at most a day)'),
    s3: z
      .object({
        region: z.string().min(1).default('us-east-1').describe('AWS region for s3:// locations'),
        endpoint: z.url().optional().describe('endpoint of an S3-compatible server (e.g. http://127.0.0.1:7480)'),
        forcePathStyle: z.boolean().default(false).describe('path-style bucket addressing, for S3-compatible servers'),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        preset: z.enum(PRESET_NAMES).optional().describe('column mapping preset'),
        mapping: z.string().min(1).optional().describe('column mapping file (JSON or YAML)'),
        format: z.enum(FORMATS).default('auto').describe('input format; auto detects by extension and content'),
        futureToleranceHours: z.number().nonnegative().default(48).describe('timestamps later than now + this are quarantined'),
        notBefore: z.string()
          .refine(isDay, 'must be a date written YYYY-MM-DD, such as 1990-01-01')
          .default('1990-01-01')
          .describe('timestamps before this day (UTC) are quarantined: unix 0, seconds read as milliseconds, year 0001'),
        maxAbsQuantity: z.number().positive().default(1_000_000).describe('larger |quantity| is quarantined as absurd'),
        maxUnitPrice: z.number().positive().default(1_000_000).describe('larger unit price is quarantined as absurd'),
      })
      .strict()
      .prefault({}),
    features: z
      .object({
        horizonDays: z.number().int().positive().max(3660).default(90).describe('churn horizon: days after the cutoff (at most 3,660, ten years)'),
        exchangeRates: z
          .record(
            z.string().regex(/^[A-Za-z]{3}$/, 'a currency is a three-letter code such as EUR').transform((c) => c.toUpperCase()),
            z.number().positive(),
            { error: (issue) => (issue.code === 'invalid_key' ? `${JSON.stringify(issue.input)}: a currency is a three-letter code such as EUR` : undefined) },
          )
          .optional()
          .describe('a rate per currency, { EUR: 1, USD: 0.92 }: spend of several currencies is added in the one of rate 1; every currency of the data needs one'),
      })
      .strict()
      .prefault({}),
    tuning: z
      .object({
        maxCustomers: z.number().int().min(1000).default(100_000)
          .describe('hyperparameters (k, churn C, the ALS setting) are chosen at the validation cutoff on a seeded sample of at most this many customers, stratified by churn; evaluation and the published models use every customer'),
      })
      .strict()
      .prefault({}),
    segmentation: z
      .object({
        k: z.number().int().min(2).max(20).optional().describe('a fixed number of segments (default: chosen by silhouette)'),
        kMin: z.number().int().min(2).max(20).default(4).describe('smallest k tried by silhouette'),
        kMax: z.number().int().min(2).max(20).default(8).describe('largest k tried by silhouette'),
      })
      .strict()
      // a kMin above kMax would quietly try kMax alone
      .refine((s) => s.kMin <= s.kMax, { path: ['kMin'], error: (issue) => `must be at most segmentation.kMax (${(issue.input as { kMax: number }).kMax})` })
      .prefault({}),
    churn: z
      .object({
        costMissedChurner: z.number().positive().default(5).describe('cost of a churner who gets no offer (relative)'),
        costWastedOffer: z.number().positive().default(1).describe('cost of an offer to a customer who would have stayed'),
        maxAucDrop: z.number().nonnegative().default(0.02).describe('quality gate: a new version may lose at most this much churn ROC-AUC (5-fold cross-validated mean) against the current one, beyond the noise of the two means'),
      })
      .strict()
      .prefault({}),
    recommendations: z
      .object({
        // trimmed as --exclude is: " 22804" in a config file means 22804
        // and a product id written as a bare number (`[85123, 22423]`) is that id
        exclude: z.array(z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().trim().min(1, 'a product id cannot be empty'))).default([]).describe('product ids never recommended (unavailable, blacklisted)'),
        count: z.number().int().min(1).max(100).default(10).describe('recommendations stored per customer by train and score, and the default of recommend -n'),
        includeBought: z.boolean().default(false).describe('also recommend products the customer already bought (repeat purchases, consumables); evaluation always leaves them out'),
      })
      .strict()
      .prefault({}),
    models: z
      .object({
        location: z.string().min(1).optional().describe('model registry: a folder or s3://bucket/prefix (default <home>/models)'),
        keepVersions: z.number().int().min(1).optional()
          .describe('after each train, remove all but this many newest versions (the current one is always kept); default: keep every version. floyo models prune does the same on demand'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type Source = 'default' | `file ${string}` | `env ${string}` | `flag ${string}`;
export interface LoadedConfig {
  config: Config;
  /** dotted key → where its value came from */
  sources: Record<string, Source>;
  file?: string;
}

/** The layer a value came from, as a rank: later layers win (default 0 < file 1 < env 2 < flag 3). */
export function sourceRank(source: Source): number {
  return source === 'default' ? 0 : source.startsWith('file ') ? 1 : source.startsWith('env ') ? 2 : 3;
}

type Flat = Record<string, unknown>;

/** Every leaf setting as a dotted key, from the schema itself. */
export function settingKeys(schema: z.ZodObject = ConfigSchema, prefix = ''): string[] {
  return Object.entries(schema.shape).flatMap(([key, value]) => {
    const inner = unwrap(value as z.ZodType);
    return inner instanceof z.ZodObject ? settingKeys(inner, `${prefix}${key}.`) : [`${prefix}${key}`];
  });
}

function unwrap(type: z.ZodType): z.ZodType {
  let t: z.ZodType = type;
  while (t instanceof z.ZodDefault || t instanceof z.ZodOptional || t instanceof z.ZodPrefault) {
    t = (t as unknown as { unwrap(): z.ZodType }).unwrap();
  }
  return t;
}

export function describeSetting(key: string): string {
  let t: z.ZodType = ConfigSchema;
  for (const part of key.split('.')) t = (unwrap(t) as z.ZodObject).shape[part] as z.ZodType;
  return t.description ?? '';
}

/** FLOYO_S3_FORCE_PATH_STYLE ↔ s3.forcePathStyle */
export function envName(key: string): string {
  return 'FLOYO_' + key.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** The settings, as settingKeys gives them: one whose value is an object of the user's keys (a currency's rate) is a leaf, not a section. */
let leaves: Set<string> | undefined;

function flatten(obj: unknown, prefix = '', out: Flat = {}): Flat {
  leaves ??= new Set(settingKeys());
  if (obj && typeof obj === 'object' && !Array.isArray(obj) && (Object.keys(obj).length > 0 || !prefix) && !leaves.has(prefix)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    // an empty object is a leaf too, so a misspelt section (`churnn: {}`) is not silently dropped
    out[prefix] = obj;
  }
  return out;
}

function unflatten(flat: Flat): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

const ENV_BOOLEANS: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false, on: true, off: false };

/**
 * Environment values are strings: a value the schema refuses as a string is retried as JSON (numbers,
 * lists); a yes/no setting also takes TRUE, 1, yes, on and their opposites, as shells write them.
 */
function coerceEnv(key: string, raw: string): unknown {
  const keys = settingKeys();
  if (!keys.includes(key)) return raw;
  let t: z.ZodType = ConfigSchema;
  for (const part of key.split('.')) t = (unwrap(t) as z.ZodObject).shape[part] as z.ZodType;
  if (t.safeParse(raw).success) return raw;
  if (unwrap(t) instanceof z.ZodBoolean && raw.trim().toLowerCase() in ENV_BOOLEANS) return ENV_BOOLEANS[raw.trim().toLowerCase()];
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export const CONFIG_FILES = ['floyo.config.json', 'floyo.config.yaml', 'floyo.config.yml'];

export interface LoadOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** explicit config file (flag --config or FLOYO_CONFIG) */
  configFile?: string;
  /** dotted key → value, from command-line flags */
  flags?: Flat;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const known = new Set(settingKeys());
  const values: Flat = {};
  const sources: Record<string, Source> = {};

  const found = CONFIG_FILES.filter((f) => existsSync(resolve(cwd, f)));
  const explicit = options.configFile ?? (env.FLOYO_CONFIG || undefined);
  // two of them would leave the user guessing which one holds the settings in force
  if (explicit === undefined && found.length > 1) {
    throw new FloyoError(`${found.join(' and ')} are both in ${cwd}; keep one, or say which with --config or FLOYO_CONFIG`);
  }
  const fileName = explicit ?? found[0];
  let file: string | undefined;
  if (fileName) {
    file = resolve(cwd, fileName);
    if (!existsSync(file)) throw new FloyoError(`config file ${file} does not exist`);
    let parsed: unknown;
    try {
      const text = readFileSync(file, 'utf8');
      parsed = /\.ya?ml$/i.test(file) ? yaml().parse(text) : JSON.parse(text);
    } catch (err) {
      throw new FloyoError(`config file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new FloyoError(`config file ${file} must hold an object of settings`);
    }
    for (const [key, value] of Object.entries(flatten(parsed ?? {}))) {
      if (isEmptyObject(value) && [...known].some((k) => k.startsWith(`${key}.`))) continue; // a section left empty
      if (!known.has(key)) throw unknownKey(key, `config file ${file}`);
      values[key] = value;
      sources[key] = `file ${file}`;
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    // an empty variable (FLOYO_HOME= in a crontab or a compose file) is unset, as shells treat it
    if (!name.startsWith('FLOYO_') || name === 'FLOYO_CONFIG' || raw === undefined || raw.trim() === '') continue;
    const key = [...known].find((k) => envName(k) === name);
    if (!key) {
      throw new FloyoError(
        `unknown environment variable ${name}; Floyo reads FLOYO_CONFIG and ${[...known].map(envName).join(', ')}`,
      );
    }
    values[key] = coerceEnv(key, raw);
    sources[key] = `env ${name}`;
  }

  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    if (!known.has(key)) throw unknownKey(key, 'flags');
    values[key] = value;
    sources[key] = `flag --${key.split('.').pop()!.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
  }

  const result = ConfigSchema.safeParse(unflatten(values));
  if (!result.success) {
    // an issue's path can go below a setting (recommendations.exclude.1): the setting is where it came from
    const sourceOf = (path: PropertyKey[]) => {
      for (let n = path.length; n > 0; n--) {
        const source = sources[path.slice(0, n).join('.')];
        if (source) return source;
      }
      return undefined;
    };
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const source = sourceOf(issue.path);
      const from = source ? ` (from ${source})` : '';
      // an environment variable holds text: lists and objects have to be written as JSON there
      const json = source?.startsWith('env ') && issue.code === 'invalid_type' && (issue.expected === 'array' || issue.expected === 'object' || issue.expected === 'record')
        ? `; write it as JSON, e.g. ${source.slice(4)}=${issue.expected === 'array' ? '\'["a","b"]\'' : '\'{"key":"value"}\''}`
        : '';
      return `  ${key}${from}: ${issue.message}${json}`;
    });
    const fromFile = file !== undefined && result.error.issues.some((issue) => sourceOf(issue.path)?.startsWith('file '));
    throw new FloyoError(`invalid configuration:\n${lines.join('\n')}`, fromFile ? { file } : {});
  }
  for (const key of known) sources[key] ??= 'default';
  const config = result.data;
  // a relative path is relative to where it was written: a config file's folder, else the working directory
  const base = (key: string) => (file !== undefined && sources[key] === `file ${file}` ? dirname(file) : cwd);
  config.home = resolve(base('home'), config.home);
  if (config.ingest.mapping !== undefined) config.ingest.mapping = resolve(base('ingest.mapping'), config.ingest.mapping);
  const registry = config.models.location;
  if (registry !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(registry.trim())) config.models.location = resolve(base('models.location'), registry);
  return { config, sources, file };
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** The error for a key no setting has: it lists what is allowed at the same level (settings and sections). */
function unknownKey(key: string, where: string): FloyoError {
  const known = settingKeys();
  // the level where the key goes wrong: `churnn.costWastedOffer` goes wrong at the top, `churn.x` in churn
  const parts = key.split('.');
  let prefix = '';
  for (const part of parts.slice(0, -1)) {
    if (!known.some((k) => k.startsWith(`${prefix}${part}.`))) break;
    prefix += `${part}.`;
  }
  // the next path part of every known key under the prefix: a setting `churn.costMissedChurner`, or a section `churn`
  const allowed = [...new Set(known.filter((k) => k.startsWith(prefix)).map((k) => prefix + k.slice(prefix.length).split('.')[0]))].join(', ');
  return new FloyoError(`unknown setting "${key}" in ${where}; allowed: ${allowed}`);
}

/** Flattened effective config, for `floyo config`. */
export function effectiveSettings(loaded: LoadedConfig): Array<{ key: string; value: unknown; source: Source; description: string }> {
  const flat = flatten(loaded.config);
  return settingKeys().map((key) => ({ key, value: flat[key], source: loaded.sources[key], description: describeSetting(key) }));
}

// Usage errors exit 2, as all bad input does; help and version exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MappingSchema } from '../../src/data/mapping.js';
import { floyo, ROOT, tempDir } from '../support/cli.js';

test('unknown options, missing arguments and unknown commands exit 2 with the reason; --help and --version exit 0', async () => {
  const [option, argument, command, help, version, top] = await Promise.all([
    floyo(['recommend', '12347', '--nope']),
    floyo(['recommend']),
    floyo(['nosuch']),
    floyo(['recommend', '--help']),
    floyo(['--version']),
    floyo(['--help']),
  ]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /--home DIR, or FLOYO_HOME, default\n\.\/\.floyo/, 'the top-level help says where everything lives');
  assert.equal(option.code, 2);
  assert.match(option.stderr, /unknown option '--nope'/);
  assert.equal(argument.code, 2);
  assert.match(argument.stderr, /missing required argument 'customer'/);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command 'nosuch'/);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: floyo recommend/);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('floyo presets --json is one object listing the presets; a preset by name is its mapping', async () => {
  const [list, one] = await Promise.all([floyo(['presets', '--json']), floyo(['presets', 'shopify', '--json'])]);
  assert.equal(list.code, 0, list.stderr);
  const { presets } = list.json<{ presets: Array<{ name: string; description: string }> }>();
  assert.deepEqual(presets.map((p) => p.name), ['online-retail', 'shopify']);
  assert.ok(presets.every((p) => p.description.length > 0));
  assert.equal(one.json<{ name: string }>().name, 'shopify');
  // a template for the user's own mapping: the preset's description of its export is not copied along
  assert.equal(one.json<{ description: string }>().description, 'edit me: which shop and export this mapping reads');
  assert.doesNotMatch((await floyo(['presets', 'online-retail'])).stdout, /UCI/);
});

test('floyo presets --help lists every key of a mapping, at every level', async () => {
  const help = await floyo(['presets', '--help']);
  assert.equal(help.code, 0, help.stderr);
  type Node = { properties?: Record<string, Node>; items?: Node; anyOf?: Node[] };
  const keys = new Set<string>();
  const walk = (node: Node | undefined) => {
    if (!node) return;
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      keys.add(key);
      walk(child);
    }
    walk(node.items);
    node.anyOf?.forEach(walk);
  };
  const schema = z.toJSONSchema(MappingSchema, { io: 'input' }) as Node;
  walk(schema);
  assert.ok(keys.size > 30, `only ${keys.size} keys`);
  for (const key of keys) assert.match(help.stdout, new RegExp(`[\\s{[,]${key}[\\s:,}]`), key);
  for (const key of Object.keys(schema.properties!)) assert.match(help.stdout, new RegExp(`\\n  ${key} +\\S`), `${key} starts a line`);
});

test('under --json an error is also one JSON object on stdout, with the exit code and where it arose', async () => {
  const home = tempDir();
  const [nothing, missing, plain] = await Promise.all([
    floyo(['customer', '12347', '--home', home, '--json']),
    floyo(['ingest', join(home, 'no-such.csv'), '--home', home, '--json']),
    floyo(['customer', '12347', '--home', home]),
  ]);
  assert.equal(nothing.code, 1);
  const e = nothing.json<{ error: { message: string; exitCode: number } }>().error;
  assert.equal(e.exitCode, 1);
  assert.equal(`floyo: ${e.message}\n`, nothing.stderr, 'the same message as on stderr');
  assert.equal(missing.code, 2);
  assert.equal(missing.json<{ error: { exitCode: number } }>().error.exitCode, 2);
  assert.match(missing.json<{ error: { message: string } }>().error.message, /no-such\.csv/);
  assert.equal(plain.stdout, '', 'without --json stdout stays empty');
});

test('under --json a usage error is one JSON object on stdout too; help and version print no error object', async () => {
  const [option, argument, afterDashes, help, asValue, helpOfUnknown, unknownCommand, beforeCommand, beforeWithDefaults] = await Promise.all([
    floyo(['recommend', '12347', '--nope', '--json']),
    floyo(['recommend', '--json']),
    floyo(['recommend', '--', '--json']),
    floyo(['recommend', '--help', '--json']),
    floyo(['recommend', '--home', '--json']),
    floyo(['models', 'help', 'nope', '--json']),
    floyo(['nosuch', '--json']),
    floyo(['--home', '/tmp', 'segments', '--json']),
    floyo(['--home', '/tmp', 'similar', '85123A', '--json']),
  ]);
  assert.equal(option.code, 2);
  assert.deepEqual(option.json(), { error: { message: "unknown option '--nope'\n(Did you mean --home?)", exitCode: 2 } });
  assert.equal(argument.code, 2);
  assert.deepEqual(argument.json(), { error: { message: "missing required argument 'customer'", exitCode: 2 } });
  assert.equal(afterDashes.stdout.includes('"error"'), false, 'a --json after -- is an argument, not the option');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: floyo recommend/);
  assert.equal(asValue.code, 2);
  assert.equal(asValue.stdout, '', 'a --json that is the value of --home is not the option');
  assert.equal(helpOfUnknown.code, 2);
  assert.doesNotMatch(helpOfUnknown.stdout, /"error"/, 'help shown for an unknown command is not an error object');
  assert.equal(unknownCommand.code, 2);
  assert.deepEqual(unknownCommand.json(), { error: { message: "unknown command 'nosuch'", exitCode: 2 } });
  assert.equal(beforeCommand.code, 2);
  // an option before the command fails the line, which asked for JSON, and the line that runs is given
  assert.deepEqual(beforeCommand.json(), { error: { message: "unknown option '--home'\n(options go after the command: floyo segments --home /tmp --json)", exitCode: 2 } });
  assert.match(beforeCommand.stderr, /^\(options go after the command: floyo segments --home \/tmp --json\)$/m);
  assert.deepEqual(beforeWithDefaults.json(), {
    error: { message: "unknown option '--home'\n(options go after the command: floyo similar --home /tmp 85123A --json)", exitCode: 2 },
  }, 'also for a command whose options have defaults');
});

test('an option before the command names the line that runs, down to a subcommand; an option no command has gets no such hint', async () => {
  const [models, unknown, quoted] = await Promise.all([
    floyo(['--home', '/tmp', 'models', 'list']),
    floyo(['--bogus', 'segments']),
    floyo(['-q', '--home', '/tmp/a b', 'customer', '12347']),
  ]);
  assert.equal(models.code, 2);
  assert.match(models.stderr, /^\(options go after the command: floyo models list --home \/tmp\)$/m);
  assert.equal(unknown.code, 2);
  assert.doesNotMatch(unknown.stderr, /options go after/);
  assert.match(quoted.stderr, /^\(options go after the command: floyo customer -q --home '\/tmp\/a b' 12347\)$/m);
});

test('a --home that cannot be a folder (a file is in the way) is bad input, exit 2, not an internal error', async () => {
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, 'not a folder');
  const [ingest, train, segments, features] = await Promise.all([
    floyo(['ingest', join(ROOT, 'test/fixtures/online_retail_sample.csv'), '--home', file]),
    floyo(['train', '--home', join(file, 'below'), '--json']),
    floyo(['segments', '--home', file]),
    floyo(['features', '--home', file]),
  ]);
  for (const r of [segments, features]) {
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot be a folder: a file is in the way/, 'not "nothing scored yet" in a home that cannot be one');
  }
  assert.equal(ingest.code, 2, ingest.stderr);
  assert.equal(ingest.stderr, `floyo: the home ${file} cannot be a folder: a file is in the way (set --home, FLOYO_HOME or home in the config)\n`);
  assert.equal(train.code, 2, train.stderr);
  assert.match(train.json<{ error: { message: string } }>().error.message, /cannot be a folder: a file is in the way/);
});

test('ingest --help says where the S3 settings and credentials go', async () => {
  const r = await floyo(['ingest', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^S3: credentials come from the AWS chain \(AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role\);$/m);
  for (const setting of ['s3.endpoint', 's3.forcePathStyle', 's3.region', 'FLOYO_S3_ENDPOINT']) assert.ok(r.stdout.includes(setting), setting);
});

test('--help lists the exit codes a command can give: recommend and similar never stop for a home in use (no 3)', async () => {
  const [recommend, similar, customer, audience] = await Promise.all(['recommend', 'similar', 'customer', 'audience'].map((c) => floyo([c, '--help'])));
  for (const r of [recommend, similar]) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Exit codes: 0 done, 1 .*, 2 bad input, 70 an internal error \(a bug\), 143 and 130 stopped by SIGTERM or Ctrl-C\.$/m);
    assert.doesNotMatch(r.stdout, /3 the home is in use/);
  }
  assert.match(similar.stdout, /It reads only the registry, so it answers while\nanother command uses the home\./);
  // each query names what it does not know: customer a customer, audience a segment
  assert.match(customer.stdout, /^Exit codes: 0 done, 1 nothing to answer with \(unknown customer, nothing scored yet\), 2 bad input, 3 the home is in use/m);
  assert.match(audience.stdout, /^Exit codes: 0 done, 1 nothing to answer with \(unknown segment, nothing scored yet\), 2 bad input, 3 the home is in use/m);
  // train's 3 is also the registry's CURRENT changed by another home meanwhile; its horizon's default comes from the config
  const train = await floyo(['train', '--help']);
  assert.match(train.stdout, /3 the home is in use by another Floyo process, or another\nhome sharing models\.location made another version current meanwhile/);
  assert.match(train.stdout, /--horizon-days <n> +churn horizon in days \(default 90; config\s+features\.horizonDays\)/);
});

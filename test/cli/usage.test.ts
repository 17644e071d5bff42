// Usage errors exit 2, as all bad input does; help and version exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floyo } from '../support/cli.js';

test('unknown options, missing arguments and unknown commands exit 2 with the reason; --help and --version exit 0', async () => {
  const [option, argument, command, help, version] = await Promise.all([
    floyo(['recommend', '12347', '--nope']),
    floyo(['recommend']),
    floyo(['nosuch']),
    floyo(['recommend', '--help']),
    floyo(['--version']),
  ]);
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
});

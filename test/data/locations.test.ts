// Locations → files: what a folder and a glob take, and what they leave to Spark and Hadoop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveLocalLocation } from '../../src/data/locations.js';
import { tempDir } from '../support/cli.js';

test('a glob, like a folder, leaves out _temporary/, _SUCCESS and dot-files; a pattern that names an _ part gets it', () => {
  const dir = tempDir();
  for (const path of ['a.csv', 'sub/b.csv', '_temporary/0/c.csv', 'sub/.d.csv', '_SUCCESS', '_staging/e.csv']) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), 'x\n');
  }
  const files = (location: string) => resolveLocalLocation(location, dir).map((f) => relative(dir, f.location)).sort();
  assert.deepEqual(files('**/*.csv'), ['a.csv', 'sub/b.csv']);
  assert.deepEqual(files('*'), ['a.csv']);
  assert.deepEqual(files('.'), ['a.csv', 'sub/b.csv']);
  assert.deepEqual(files('_staging/*.csv'), ['_staging/e.csv']);
});

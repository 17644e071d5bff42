// Locations → files: what a folder and a glob take, and what they leave to Spark and Hadoop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FilesNotRead, resolveLocalLocation } from '../../src/data/locations.js';
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

test('what a folder or glob passes over is tallied: unsupported files by extension with examples, Spark side files counted', () => {
  const dir = tempDir();
  for (const path of ['a.csv', 'sales.csv.bz2', 'sales.csv.gzip', 'docs/notes.xlsx', 'README', '_SUCCESS', '_temporary/0/c.csv', '.hidden.csv']) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), 'x\n');
  }
  const folder = new FilesNotRead();
  assert.deepEqual(resolveLocalLocation('.', dir, folder).map((f) => relative(dir, f.location)), ['a.csv']);
  assert.deepEqual(folder.summary(), {
    unsupported: 4,
    byExtension: { '(none)': 1, '.xlsx': 1, '.bz2': 1, '.gzip': 1 },
    examples: ['README', 'docs/notes.xlsx', 'sales.csv.bz2'].map((f) => join(dir, f)),
    sideFiles: 2, // dot-files are never looked at, as hidden files
  });
  // a glob takes what it matches, whatever its extension; the _ parts it passes over are side files
  const glob = new FilesNotRead();
  assert.deepEqual(resolveLocalLocation('**/*.csv', dir, glob).map((f) => relative(dir, f.location)), ['a.csv']);
  assert.deepEqual(glob.summary(), { unsupported: 0, byExtension: {}, examples: [], sideFiles: 1 });
});

// Where transactions come from: a file, a glob, a folder, or s3://bucket/prefix.
// Each resolves to a list of sources, in a stable (sorted) order so that repeated runs behave the same.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { FloyoError } from '../errors.js';

export type SourceRef =
  | { kind: 'file'; location: string; path: string; bytes: number }
  | { kind: 's3'; location: string; bucket: string; key: string; bytes: number; etag: string };

/** Files a folder or an S3 prefix contributes: the formats Floyo reads. Globs take whatever they match. */
const DATA_FILE = /\.(csv|tsv|txt|parquet|ndjson|jsonl|json)(\.gz)?$/i;
export const DATA_FILE_KINDS = '.csv, .tsv, .txt, .parquet, .ndjson, .jsonl, .json, optionally .gz';

/**
 * Whether a file under a folder or prefix is data, by its path below that folder or prefix: a data file
 * extension, and no part of the path starting with '_' or '.'. Those are the markers and side files of
 * Spark, Hadoop and friends (_SUCCESS, _committed_*, .part-0.crc, _temporary/ of unfinished jobs).
 */
export function isDataFile(relativePath: string): boolean {
  if (!DATA_FILE.test(relativePath)) return false;
  return !relativePath.split(/[\\/]/).some((part) => part.startsWith('_') || part.startsWith('.'));
}

export function isS3(location: string): boolean {
  return /^s3:\/\//i.test(location);
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // '**/' matches zero or more folders
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += '[' + glob.slice(i + 1, end).replace(/^!/, '^') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) walk(path, out);
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/** Local locations → files. S3 locations are listed by the caller (they need a client). */
export function resolveLocalLocation(location: string, cwd = process.cwd()): SourceRef[] {
  const abs = resolve(cwd, location);
  if (/[*?[]/.test(location)) {
    const parts = abs.split(sep);
    const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
    const base = parts.slice(0, firstGlob).join(sep) || sep;
    if (!existsSync(base)) throw new FloyoError(`no such folder for the pattern ${location}: ${base}`);
    const pattern = parts.slice(firstGlob);
    const re = globToRegExp(pattern.join('/'));
    // a wildcard does not reach into Spark's _temporary/ or _SUCCESS, as a folder does not (nor into
    // dot-files, which walk never lists); a pattern that names such a part itself (`_staging/*.csv`) asks for it
    const asksUnderscored = pattern.some((p) => p.startsWith('_'));
    const files = walk(base).filter((f) => {
      const below = f.slice(base.length + 1).split(sep);
      return re.test(below.join('/')) && (asksUnderscored || !below.some((p) => p.startsWith('_')));
    });
    if (files.length === 0) throw new FloyoError(`no files match ${location}`);
    return files.map((path) => ({ kind: 'file', location: path, path, bytes: statSync(path).size }));
  }
  if (!existsSync(abs)) throw new FloyoError(`no such file or folder: ${location}`);
  const st = statSync(abs);
  if (st.isDirectory()) {
    const files = walk(abs).filter((f) => isDataFile(relative(abs, f)));
    if (files.length === 0) throw new FloyoError(`the folder ${location} holds no data files (${DATA_FILE_KINDS})`);
    return files.map((path) => ({ kind: 'file', location: path, path, bytes: statSync(path).size }));
  }
  return [{ kind: 'file', location: abs, path: abs, bytes: st.size }];
}

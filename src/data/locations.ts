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
 * What a file under a folder or prefix is, by its path below that folder or prefix. A part of the path
 * starting with '_' or '.' makes it a side file: the markers and side files of Spark, Hadoop and friends
 * (_SUCCESS, _committed_*, .part-0.crc, _temporary/ of unfinished jobs), expected beside the data.
 * Otherwise a data file extension makes it data, and anything else (sales.csv.bz2, notes.xlsx) is
 * unsupported: perhaps data Floyo cannot read, so it is reported (see FilesNotRead).
 */
export function fileKind(relativePath: string): 'data' | 'side' | 'unsupported' {
  if (relativePath.split(/[\\/]/).some((part) => part.startsWith('_') || part.startsWith('.'))) return 'side';
  return DATA_FILE.test(relativePath) ? 'data' : 'unsupported';
}

/** What the folders, globs and prefixes of an ingest held besides the data it read (IngestSummary.filesNotRead). */
export interface NotRead {
  /** files with no data extension (sales.csv.bz2, notes.xlsx): perhaps data in a format Floyo does not read */
  unsupported: number;
  /** those by their last extension (".bz2"; "(none)" for a name without one) */
  byExtension: Record<string, number>;
  /** the first few of them, as locations */
  examples: string[];
  /** side files of Spark and Hadoop (_SUCCESS, .crc, _temporary/…): expected, so only counted */
  sideFiles: number;
}

const NOT_READ_EXAMPLES = 3;

/** Tallies the files a folder, glob or S3 prefix held and the ingest does not read, for every kind of location alike. */
export class FilesNotRead {
  private readonly tally: NotRead = { unsupported: 0, byExtension: {}, examples: [], sideFiles: 0 };

  add(kind: 'side' | 'unsupported', location: string): void {
    if (kind === 'side') {
      this.tally.sideFiles++;
      return;
    }
    this.tally.unsupported++;
    const name = location.slice(location.lastIndexOf('/') + 1);
    const dot = name.lastIndexOf('.');
    const extension = dot > 0 ? name.slice(dot).toLowerCase() : '(none)';
    this.tally.byExtension[extension] = (this.tally.byExtension[extension] ?? 0) + 1;
    if (this.tally.examples.length < NOT_READ_EXAMPLES) this.tally.examples.push(location);
  }

  summary(): NotRead {
    return structuredClone(this.tally);
  }
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

/**
 * Local locations → files. S3 locations are listed by the caller (they need a client). The files a
 * folder or glob passes over are told to `notRead`.
 */
export function resolveLocalLocation(location: string, cwd = process.cwd(), notRead = new FilesNotRead()): SourceRef[] {
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
      if (!re.test(below.join('/'))) return false;
      if (asksUnderscored || !below.some((p) => p.startsWith('_'))) return true;
      notRead.add('side', f);
      return false;
    });
    if (files.length === 0) throw new FloyoError(`no files match ${location}`);
    return files.map((path) => ({ kind: 'file', location: path, path, bytes: statSync(path).size }));
  }
  if (!existsSync(abs)) throw new FloyoError(`no such file or folder: ${location}`);
  const st = statSync(abs);
  if (st.isDirectory()) {
    const files = walk(abs).filter((f) => {
      const kind = fileKind(relative(abs, f));
      if (kind !== 'data') notRead.add(kind, f);
      return kind === 'data';
    });
    if (files.length === 0) throw new FloyoError(`the folder ${location} holds no data files (${DATA_FILE_KINDS})`);
    return files.map((path) => ({ kind: 'file', location: path, path, bytes: statSync(path).size }));
  }
  return [{ kind: 'file', location: abs, path: abs, bytes: st.size }];
}

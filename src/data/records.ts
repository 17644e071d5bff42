// Format readers: a local file (CSV, gzip CSV, NDJSON, Parquet) → batches of SourceRecords with row numbers.
// Detection by extension, confirmed by content (gzip and Parquet magic bytes), overridable.
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FloyoError } from '../errors.js';
import { CsvParser } from './csv.js';
import { ENCODINGS, type Encoding } from './mapping.js';
import { OTHER_DELIMITERS, type SourceRecord } from './rows.js';
import type { TypedValue } from './values.js';

export type Format = 'csv' | 'csv.gz' | 'parquet' | 'ndjson' | 'ndjson.gz';

function sniff(path: string, bytes = 4): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The format a file's name says (null: an extension that names none). */
function formatByName(name: string): Format | null {
  const lower = name.toLowerCase();
  const gz = lower.endsWith('.gz');
  const base = gz ? lower.slice(0, -3) : lower;
  if (/\.parquet$/.test(base)) return gz ? null : 'parquet';
  if (/\.(ndjson|jsonl|json)$/.test(base)) return gz ? 'ndjson.gz' : 'ndjson';
  if (/\.(csv|tsv|txt)$/.test(base)) return gz ? 'csv.gz' : 'csv';
  return null;
}

export interface DetectedFormat {
  format: Format;
  /** when the content overrode what the name says (a plain CSV named .csv.gz): said once, as a note */
  note?: string;
}

/**
 * The format of a local file: the override if given, else by its content where the content is certain
 * (gzip and Parquet magic bytes), else by extension. A name that says otherwise than the magic bytes
 * (gzip bytes named .csv, a plain CSV named .csv.gz, Parquet named .csv) is read by its content, with a
 * note; CSV and NDJSON, which no magic bytes tell apart, are checked as they are read (openRecords). An
 * override the content contradicts is refused: reading gzip bytes as text gives nothing but errors.
 */
export function detectFormat(path: string, name: string, override: string = 'auto'): DetectedFormat {
  const head = sniff(path, 4);
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const parquet = head.toString('latin1') === 'PAR1';
  const content = gz ? 'gzip-compressed' : parquet ? 'Parquet' : null;
  if (override !== 'auto') {
    const wantsGzip = override === 'csv.gz' || override === 'ndjson.gz';
    if (wantsGzip && !gz) throw new FloyoError(`${name}: format ${override} was asked for, but the file is not gzip-compressed`, { file: name });
    if (override === 'parquet' && !parquet) throw new FloyoError(`${name}: format parquet was asked for, but the file does not start with PAR1`, { file: name });
    if (!wantsGzip && override !== 'parquet' && content) {
      throw new FloyoError(`${name}: format ${override} was asked for, but the file is ${content} (use --format ${gz ? `${override}.gz` : 'parquet'}, or auto)`, { file: name });
    }
    return { format: override as Format };
  }
  const byName = formatByName(name);
  const json = byName?.startsWith('ndjson') ?? false;
  if (/\.parquet$/i.test(name) && !parquet) {
    throw new FloyoError(`${name}: the name says Parquet, but the file does not start with PAR1 (not a Parquet file)`, { file: name });
  }
  let format: Format;
  if (parquet) format = 'parquet';
  else if (gz) format = json ? 'ndjson.gz' : 'csv.gz';
  else if (byName) format = byName.replace(/\.gz$/, '') as Format;
  // unknown extension: a first '{' (NDJSON) or '[' (a JSON array) means JSON, anything else is read as CSV
  else format = head.length && (head[0] === 0x7b || head[0] === 0x5b) ? 'ndjson' : 'csv';
  if (byName === null || byName === format) return { format };
  const is = gz ? 'gzip-compressed' : parquet ? 'Parquet' : 'not gzip-compressed';
  return { format, note: `${name}: the name says ${byName}, but the file is ${is}: read as ${format}` };
}

export interface RecordReader {
  columns: string[];
  batches: AsyncIterable<SourceRecord[]>;
  /**
   * NDJSON and JSON arrays only, once read: of `columns` (the keys the mapping reads), those some object
   * had (null when no object was read). Objects name their keys row by row, so a key the mapping reads
   * that no object has is only known at the end.
   */
  keysSeen?: () => string[] | null;
}

export interface ReadOptions {
  name: string;
  /** unset: a tab for .tsv and .tsv.gz, else a comma */
  delimiter?: string;
  quote?: string;
  encoding?: Encoding;
  /** columns to project from NDJSON objects (they have no header) */
  ndjsonColumns?: string[];
  onBytes?: (bytesRead: number, total: number) => void;
  connection?: DuckDBConnection;
}

function byteStream(path: string, gz: boolean, options: ReadOptions): Readable {
  const total = statSync(path).size;
  const raw = createReadStream(path, { highWaterMark: 1 << 16 });
  let read = 0;
  raw.on('data', (chunk) => {
    read += chunk.length;
    options.onBytes?.(read, total);
  });
  if (!gz) return raw;
  const gunzip = createGunzip({ chunkSize: 1 << 16 });
  raw.on('error', (err) => gunzip.destroy(err));
  gunzip.on('close', () => raw.destroy()); // a read that stops early closes the file too
  return raw.pipe(gunzip);
}

function readError(err: unknown, name: string): FloyoError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message)) {
    return new FloyoError(`${name}: the gzip data is truncated (the file ends before the compressed stream does)`, { file: name });
  }
  if (e.code?.startsWith('Z_')) return new FloyoError(`${name}: the gzip data is corrupt (${e.message})`, { file: name });
  return new FloyoError(`${name}: cannot read the file (${e.code ?? e.message})`, { file: name });
}

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Length of the byte sequence a UTF-8 lead byte starts (0: not a lead byte). */
function sequenceLength(b: number): number {
  return b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
}

/** How many bytes at the end of `bytes` start a character that the next chunk completes (0-3). */
function incompleteTail(bytes: Buffer): number {
  for (let k = 1; k <= 3 && k <= bytes.length; k++) {
    const b = bytes[bytes.length - k];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = sequenceLength(b);
    return need > k ? k : 0;
  }
  return 0;
}

/** Offset of the first byte that is not valid UTF-8 (-1 if none); only called once isUtf8 said there is one. */
function firstInvalidByte(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = sequenceLength(b);
    if (n === 0 || i + n > bytes.length) return i;
    // the second byte's range excludes overlong forms, UTF-16 surrogates and code points above U+10FFFF
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if (k === 1 ? c < lo || c > hi : (c & 0xc0) !== 0x80) return i;
    }
    i += n;
  }
  return -1;
}

function countLines(bytes: Buffer, end: number): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0 && i < end; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * Invalid UTF-8 fails the source: decoded, it would become U+FFFD, and ids differing only in an accent
 * would merge (two customers as one) with nothing to show for it. A U+FFFD written in the file is valid.
 * The message names the line and byte offset, and the fix (most such files are Latin-1 or Windows-1252).
 */
class Utf8Check {
  private carry: Buffer = Buffer.alloc(0); // a character split across chunks: its first bytes
  private offset = 0; // bytes before carry
  private lines = 0; // line ends before carry

  constructor(private readonly name: string, private readonly gz: boolean) {}

  push(chunk: Buffer): void {
    const bytes = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = bytes.length - incompleteTail(bytes);
    const body = bytes.subarray(0, whole);
    if (!isUtf8(body)) this.fail(body, firstInvalidByte(body));
    this.offset += whole;
    this.lines += countLines(body, whole);
    this.carry = Buffer.from(bytes.subarray(whole));
  }

  end(): void {
    if (this.carry.length) this.fail(this.carry, 0); // the file ends inside a character
  }

  private fail(bytes: Buffer, at: number): never {
    const where = Math.max(at, 0);
    const line = this.lines + countLines(bytes, where) + 1;
    throw new FloyoError(
      `${this.name}: not valid UTF-8: line ${line}, byte offset ${this.offset + where}${this.gz ? ' of the uncompressed data' : ''} ` +
        `(byte 0x${bytes[where].toString(16).padStart(2, '0')}). If the file is Windows-1252 (most exports made on Windows; it also reads Latin-1 text), ` +
        `set csv.encoding: windows-1252 in the mapping (encodings: ${ENCODINGS.join(', ')}); nothing from this file was ingested`,
      { file: this.name, offset: this.offset + where },
    );
  }
}

/**
 * Windows-1252's characters for the bytes 0x80-0x9F (the WHATWG table; its five unassigned bytes stay the
 * C1 controls), where Latin-1 has C1 controls: € – ’ “ ” … in exports made on Windows.
 */
const WINDOWS_1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Windows-1252 text from its Latin-1 reading (one character per byte): only 0x80-0x9F differ. Done here,
 * not with TextDecoder('windows-1252'): Node 20.18.3 and later decode that as Latin-1 (nodejs/node#60888).
 */
export function fromWindows1252(latin1: string): string {
  return /[\x80-\x9f]/.test(latin1) ? latin1.replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]) : latin1;
}

async function* decodedChunks(stream: Readable, options: ReadOptions, gz: boolean): AsyncIterable<string> {
  const encoding = options.encoding ?? 'utf-8';
  // StringDecoder keeps multi-byte characters split across chunks intact, and is faster than TextDecoder here.
  const decoder = new StringDecoder(encoding === 'utf-8' ? 'utf8' : 'latin1');
  const decode = encoding === 'windows-1252' ? (b: Buffer) => fromWindows1252(decoder.write(b)) : (b: Buffer) => decoder.write(b);
  const check = encoding === 'utf-8' ? new Utf8Check(options.name, gz) : null;
  const chunks = stream[Symbol.asyncIterator]();
  try {
    while (true) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw readError(err, options.name);
      }
      if (next.done) break;
      check?.push(next.value);
      yield decode(next.value);
    }
  } finally {
    await chunks.return?.(); // closes the file when the read stops early (a failed check, a failed load)
  }
  check?.end();
  const tail = decoder.end();
  if (tail) yield tail;
}

export async function openRecords(path: string, format: Format, options: ReadOptions): Promise<RecordReader> {
  if (format === 'parquet') return openParquet(path, options);
  const gz = format.endsWith('.gz');
  const stream = byteStream(path, gz, options);
  const chunks = decodedChunks(stream, options, gz);
  return format.startsWith('ndjson') ? openJson(chunks, options) : openCsv(chunks, options);
}

/** The delimiter a file is read with: the mapping's, else a tab for .tsv files, else a comma. */
export function csvDelimiter(name: string, delimiter: string | undefined): string {
  return delimiter ?? (/\.tsv(\.gz)?$/i.test(name) ? '\t' : ',');
}

/** "the header looks tab-separated: ..." when the text holds another common delimiter more than once; else ''. */
function malformedHeaderHint(header: string, used: string): string {
  let best: [string, string] | null = null;
  let most = 1;
  for (const candidate of OTHER_DELIMITERS) {
    if (candidate[0] === used) continue;
    const n = countOf(header, candidate[0]);
    if (n > most) [best, most] = [candidate, n];
  }
  return best ? `the header looks ${best[1]}-separated: set csv.delimiter: ${JSON.stringify(best[0])} in the mapping` : '';
}

async function openCsv(chunks: AsyncIterable<string>, options: ReadOptions): Promise<RecordReader> {
  const delimiter = csvDelimiter(options.name, options.delimiter);
  const parser = new CsvParser({ delimiter, quote: options.quote });
  const iterator = chunks[Symbol.asyncIterator]();
  let pending: ReturnType<CsvParser['push']> = [];
  let done = false;
  // read until the header is complete
  while (pending.length === 0 && !done) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      pending = parser.end();
    } else {
      pending = parser.push(next.value);
    }
  }
  if (pending.length === 0) throw new FloyoError(`${options.name}: the file is empty (no header line)`, { file: options.name });
  const header = pending.shift()!;
  // a JSON file named .csv: its header would be a JSON object, and every column "missing"
  if (/^[\s\ufeff]*(\{|\[\s*(\{|$))/.test(header.raw)) {
    throw new FloyoError(
      `${options.name}: this does not look like CSV: line 1 starts with "${header.raw.trimStart().replace(/^\ufeff/, '')[0]}", as NDJSON or JSON does; use --format ndjson, or name the file .ndjson`,
      { file: options.name, row: 1 },
    );
  }
  if (header.error) {
    const hint = malformedHeaderHint(header.raw, delimiter);
    throw new FloyoError(`${options.name}: the header line is malformed (${header.error})${hint ? `; ${hint}` : ''}`, { file: options.name, row: 1 });
  }
  const columns = header.fields.map((c) => c.trim());
  let row = 0;
  const toRecords = (recs: typeof pending): SourceRecord[] =>
    recs.map((r) => ({ values: r.fields, row: ++row, line: r.line, error: r.error, raw: r.raw }));
  async function* batches(): AsyncIterable<SourceRecord[]> {
    if (pending.length) yield toRecords(pending);
    if (done) return;
    while (true) {
      const next = await iterator.next();
      if (next.done) break;
      const recs = parser.push(next.value);
      if (recs.length) yield toRecords(recs);
    }
    const last = parser.end();
    if (last.length) yield toRecords(last);
  }
  return { columns, batches: batches() };
}

/**
 * NDJSON (one object per line), or a file holding one JSON array of objects (what most tools write to
 * a .json file), told apart by the first character. An array is split into its elements as it streams.
 */
function openJson(chunks: AsyncIterable<string>, options: ReadOptions): RecordReader {
  const columns = options.ndjsonColumns ?? [];
  const seen = new Uint8Array(columns.length);
  let objects = 0;
  let row = 0;
  const record = (text: string, line: number): SourceRecord => {
    row++;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
      // JSON numbers are doubles: an id such as 12345678901234567890 would lose its last digits
      if (obj !== null && typeof obj === 'object' && hasUnsafeInteger(obj)) obj = JSON.parse(quoteLongIntegers(text));
    } catch (err) {
      // one reason for every parse error, so the counts do not split by position; the detail says where
      return { values: [], row, line, error: 'invalid JSON', detail: (err as Error).message, raw: text };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return { values: [], row, line, error: 'not a JSON object', detail: Array.isArray(obj) ? 'an array' : obj === null ? 'null' : `a ${typeof obj}`, raw: text };
    }
    const o = obj as Record<string, unknown>;
    objects++;
    const values = new Array<string>(columns.length);
    let typed: Array<TypedValue | undefined> | undefined;
    let nested: number[] | undefined;
    for (let i = 0; i < columns.length; i++) {
      const v = o[columns[i]];
      if (v !== undefined) seen[i] = 1;
      if (typeof v === 'number') {
        // a JSON number is a number: the mapping's decimal comma or thousands separator must not re-read it
        (typed ??= new Array(columns.length))[i] = v;
        values[i] = renderNumber(v);
      } else {
        // an object or array is kept as its JSON text, and said to be one: the row mapper decides
        if (v !== null && typeof v === 'object') (nested ??= []).push(i);
        values[i] = cell(v);
      }
    }
    return { values, typed, row, line, raw: text, nested };
  };
  async function* batches(): AsyncIterable<SourceRecord[]> {
    const iterator = chunks[Symbol.asyncIterator]();
    let first = '';
    // the first chunks up to the first character that is not white space (or a BOM)
    while (true) {
      const next = await iterator.next();
      if (next.done) break;
      first += next.value;
      if (/[^\s\ufeff]/.test(first)) break;
    }
    first = first.replace(/^\ufeff/, '');
    const start = /\S/.exec(first)?.[0];
    if (start !== undefined && start !== '{' && start !== '[') throw notJson(options.name, first);
    async function* rest(): AsyncIterable<string> {
      if (first) yield first;
      while (true) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    }
    if (/^\s*\[/.test(first)) {
      const splitter = new JsonArraySplitter(options.name);
      for await (const chunk of rest()) {
        const out = splitter.push(chunk).map((e) => record(e.text, e.line));
        if (out.length) yield out;
      }
      const out = splitter.end().map((e) => record(e.text, e.line));
      if (out.length) yield out;
      return;
    }
    let carry = '';
    let line = 0;
    let seenRecord = false;
    const parseLine = (text: string): SourceRecord | null => {
      line++;
      const t = text.trim();
      if (t === '') return null;
      if (!seenRecord && t === '{') {
        throw new FloyoError(
          `${options.name}: expected NDJSON (one JSON object per line) or a JSON array of objects; ` +
            'this looks like one JSON document spread over several lines',
          { file: options.name },
        );
      }
      seenRecord = true;
      return record(t, line);
    };
    for await (const chunk of rest()) {
      const text = carry + chunk;
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      const out: SourceRecord[] = [];
      for (const l of lines) {
        const r = parseLine(l);
        if (r) out.push(r);
      }
      if (out.length) yield out;
    }
    const r = carry ? parseLine(carry) : null;
    if (r) yield [r];
  }
  return { columns, batches: batches(), keysSeen: () => (objects ? columns.filter((_, k) => seen[k] === 1) : null) };
}

/**
 * A file read as NDJSON whose first line starts with neither '{' nor '[': most likely a CSV with the
 * wrong name. Failing at once says so, where reading on quarantined every line as invalid JSON and
 * blamed the mapping.
 */
function notJson(name: string, text: string): FloyoError {
  const line = text.trimStart().split(/\r?\n/, 1)[0];
  const shown = JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
  const csv = /[,;\t|]/.test(line);
  return new FloyoError(
    `${name}: this does not look like NDJSON or a JSON array: line 1 ${csv ? 'looks like CSV' : 'does not start with "{" or "["'} (${shown})` +
      `${csv ? '; use --format csv, or name the file .csv' : ''}`,
    { file: name, row: 1 },
  );
}

/** Splits a streamed JSON array into the texts of its elements, each with the line it starts on. */
class JsonArraySplitter {
  private buf = '';
  private scanned = 0; // characters of buf already looked at
  private start = -1; // where the current element starts in buf (-1: between elements)
  private startLine = 0;
  private line = 1;
  private depth = 0; // 0 before '[' and after the closing ']'
  private opened = false;
  private closed = false;
  private inString = false;
  private escaped = false;
  private afterComma = false; // a ',' was read and no element after it yet

  constructor(private readonly name: string) {}

  push(chunk: string): Array<{ text: string; line: number }> {
    this.buf += chunk;
    const out: Array<{ text: string; line: number }> = [];
    const s = this.buf;
    let i = this.scanned;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 10) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) continue;
      if (this.closed) throw this.error('there is more text after the array closes');
      if (!this.opened) {
        if (c !== 91) throw this.error('the file does not start with "["');
        this.opened = true;
        this.depth = 1;
        continue;
      }
      if (this.depth === 1 && (c === 44 || c === 93)) {
        // ',' or the closing ']' ends an element
        // an element that is not there ([1,,2], [1,]) is an invalid row, as a blank one would be
        if (this.start >= 0) out.push({ text: s.slice(this.start, i).trim(), line: this.startLine });
        else if (c === 44 || this.afterComma) out.push({ text: '', line: this.line });
        this.start = -1;
        this.afterComma = c === 44;
        if (c === 93) {
          this.depth = 0;
          this.closed = true;
        }
        continue;
      }
      if (this.start < 0) {
        this.start = i;
        this.startLine = this.line;
        this.afterComma = false;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) this.depth++;
      else if (c === 125 || c === 93) this.depth--;
    }
    // keep only the element being read
    if (this.start >= 0) {
      this.buf = s.slice(this.start);
      this.scanned = i - this.start;
      this.start = 0;
    } else {
      this.buf = '';
      this.scanned = 0;
    }
    return out;
  }

  end(): Array<{ text: string; line: number }> {
    if (!this.closed) throw this.error(this.opened ? 'the array is not closed (the file ends inside it)' : 'the file holds no JSON array');
    return [];
  }

  private error(what: string): FloyoError {
    return new FloyoError(`${this.name}: not a JSON array of objects: ${what} (line ${this.line}); NDJSON (one object per line) is read too`, { file: this.name });
  }
}

function hasUnsafeInteger(obj: object): boolean {
  for (const v of Object.values(obj)) if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) return true;
  return false;
}

/** The JSON text with every integer literal of more than 15 digits (outside strings) quoted, so it stays exact. */
function quoteLongIntegers(text: string): string {
  const isDigit = (k: number) => k < text.length && text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57;
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip the string
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
      continue;
    }
    if (c !== 45 && !isDigit(i)) continue;
    let j = c === 45 ? i + 1 : i;
    const digitsFrom = j;
    while (isDigit(j)) j++;
    let integer = true;
    if (text[j] === '.') {
      integer = false;
      for (j++; isDigit(j); j++);
    }
    if (text[j] === 'e' || text[j] === 'E') {
      integer = false;
      j++;
      if (text[j] === '+' || text[j] === '-') j++;
      while (isDigit(j)) j++;
    }
    if (integer && j - digitsFrom > 15) {
      out += `${text.slice(last, i)}"${text.slice(i, j)}"`;
      last = j;
    }
    i = j - 1;
  }
  return last === 0 ? text : out + text.slice(last);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return renderNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/**
 * The text of a typed number: an integral value as an integer, whatever its storage type, so a
 * customer id stored as a double (13869.0, as pandas writes a column with gaps) reads "13869" like
 * the same id from a CSV. NaN (pandas' missing value) is no value.
 */
export function renderNumber(n: number): string {
  if (Number.isNaN(n)) return '';
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  return String(n);
}

/**
 * How each Parquet column is read. Typed values are kept typed: numbers as numbers (DECIMAL and FLOAT
 * through their exact decimal text, so 3.55 stays 3.55), timestamps as instants. A TIMESTAMP or DATE
 * has no zone: like a text timestamp without one it is read in the mapping's timestamp.timezone (UTC
 * by default); a TIMESTAMP WITH TIME ZONE is an instant as it is.
 */
type ParquetKind = 'text' | 'double' | 'exact' | 'naive' | 'zoned';

function parquetKind(type: string): ParquetKind {
  const t = type.toUpperCase();
  if (t === 'VARCHAR' || t === 'BOOLEAN') return 'text';
  if (t === 'DOUBLE') return 'double';
  if (t === 'FLOAT' || /^DECIMAL\b/.test(t) || /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(t)) return 'exact';
  if (t === 'TIMESTAMP WITH TIME ZONE') return 'zoned';
  if (/^TIMESTAMP(_NS|_MS|_S)?$/.test(t) || t === 'DATE') return 'naive';
  return 'text';
}

async function openParquet(path: string, options: ReadOptions): Promise<RecordReader> {
  const con = options.connection;
  if (!con) throw new Error('reading Parquet needs a DuckDB connection');
  const lit = `'${path.replace(/'/g, "''")}'`;
  let described: Array<{ name: string; kind: ParquetKind }>;
  try {
    const result = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${lit})`);
    described = result.getRowObjectsJS().map((r) => ({ name: String(r.column_name), kind: parquetKind(String(r.column_type)) }));
  } catch (err) {
    throw new FloyoError(`${options.name}: not a readable Parquet file (${duckdbReason(err, path)})`, { file: options.name });
  }
  const columns = described.map((c) => c.name);
  const total = statSync(path).size;
  const counted = await con.runAndReadAll(`SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit})`);
  const totalRows = Number(counted.getRowObjectsJS()[0].n) || 1;
  // one or two selected values per column: its text, and for timestamps the epoch milliseconds
  const select: string[] = [];
  for (const { name, kind } of described) {
    const c = `"${name.replace(/"/g, '""')}"`;
    if (kind === 'double') select.push(c);
    else if (kind === 'zoned') select.push(`TRY(epoch_ms(${c}))`);
    else select.push(`CAST(${c} AS VARCHAR)`);
    if (kind === 'naive') select.push(`TRY(epoch_ms(CAST(${c} AS TIMESTAMP)))`);
  }
  const hasTyped = described.some((c) => c.kind !== 'text');
  async function* batches(): AsyncIterable<SourceRecord[]> {
    let row = 0;
    let result;
    try {
      result = await con!.stream(`SELECT ${select.join(', ')} FROM read_parquet(${lit})`);
    } catch (err) {
      throw new FloyoError(`${options.name}: cannot read the Parquet data (${duckdbReason(err, path)})`, { file: options.name });
    }
    while (true) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const rows = chunk.getRows();
      yield rows.map((cells) => {
        row++;
        const values = new Array<string>(described.length);
        const typed = hasTyped ? new Array<TypedValue | undefined>(described.length) : undefined;
        let k = 0;
        for (let i = 0; i < described.length; i++) {
          const x = cells[k++];
          switch (described[i].kind) {
            case 'text':
              values[i] = x === null ? '' : String(x);
              break;
            // NaN and ±Infinity have no text (an id column's NaN is no id, as pandas means it) but stay
            // typed, so a quantity or price holding one is quarantined as not a finite number, not as missing
            case 'double': {
              if (x === null) values[i] = '';
              else {
                const n = Number(x);
                values[i] = Number.isFinite(n) ? renderNumber(n) : '';
                typed![i] = n;
              }
              break;
            }
            case 'exact': {
              const text = x === null ? '' : String(x);
              const n = Number(text);
              const special = NON_FINITE[text.toLowerCase()];
              if (text === '') values[i] = '';
              else if (special !== undefined) {
                values[i] = '';
                typed![i] = special;
              } else if (Number.isNaN(n)) values[i] = text;
              else {
                values[i] = text.replace(/\.0+$/, '');
                typed![i] = n;
              }
              break;
            }
            case 'zoned': {
              if (x === null) values[i] = '';
              else {
                const ms = Number(x);
                values[i] = new Date(ms).toISOString();
                typed![i] = { epochMs: ms, zoned: true };
              }
              break;
            }
            case 'naive': {
              const ms = cells[k++];
              values[i] = x === null ? '' : String(x);
              if (ms !== null) typed![i] = { epochMs: Number(ms), zoned: false };
              break;
            }
          }
        }
        return { values, typed, row, line: row };
      });
      options.onBytes?.(Math.round((total * row) / totalRows), total);
    }
  }
  return { columns, batches: batches() };
}

/** How DuckDB writes a FLOAT's special values as text. */
const NON_FINITE: Record<string, number> = { nan: NaN, '-nan': NaN, inf: Infinity, '-inf': -Infinity, infinity: Infinity, '-infinity': -Infinity };

/**
 * DuckDB's reason, without the path it read: for an S3 object that is a temporary download, which the
 * user never named (the message names the object already).
 */
function duckdbReason(err: unknown, path: string): string {
  return (err as Error).message.split('\n')[0].replace(/^Invalid Input Error: /, '').replaceAll(` '${path}'`, '').replaceAll(path, 'the file');
}

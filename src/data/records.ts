// Format readers: a local file (CSV, gzip CSV, NDJSON, Parquet) → batches of SourceRecords with row numbers.
// Detection by extension, confirmed by content (gzip and Parquet magic bytes), overridable.
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FloyoError } from '../errors.js';
import { CsvParser } from './csv.js';
import type { SourceRecord } from './rows.js';

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

/** The format of a local file: the override if given, else extension, checked against the content. */
export function detectFormat(path: string, name: string, override: string = 'auto'): Format {
  const head = sniff(path, 4);
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const parquet = head.toString('latin1') === 'PAR1';
  if (override !== 'auto') {
    if ((override === 'csv.gz' || override === 'ndjson.gz') && !gz) throw new FloyoError(`${name}: format ${override} was asked for, but the file is not gzip-compressed`, { file: name });
    if (override === 'parquet' && !parquet) throw new FloyoError(`${name}: format parquet was asked for, but the file does not start with PAR1`, { file: name });
    return override as Format;
  }
  const lower = name.toLowerCase().replace(/\.gz$/, '');
  const json = /\.(ndjson|jsonl|json)$/.test(lower);
  if (parquet) return 'parquet';
  if (gz) return json ? 'ndjson.gz' : 'csv.gz';
  if (/\.parquet$/.test(lower)) throw new FloyoError(`${name}: the name says Parquet, but the file does not start with PAR1 (not a Parquet file)`, { file: name });
  if (json) return 'ndjson';
  if (/\.(csv|tsv|txt)$/.test(lower)) return 'csv';
  // unknown extension: a first '{' means NDJSON, anything else is read as CSV
  return head.length && head[0] === 0x7b ? 'ndjson' : 'csv';
}

export interface RecordReader {
  columns: string[];
  batches: AsyncIterable<SourceRecord[]>;
}

export interface ReadOptions {
  name: string;
  delimiter?: string;
  quote?: string;
  encoding?: 'utf-8' | 'latin1';
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

async function* decodedChunks(stream: Readable, name: string, encoding: 'utf-8' | 'latin1'): AsyncIterable<string> {
  // StringDecoder keeps multi-byte characters split across chunks intact, and is faster than TextDecoder here.
  const decoder = new StringDecoder(encoding === 'latin1' ? 'latin1' : 'utf8');
  try {
    for await (const chunk of stream) yield decoder.write(chunk as Buffer);
  } catch (err) {
    throw readError(err, name);
  }
  const tail = decoder.end();
  if (tail) yield tail;
}

export async function openRecords(path: string, format: Format, options: ReadOptions): Promise<RecordReader> {
  if (format === 'parquet') return openParquet(path, options);
  const gz = format.endsWith('.gz');
  const stream = byteStream(path, gz, options);
  const chunks = decodedChunks(stream, options.name, options.encoding ?? 'utf-8');
  return format.startsWith('ndjson') ? openNdjson(chunks, options) : openCsv(chunks, options);
}

async function openCsv(chunks: AsyncIterable<string>, options: ReadOptions): Promise<RecordReader> {
  const parser = new CsvParser({ delimiter: options.delimiter, quote: options.quote });
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
  if (header.error) throw new FloyoError(`${options.name}: the header line is malformed (${header.error})`, { file: options.name, row: 1 });
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

function openNdjson(chunks: AsyncIterable<string>, options: ReadOptions): RecordReader {
  const columns = options.ndjsonColumns ?? [];
  async function* batches(): AsyncIterable<SourceRecord[]> {
    let rest = '';
    let line = 0;
    let row = 0;
    const parse = (text: string): SourceRecord | null => {
      line++;
      const t = text.trim();
      if (t === '') return null;
      row++;
      try {
        const obj = JSON.parse(t);
        if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
          return { values: [], row, line, error: 'not a JSON object', raw: t };
        }
        return { values: columns.map((c) => cell(obj[c])), row, line };
      } catch (err) {
        return { values: [], row, line, error: `invalid JSON (${(err as Error).message})`, raw: t.slice(0, 1000) };
      }
    };
    for await (const chunk of chunks) {
      const text = rest + chunk;
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      const out: SourceRecord[] = [];
      for (const l of lines) {
        const r = parse(l);
        if (r) out.push(r);
      }
      if (out.length) yield out;
    }
    const r = rest ? parse(rest) : null;
    if (r) yield [r];
  }
  return { columns, batches: batches() };
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

async function openParquet(path: string, options: ReadOptions): Promise<RecordReader> {
  const con = options.connection;
  if (!con) throw new Error('reading Parquet needs a DuckDB connection');
  const lit = `'${path.replace(/'/g, "''")}'`;
  let columns: string[];
  try {
    const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${lit})`);
    columns = described.getRowObjectsJS().map((r) => String(r.column_name));
  } catch (err) {
    throw new FloyoError(`${options.name}: not a readable Parquet file (${firstLine((err as Error).message)})`, { file: options.name });
  }
  const total = statSync(path).size;
  const counted = await con.runAndReadAll(`SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit})`);
  const totalRows = Number(counted.getRowObjectsJS()[0].n) || 1;
  const select = columns.map((c) => `CAST("${c.replace(/"/g, '""')}" AS VARCHAR)`).join(', ');
  async function* batches(): AsyncIterable<SourceRecord[]> {
    let row = 0;
    let result;
    try {
      result = await con!.stream(`SELECT ${select} FROM read_parquet(${lit})`);
    } catch (err) {
      throw new FloyoError(`${options.name}: cannot read the Parquet data (${firstLine((err as Error).message)})`, { file: options.name });
    }
    while (true) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const rows = chunk.getRows();
      yield rows.map((values) => {
        row++;
        return { values: values.map((x) => (x === null ? '' : String(x))), row, line: row };
      });
      options.onBytes?.(Math.round((total * row) / totalRows), total);
    }
  }
  return { columns, batches: batches() };
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}

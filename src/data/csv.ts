// A streaming RFC 4180 CSV parser that keeps every record's physical line number.
// Handles: a BOM, CRLF/LF/CR line ends, quoted fields with delimiters, doubled quotes and newlines.
// Broken input never swallows the file: a quoted field still open after `maxQuotedBytes` (or at the end)
// is reported as one bad record starting at its line, and parsing resumes on the next physical line.

export interface CsvOptions {
  delimiter?: string;
  quote?: string;
  /** a quoted field longer than this is taken as an unterminated quote (default 1 MiB) */
  maxQuotedBytes?: number;
}

export interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts */
  line: number;
  /** set when the record is malformed; fields then hold what could be read */
  error?: string;
  /** the record's text as read, line ends inside quotes included, so a quarantined row shows what was there */
  raw: string;
}

const LF = 10;
const CR = 13;

export class CsvParser {
  private readonly delim: number;
  private readonly quote: number;
  private readonly maxQuoted: number;
  private buf = '';
  private line = 1; // physical line of buf[0]
  private started = false;

  constructor(options: CsvOptions = {}) {
    const d = options.delimiter ?? ',';
    const q = options.quote ?? '"';
    if (d.length !== 1 || q.length !== 1 || d === q) {
      throw new RangeError(`CSV delimiter and quote must be two different single characters, got ${JSON.stringify(d)} and ${JSON.stringify(q)}`);
    }
    this.delim = d.charCodeAt(0);
    this.quote = q.charCodeAt(0);
    this.maxQuoted = options.maxQuotedBytes ?? 1 << 20;
  }

  /** Feeds text; returns the complete records it holds. */
  push(chunk: string): CsvRecord[] {
    if (!this.started) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    this.buf = this.buf.length ? this.buf + chunk : chunk;
    return this.parse(false);
  }

  /** Ends the input; returns the last records. */
  end(): CsvRecord[] {
    return this.parse(true);
  }

  private parse(final: boolean): CsvRecord[] {
    const out: CsvRecord[] = [];
    const s = this.buf;
    const n = s.length;
    const delim = this.delim, quote = this.quote, quoteChar = String.fromCharCode(quote), delimChar = String.fromCharCode(delim);
    let pos = 0; // start of the first record not yet emitted
    let line = this.line; // physical line of pos
    // Where the next quote, LF and CR are (n: none left); found with indexOf, which is much faster than a
    // loop over the characters, and kept until pos passes them, so each is searched for once.
    let nextQuote = -1, nextLf = -1, nextCr = -1, nextDelim = -1;
    records: while (pos < n) {
      if (nextQuote < pos) nextQuote = indexOrEnd(s, quoteChar, pos);
      if (nextLf < pos) nextLf = indexOrEnd(s, '\n', pos);
      if (nextCr < pos) nextCr = indexOrEnd(s, '\r', pos);
      if (nextLf < n && nextQuote > nextLf && nextCr >= nextLf - 1) {
        // The common case: a whole record on one line (LF or CRLF) with no quote, split at the delimiters.
        const end = nextCr === nextLf - 1 ? nextCr : nextLf;
        if (end > pos) {
          const fields: string[] = [];
          let i = pos;
          while (true) {
            if (nextDelim < i) nextDelim = indexOrEnd(s, delimChar, i);
            if (nextDelim >= end) break;
            fields.push(s.slice(i, nextDelim));
            i = nextDelim + 1;
          }
          fields.push(s.slice(i, end));
          out.push({ fields, line, raw: s.slice(pos, end) });
        } // else a blank line
        line += 1;
        pos = nextLf + 1;
        continue;
      }
      const fields: string[] = [];
      let i = pos;
      let newlines = 0; // inside quoted fields of this record
      let error: string | undefined;
      fieldsLoop: while (true) {
        if (i < n && s.charCodeAt(i) === quote) {
          let j = i + 1;
          let value = '';
          while (true) {
            const k = s.indexOf(quoteChar, j);
            const tooLong = (k === -1 ? n : k) - i > this.maxQuoted;
            if (tooLong || (k === -1 && final)) {
              // unterminated: one bad record at its first line; resume on the next physical line
              const next = nextLine(s, pos);
              out.push({ fields: [], line, error: 'unterminated quoted field', raw: trimEol(s.slice(pos, next)) });
              pos = next;
              line += 1;
              continue records;
            }
            if (k === -1 || (k + 1 >= n && !final)) break records; // wait for more input
            if (k + 1 < n && s.charCodeAt(k + 1) === quote) {
              value += s.slice(j, k + 1);
              j = k + 2;
              continue;
            }
            value += s.slice(j, k);
            newlines += countNewlines(s, i, k);
            j = k + 1;
            break;
          }
          fields.push(value);
          i = j;
          if (i < n && s.charCodeAt(i) !== delim && s.charCodeAt(i) !== LF && s.charCodeAt(i) !== CR) {
            if (newlines > 0) {
              // a stray quote paired with one on a later line: the quote is broken, not a multi-line field
              const next = nextLine(s, pos);
              out.push({ fields: [], line, error: 'unbalanced quote', raw: trimEol(s.slice(pos, next)) });
              pos = next;
              line += 1;
              continue records;
            }
            // text after a closing quote on the same line: keep it, but the record is malformed
            error ??= `text after a closing quote in field ${fields.length}`;
            const end = fieldEnd(s, i, delim);
            if (end >= n && !final) break records;
            fields[fields.length - 1] += s.slice(i, end);
            i = end;
          }
        } else {
          const end = fieldEnd(s, i, delim);
          if (end >= n && !final) break records; // the field may continue in the next chunk
          fields.push(s.slice(i, end));
          i = end;
        }
        if (i >= n) {
          if (!final) break records;
          break fieldsLoop;
        }
        const c = s.charCodeAt(i);
        if (c === delim) {
          i++;
          if (i >= n) {
            if (!final) break records;
            fields.push('');
            break fieldsLoop;
          }
          continue;
        }
        // a line end
        if (c === CR) {
          if (i + 1 >= n && !final) break records; // CRLF split across chunks
          i += s.charCodeAt(i + 1) === LF ? 2 : 1;
        } else {
          i++;
        }
        break;
      }
      const recordLine = line;
      const recordStart = pos;
      line += 1 + newlines;
      pos = i;
      if (fields.length === 1 && fields[0] === '' && error === undefined) continue; // blank line
      const raw = trimEol(s.slice(recordStart, i));
      out.push(error === undefined ? { fields, line: recordLine, raw } : { fields, line: recordLine, error, raw });
    }
    this.buf = pos >= n ? '' : s.slice(pos);
    this.line = line;
    return out;
  }
}

function indexOrEnd(s: string, char: string, from: number): number {
  const i = s.indexOf(char, from);
  return i === -1 ? s.length : i;
}

function fieldEnd(s: string, from: number, delim: number): number {
  let i = from;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === delim || c === LF || c === CR) return i;
    i++;
  }
  return n;
}

function countNewlines(s: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) count++;
    else if (c === CR && s.charCodeAt(i + 1) !== LF) count++;
  }
  return count;
}

function nextLine(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) return i + 1;
    if (c === CR) return s.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
  }
  return s.length;
}

function trimEol(text: string): string {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === LF) end--;
  if (end > 0 && text.charCodeAt(end - 1) === CR) end--;
  return end === text.length ? text : text.slice(0, end);
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvParser, type CsvRecord } from '../../src/data/csv.js';

function parseAll(text: string, chunk: number, options = {}): CsvRecord[] {
  const p = new CsvParser(options);
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk)));
  out.push(...p.end());
  return out;
}

const CHUNKS = [1, 2, 3, 7, 64, 1 << 20];

test('quotes, doubled quotes, delimiters and newlines inside quotes; the same at every chunk size', () => {
  const text = 'a,b,c\n1,"x, ""y""",3\n"multi\nline",2,\n4,5,6';
  for (const chunk of CHUNKS) {
    const recs = parseAll(text, chunk);
    assert.deepEqual(recs.map((r) => r.fields), [['a', 'b', 'c'], ['1', 'x, "y"', '3'], ['multi\nline', '2', ''], ['4', '5', '6']], `chunk ${chunk}`);
    assert.deepEqual(recs.map((r) => r.line), [1, 2, 3, 5]);
  }
});

test('a BOM is dropped; CRLF and lone CR end lines; blank lines are not records', () => {
  for (const chunk of CHUNKS) {
    const recs = parseAll('\ufeffid,name\r\n1,é\r\n\r\n2,"a\r\nb"\r3,x\r\n', chunk);
    assert.deepEqual(recs.map((r) => r.fields), [['id', 'name'], ['1', 'é'], ['2', 'a\r\nb'], ['3', 'x']], `chunk ${chunk}`);
    assert.deepEqual(recs.map((r) => r.line), [1, 2, 4, 6]);
  }
});

test('an unbalanced quote costs one line, reported with its text; parsing resumes on the next line', () => {
  for (const chunk of CHUNKS) {
    const recs = parseAll('a,b\n"broken,1\n2,3\n4,"x"y\n5,6\n', chunk);
    assert.deepEqual(recs.map((r) => [r.line, r.error ?? 'ok']), [[1, 'ok'], [2, 'unbalanced quote'], [3, 'ok'], [4, 'text after a closing quote in field 2'], [5, 'ok']], `chunk ${chunk}`);
    assert.equal(recs[1].raw, '"broken,1');
    assert.equal(recs[3].raw, '4,"x"y');
  }
});

test('a quote left open to the end of the file is one bad record, and the lines after it are still read', () => {
  for (const chunk of CHUNKS) {
    const recs = parseAll('a,b\n1,2\n3,"never closed\n5,6\n7,8', chunk);
    assert.deepEqual(recs.map((r) => [r.line, r.error ?? r.fields.join('|')]), [[1, 'a|b'], [2, '1|2'], [3, 'unterminated quoted field'], [4, '5|6'], [5, '7|8']], `chunk ${chunk}`);
  }
});

test('a quoted field longer than the limit is taken as unterminated without reading the whole file into it', () => {
  const body = Array.from({ length: 50 }, (_, i) => `${i},x`).join('\n');
  const recs = parseAll(`a,b\n0,"open\n${body}\n`, 16, { maxQuotedBytes: 64 });
  assert.equal(recs[1].error, 'unterminated quoted field');
  assert.equal(recs.length, 52);
  assert.deepEqual(recs[2].fields, ['0', 'x']);
});

test('other delimiters and quotes; bad options are refused', () => {
  assert.deepEqual(parseAll("a;b\n'x;y';2", 3, { delimiter: ';', quote: "'" }).map((r) => r.fields), [['a', 'b'], ['x;y', '2']]);
  assert.throws(() => new CsvParser({ delimiter: ',,' }), /single characters/);
  assert.throws(() => new CsvParser({ delimiter: '"' }), /two different/);
});

test('a trailing delimiter gives an empty last field', () => {
  assert.deepEqual(parseAll('a,b\n1,', 1).map((r) => r.fields), [['a', 'b'], ['1', '']]);
});

test('plain lines and lines with quotes or a lone CR mix freely; a file with one column has no delimiter to find', () => {
  for (const chunk of CHUNKS) {
    const recs = parseAll('a,b\n1,x"y\n2,"q"\r\n3,\r4\n,\n5,6', chunk);
    assert.deepEqual(recs.map((r) => [r.line, ...r.fields]), [[1, 'a', 'b'], [2, '1', 'x"y'], [3, '2', 'q'], [4, '3', ''], [5, '4'], [6, '', ''], [7, '5', '6']], `chunk ${chunk}`);
    assert.deepEqual(parseAll('id\n1\n\n2\r\n3', chunk).map((r) => [r.line, ...r.fields]), [[1, 'id'], [2, '1'], [4, '2'], [5, '3']], `chunk ${chunk}`);
  }
});

test('every record keeps its source text as read: delimiters, quotes and line breaks inside quotes, without its line end', () => {
  const text = 'a;b;c\r\n1;"x; ""y""";3\r\n"multi\nline";2;\r\n4;5\n6;"q"z;7\n';
  for (const chunk of CHUNKS) {
    const recs = parseAll(text, chunk, { delimiter: ';' });
    assert.deepEqual(recs.map((r) => r.raw), ['a;b;c', '1;"x; ""y""";3', '"multi\nline";2;', '4;5', '6;"q"z;7'], `chunk ${chunk}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress } from '../../src/cli/progress.js';

/** A stand-in for stderr that keeps what is written; `isTTY` as given. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('off a terminal, a step that reports nothing for seconds still prints a line every few seconds, with its note; done stops them', async () => {
  const out = stream(false);
  const bar = createProgress({ stream: out })('train');
  bar.update(3, 12, 'features as of 2025-07-04');
  assert.equal(out.text, '', 'nothing in the first two seconds: short work stays quiet');
  await sleep(3600);
  const lines = out.text.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, out.text);
  assert.match(lines[0], /^train 25% 3\/12 features as of 2025-07-04 [23]\.\ds$/, 'the first line after two seconds');
  bar.done('models fitted');
  const after = out.text;
  assert.match(after, /\ntrain models fitted \(3\.\ds\)\n$/);
  await sleep(1200);
  assert.equal(out.text, after, 'no heartbeat after done');
});

test('on a terminal the bar is redrawn in place, its note after the counts, and cleared when done', async () => {
  const out = stream(true);
  const bar = createProgress({ stream: out })('ingest', 'rows');
  bar.update(500, 1000, 'orders.csv');
  assert.equal(out.text, '\r\x1b[Kingest [############............] 50% 500/1,000 orders.csv 0.0s');
  await sleep(1150);
  // escape sequences stripped: the last redraw is the heartbeat's, with the time gone on
  const plain = out.text.replaceAll('\x1b[K', '');
  assert.match(plain.slice(plain.lastIndexOf('\r')), /^\ringest \[#+\.+\] 50% 500\/1,000 orders\.csv 1\.\ds$/, 'the heartbeat redraws the time');
  bar.done();
  assert.match(out.text.replaceAll('\x1b[K', ''), /\ringest done \(1\.\ds\)\n$/, 'the bar cleared, then the summary');
});

test('quiet progress writes nothing', async () => {
  const out = stream(false);
  const bar = createProgress({ quiet: true, stream: out })('train');
  bar.update(1, 2, 'x');
  bar.done();
  assert.equal(out.text, '');
});

// Writing CSV as bytes rather than strings: every repeated field (a product's code and description, a
// price, a date) is encoded once up front, and rows are assembled by copying bytes and writing digits
// into a chunk buffer. Building rows as JS strings instead costs more in rope flattening and garbage
// collection than generating them.

/** Many short texts encoded as UTF-8 in one array: text i is bytes[start[i]..start[i+1]). */
export interface PackedTexts {
  readonly bytes: Uint8Array;
  readonly start: Int32Array;
  /** length in bytes of the longest text */
  readonly maxLength: number;
}

const encoder = new TextEncoder();

export function packTexts(texts: readonly string[]): PackedTexts {
  const encoded = texts.map((t) => encoder.encode(t));
  const start = new Int32Array(texts.length + 1);
  let maxLength = 0;
  for (let i = 0; i < encoded.length; i++) {
    start[i + 1] = start[i] + encoded[i].length;
    if (encoded[i].length > maxLength) maxLength = encoded[i].length;
  }
  const bytes = new Uint8Array(start[texts.length]);
  for (let i = 0; i < encoded.length; i++) bytes.set(encoded[i], start[i]);
  return { bytes, start, maxLength };
}

/** Copies text i of a packed set to out at pos; returns the position after it. */
export function putText(out: Uint8Array, pos: number, texts: PackedTexts, i: number): number {
  const src = texts.bytes;
  for (let k = texts.start[i], end = texts.start[i + 1]; k < end; k++) out[pos++] = src[k];
  return pos;
}

/** Copies src[from..to) to out at pos. */
export function putRange(out: Uint8Array, pos: number, src: Uint8Array, from: number, to: number): number {
  for (let k = from; k < to; k++) out[pos++] = src[k];
  return pos;
}

/** Writes an integer in decimal (with a minus sign when negative). */
export function putInt(out: Uint8Array, pos: number, value: number): number {
  let v = value;
  if (v < 0) {
    out[pos++] = 45; // '-'
    v = -v;
  }
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let at = pos + digits;
  const end = at;
  do {
    out[--at] = 48 + (v % 10);
    v = Math.floor(v / 10);
  } while (v > 0);
  return end;
}

/** Writes an ASCII string (for the rare field that is not pre-encoded). */
export function putAscii(out: Uint8Array, pos: number, text: string): number {
  for (let k = 0; k < text.length; k++) out[pos++] = text.charCodeAt(k);
  return pos;
}

// A shop's own columns → Floyo's canonical transaction line, with its conventions and business rules.
// A mapping is data (JSON or YAML), so a shop with another layout writes a file, not code.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { yaml } from '../yaml.js';
import { FORMATS } from '../config.js';
import { FloyoError } from '../errors.js';
import { timestampParser } from './values.js';

export const CANONICAL_FIELDS = [
  'orderId', 'customerId', 'productId', 'productName', 'quantity', 'unitPrice', 'lineTotal', 'timestamp', 'country', 'currency', 'refundedAmount',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];
/** Text encodings a CSV or NDJSON file can be read in (Parquet is always UTF-8). */
export const ENCODINGS = ['utf-8', 'windows-1252', 'latin1'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const COLUMN_REF_FORMS = 'the name of a source column, { column, fallback, lowercase }, { columns: [A, B] } or { value }';

const ColumnRef = z.union([
  z.string().min(1),
  z
    .object({
      column: z.string().min(1).optional().describe('source column'),
      columns: z
        .array(z.string().min(1))
        .min(2)
        .optional()
        .describe('several source columns joined into one value with "|" (a receipt number and its day as the order id)'),
      fallback: z.string().min(1).optional().describe('column used when `column` is blank'),
      value: z
        .string({
          // YAML reads `value: 1` as a number
          error: (issue) => `expected text, got ${JSON.stringify(issue.input)}${typeof issue.input === 'number' || typeof issue.input === 'boolean' ? ` (write "${issue.input}" in quotes)` : ''}`,
        })
        .optional()
        .describe('a constant instead of a column'),
      lowercase: z.boolean().optional().describe('lower-case the value (e.g. e-mail addresses as customer ids)'),
    })
    .strict()
    .refine((r) => [r.column, r.columns, r.value].filter((x) => x !== undefined).length === 1, {
      message: 'give exactly one of "column", "columns" or "value"',
    })
    .refine((r) => r.fallback === undefined || r.column !== undefined, { message: '"fallback" goes with "column"', path: ['fallback'] }),
], {
  // zod's own message for a union is "Invalid input": say what a column reference is, and what was wrong
  error: (issue) => {
    const input = issue.input;
    if (input === undefined) return `required: a column reference (${COLUMN_REF_FORMS})`;
    if (Array.isArray(input)) {
      const fix = input.length === 1 ? `write ${JSON.stringify(input[0])}` : `to join columns write { columns: ${JSON.stringify(input)} }`;
      return `expected a column reference (${COLUMN_REF_FORMS}), got the list ${JSON.stringify(input)}: ${fix}`;
    }
    if (typeof input === 'object' && input !== null && issue.code === 'invalid_union') {
      // what the object form found wrong (the string form's "expected string" says nothing)
      const inner = (issue.errors.find((errors) => errors.some((e) => e.path.length > 0)) ?? issue.errors.at(-1) ?? [])
        .map((e) => (e.path.length ? `${e.path.join('.')}: ${e.message}` : e.message));
      return `not a column reference (${COLUMN_REF_FORMS}): ${inner.join('; ')}`;
    }
    if (typeof input === 'object' && input !== null) return undefined; // the object's own issue says more
    return `expected a column reference (${COLUMN_REF_FORMS}), got ${JSON.stringify(input)}`;
  },
});
export type ColumnRef = z.infer<typeof ColumnRef>;

const CONDITION_TESTS = ['matches', 'notMatches', 'in', 'equals', 'lessThan', 'greaterThan', 'empty'] as const;
const Condition = z
  .object({
    field: z.enum(CANONICAL_FIELDS).optional().describe('a canonical field (its parsed value for numbers)'),
    column: z.string().min(1).optional().describe('a source column (raw text)'),
    matches: z.string().optional().describe('regular expression the text matches'),
    notMatches: z.string().optional().describe('regular expression the text does not match'),
    ignoreCase: z.boolean().optional().describe('matches and notMatches ignore case'),
    in: z.array(z.string()).optional().describe('one of these texts (case-insensitive)'),
    equals: z.union([z.string(), z.number()]).optional(),
    lessThan: z.number().optional(),
    greaterThan: z.number().optional(),
    empty: z.boolean().optional().describe('true: blank; false: not blank'),
  })
  .strict()
  .refine((c) => (c.field === undefined) !== (c.column === undefined), { message: 'give exactly one of "field" or "column"' })
  // a condition without a test holds for every line: a rule would exclude them all, returns.when make them all
  // returns (not said over an unknown key, most likely a test's name mistyped)
  .refine((c) => CONDITION_TESTS.some((k) => c[k] !== undefined), {
    message: 'give what to test: matches, notMatches, in, equals, lessThan, greaterThan or empty',
    when: (payload) => payload.issues.length === 0,
  });
export type Condition = z.infer<typeof Condition>;

export const MappingSchema = z
  .object({
    name: z.string().optional().describe('a name for the mapping'),
    description: z.string().optional().describe('what the mapping reads'),
    format: z.enum(FORMATS).optional().describe("the files' format; unset: from the extension, checked against the content"),
    csv: z
      .object({
        // no default: unset, a .tsv file is read with tabs and anything else with commas
        delimiter: z.string().length(1).optional(),
        quote: z.string().length(1).default('"'),
        encoding: z.enum(ENCODINGS).default('utf-8'),
      })
      .strict()
      .prefault({})
      .describe('delimiter: unset, a tab for .tsv files and a comma for others; windows-1252 for most exports made on Windows'),
    columns: z
      .object({
        orderId: ColumnRef,
        customerId: ColumnRef.optional(),
        productId: ColumnRef,
        productName: ColumnRef.optional(),
        quantity: ColumnRef,
        unitPrice: ColumnRef.optional().describe('the price of one unit'),
        lineTotal: ColumnRef.optional().describe(
          "the line's amount, for exports without a unit price: the unit price is its size over the quantity's, " +
            'and a negative amount makes the line a return',
        ),
        timestamp: ColumnRef,
        country: ColumnRef.optional(),
        currency: ColumnRef.optional(),
        refundedAmount: ColumnRef.optional().describe("an order's refunded amount, spread over its lines by value"),
      }, {
        error: (issue) => (issue.input === undefined
          ? `required: each field's column (orderId, productId, quantity, unitPrice or lineTotal, timestamp at least), e.g. columns: { orderId: InvoiceNo, ... }`
          : undefined),
      })
      .strict()
      .refine((c) => (c.unitPrice === undefined) !== (c.lineTotal === undefined), {
        message: 'give exactly one of "unitPrice" (the price of one unit) or "lineTotal" (quantity × unit price)',
      })
      .describe(
        'canonical field → your column; orderId, productId, quantity, timestamp and one of unitPrice or lineTotal ' +
          "(the line's amount: the unit price is derived, a negative one is a return) are required. " +
          'A column reference is a name, { column, fallback, lowercase }, ' +
          '{ columns: [A, B] } (joined with "|") or a constant { value }; every column named must be in the file',
      ),
    orderLevelColumns: z
      .array(z.string())
      .default([])
      .describe("columns written only on an order's first line, filled down over its next lines (which must follow it)"),
    timestamp: z
      .object({ format: z.string().default('auto'), timezone: z.string().default('UTC') })
      .strict()
      .prefault({})
      .describe(
        "format: auto | unix | unix-ms | a pattern like 'DD.MM.YYYY HH:mm' (tokens YYYY YY MM M DD D HH H hh h mm ss SSS A Z; " +
          'other letters in [brackets]; YY 69-99 is 1969-1999, 00-68 is 2000-2068); ' +
          'timezone, of times written without one: UTC | +01:00 | Europe/Berlin',
      ),
    numbers: z
      .object({ decimal: z.enum(['.', ',']).default('.'), thousands: z.enum(['', ',', '.', ' ', "'"]).default('') })
      .strict()
      .prefault({})
      .describe('the separators of numbers written as text'),
    returns: z
      .object({
        orderIdPattern: z.string().optional().describe("orders whose id matches (e.g. '^C') are credit notes"),
        when: z.array(Condition).min(1).optional().describe('a line matching every condition is a return (e.g. a type column saying "refund")'),
      })
      .strict()
      .prefault({})
      .describe(
        "orderIdPattern: orders whose id matches (e.g. '^C') are credit notes; when: conditions, as an exclude rule's, " +
          'that make a line a return; a negative quantity or line total is always one',
      ),
    exclude: z
      .array(z.object({ reason: z.string().min(1), when: z.array(Condition).min(1) }).strict())
      .default([])
      .describe(
        'business rules: a line matching every condition of a rule is excluded and counted under its reason. ' +
          'A condition reads a field (parsed numbers) or a column (its text); in and equals on text ignore case; ' +
          "numbers in a column are read with the mapping's numbers separators",
      ),
  })
  .strict();
/** `origin`: where it was read from ("preset shopify", "file fixed.yaml"), for messages; a copied preset keeps its `name`. */
export type Mapping = z.infer<typeof MappingSchema> & { origin?: string };

/** " (preset shopify)", " (file fixed.yaml)", " (its name)" or "": which mapping a message is about. */
export function mappingLabel(mapping: Mapping): string {
  const label = mapping.origin ?? mapping.name;
  return label ? ` (${label})` : '';
}

export const PRESETS: Record<string, unknown> = {
  'online-retail': {
    name: 'online-retail',
    description: 'UCI Online Retail (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country)',
    columns: {
      orderId: 'InvoiceNo',
      customerId: 'CustomerID',
      productId: 'StockCode',
      productName: 'Description',
      quantity: 'Quantity',
      unitPrice: 'UnitPrice',
      timestamp: 'InvoiceDate',
      country: 'Country',
      currency: { value: 'GBP' },
    },
    // ISO in the UCI export; the widely copied Kaggle CSV writes 12/1/2010 8:26 — use a mapping with 'M/D/YYYY H:mm' for it.
    timestamp: { format: 'auto', timezone: 'UTC' },
    returns: { orderIdPattern: '^C' },
    exclude: [
      // Stock adjustments: negative lines on normal invoices with no price and no customer (damages, lost, ...).
      { reason: 'stock adjustment', when: [{ field: 'orderId', notMatches: '^C' }, { field: 'quantity', lessThan: 0 }, { field: 'unitPrice', equals: 0 }] },
      // Postage, fees, manual adjustments, vouchers, samples: codes that do not start with five digits.
      { reason: 'non-product code', when: [{ field: 'productId', notMatches: '^\\d{5}' }] },
    ],
  },
  shopify: {
    name: 'shopify',
    description: 'Shopify admin orders export (one row per line item; order fields on the first row only)',
    columns: {
      orderId: 'Name',
      customerId: { column: 'Email', lowercase: true },
      productId: { column: 'Lineitem sku', fallback: 'Lineitem name' },
      productName: 'Lineitem name',
      quantity: 'Lineitem quantity',
      unitPrice: 'Lineitem price',
      timestamp: 'Created at',
      country: 'Billing Country',
      currency: 'Currency',
      refundedAmount: 'Refunded Amount',
    },
    orderLevelColumns: ['Financial Status', 'Currency', 'Refunded Amount', 'Billing Country', 'Cancelled at'],
    timestamp: { format: 'auto', timezone: 'UTC' },
    exclude: [
      { reason: 'voided order', when: [{ column: 'Financial Status', in: ['voided'] }] },
      // Shopify's sales reports do not count a cancelled order as a sale; before the gift-card rule, so
      // all of a cancelled order's lines count under this reason
      { reason: 'cancelled order', when: [{ column: 'Cancelled at', empty: false }] },
      { reason: 'gift card', when: [{ field: 'productName', matches: '^Gift Card\\b' }] },
    ],
  },
};

/** Validates a mapping object; errors name the key and what is allowed. */
export function parseMapping(value: unknown, origin: string): Mapping {
  const result = MappingSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const where = i.path.join('.') || '(top)';
      if (i.code !== 'unrecognized_keys') return `  ${where}: ${i.message}`;
      const allowed = allowedKeys(i.path);
      const unknown = i.keys.map((k) => `${JSON.stringify(k)}${keyHint(k, allowed, i.path.length === 0)}`).join(', ');
      return `  ${where}: unknown key${i.keys.length > 1 ? 's' : ''} ${unknown}; allowed: ${allowed.join(', ')}`;
    });
    throw new FloyoError(`mapping ${origin} is invalid:\n${lines.join('\n')}`);
  }
  const mapping = result.data;
  const checkRegex = (re: string | undefined, where: string) => {
    if (re === undefined) return;
    try {
      new RegExp(re);
    } catch (err) {
      throw new FloyoError(`mapping ${origin}: ${where} is not a valid regular expression: ${(err as Error).message}`);
    }
  };
  // A bad timestamp pattern or zone is refused here, naming the mapping, not on the first row of a file.
  try {
    timestampParser(mapping.timestamp);
  } catch (err) {
    const key = /^timezone/.test((err as Error).message) ? 'timestamp.timezone' : 'timestamp.format';
    throw new FloyoError(`mapping ${origin}: ${key}: ${(err as Error).message}`);
  }
  if (mapping.numbers.thousands === mapping.numbers.decimal) {
    throw new FloyoError(`mapping ${origin}: numbers.thousands and numbers.decimal are both "${mapping.numbers.decimal}"; they must differ`);
  }
  checkRegex(mapping.returns.orderIdPattern, 'returns.orderIdPattern');
  // the price the mapping works out (the unit price from a line total, or the other way) is a number with
  // no text of its own: a text test on it would see '' on every line (empty: true would hold for all)
  const derived = mapping.columns.lineTotal !== undefined ? 'unitPrice' : 'lineTotal';
  const given = derived === 'unitPrice' ? 'lineTotal' : 'unitPrice';
  for (const { conditions, key } of conditionLists(mapping)) {
    conditions.forEach((c, k) => {
      checkRegex(c.matches, `${key}[${k}].matches`);
      checkRegex(c.notMatches, `${key}[${k}].notMatches`);
      const textTest = (['matches', 'notMatches', 'in', 'empty'] as const).find((t) => c[t] !== undefined) ?? (typeof c.equals === 'string' ? 'equals' : undefined);
      if (c.field === derived && textTest) {
        throw new FloyoError(
          `mapping ${origin}: ${key}[${k}]: field ${derived} is worked out from ${given} in this mapping, so it has no text for ${textTest}: ` +
            `compare it as a number (lessThan, greaterThan, equals a number), or test the source column with column:`,
        );
      }
    });
  }
  // not enumerable: where a mapping came from is not part of it (a spread copy is validated again as content,
  // and `floyo presets` prints the content)
  return Object.defineProperty(mapping, 'origin', { value: origin, enumerable: false }) as Mapping;
}

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  enum?: string[];
  description?: string;
}

/** The mapping schema as JSON Schema: what messages and `floyo presets --help` read the keys from, so they cannot drift. */
function mappingJsonSchema(): JsonSchemaNode {
  return z.toJSONSchema(MappingSchema, { io: 'input' }) as JsonSchemaNode;
}

/** A union's object form (a column reference's { column, ... }), or the node itself. */
const objectOf = (n: JsonSchemaNode | undefined) => n?.anyOf?.find((o) => o.properties) ?? n;

/** The keys a mapping allows at a path (`['timestamp']`, `['exclude', 0, 'when', 1]`), read from the schema. */
export function allowedKeys(path: PropertyKey[]): string[] {
  let node: JsonSchemaNode | undefined = mappingJsonSchema();
  for (const part of path) {
    node = objectOf(node);
    node = typeof part === 'number' ? node?.items : node?.properties?.[String(part)];
  }
  return Object.keys(objectOf(node)?.properties ?? {});
}

/**
 * Every key of a mapping, one top-level key a line: its shape ({ delimiter, quote, encoding: utf-8 | ... })
 * and its description, wrapped to `width`. For `floyo presets --help`.
 */
export function mappingKeysHelp(width = 100): string {
  const plain = (v: string) => (/^\w[\w.-]*$/.test(v) ? v : v.includes("'") ? `"${v}"` : `'${v}'`);
  // a key's shape: its sub-keys, with the values an enum allows (short enums only: `field` has ten)
  const shape = (node: JsonSchemaNode | undefined): string => {
    const n = objectOf(node);
    if (n?.items) return n.items.properties || n.items.anyOf ? `[${shape(n.items)}]` : '[column, ...]';
    if (n?.properties) return `{ ${Object.entries(n.properties).map(([k, v]) => `${k}${inner(v)}`).join(', ')} }`;
    return '';
  };
  const inner = (node: JsonSchemaNode): string => {
    const n = objectOf(node);
    if (n?.enum && n.enum.length <= 6) return `: ${n.enum.map(plain).join(' | ')}`;
    if (n?.items?.properties || n?.properties) return `: ${shape(n)}`;
    return '';
  };
  const top = mappingJsonSchema().properties ?? {};
  const keyWidth = Math.max(...Object.keys(top).map((k) => k.length)) + 2;
  const lines: string[] = [];
  for (const [key, node] of Object.entries(top)) {
    const n = objectOf(node);
    // the canonical fields' column references are all alike: their names, not their shape
    const form = key === 'columns' ? `{ ${Object.keys(n?.properties ?? {}).join(', ')} }` : n?.enum ? n.enum.map(plain).join(' | ') : shape(node);
    const text = [form, node.description].filter(Boolean).join(' — ');
    let line = `  ${key.padEnd(keyWidth)}`;
    for (const word of text.split(' ')) {
      if (line.length + word.length + 1 > width && line.trim().length > key.length) {
        lines.push(line.trimEnd());
        line = ' '.repeat(keyWidth + 2);
      }
      line += `${word} `;
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}

/** " (did you mean "orderId"?)" for a key that differs from an allowed one only in case; a field at the top goes under columns. */
function keyHint(key: string, allowed: string[], top: boolean): string {
  const same = allowed.find((a) => a.toLowerCase() === key.toLowerCase());
  if (same) return ` (did you mean "${same}"?)`;
  const field = top ? CANONICAL_FIELDS.find((f) => f.toLowerCase() === key.toLowerCase()) : undefined;
  return field ? ` (a field's column goes under columns: columns.${field})` : '';
}

export function presetMapping(name: string): Mapping {
  const preset = PRESETS[name];
  if (!preset) throw new FloyoError(`unknown preset "${name}"; presets: ${Object.keys(PRESETS).join(', ')}`);
  return parseMapping(preset, `preset ${name}`);
}

export function loadMappingFile(path: string): Mapping {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new FloyoError(`cannot read mapping file ${path}: ${why}`);
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(path) ? yaml().parse(text) : JSON.parse(text);
  } catch (err) {
    throw new FloyoError(`mapping file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  return parseMapping(value, `file ${path}`);
}

/** A source column a mapping reads, and the mapping key that names it (for messages). */
export interface ColumnReference {
  column: string;
  /** `columns.country`, `columns.productId.fallback`, `orderLevelColumns[2]`, `exclude[0].when[1].column` */
  key: string;
  /** the canonical field it is read as, if any */
  field?: CanonicalField;
}

/**
 * Every source column the mapping reads, in mapping order. A file must have each one: a column an
 * optional field, a fallback or a business rule reads, and the file lacks, would read as blank on every
 * row (every customer a guest, an exclusion that never fires) with nothing to show for it.
 */
export function columnReferences(mapping: Mapping): ColumnReference[] {
  const refs: ColumnReference[] = [];
  for (const field of CANONICAL_FIELDS) {
    const ref = mapping.columns[field];
    if (ref === undefined) continue;
    if (typeof ref === 'string') refs.push({ column: ref, key: `columns.${field}`, field });
    else {
      if (ref.column !== undefined) refs.push({ column: ref.column, key: `columns.${field}.column`, field });
      ref.columns?.forEach((column, k) => refs.push({ column, key: `columns.${field}.columns[${k}]`, field }));
      if (ref.fallback !== undefined) refs.push({ column: ref.fallback, key: `columns.${field}.fallback`, field });
    }
  }
  mapping.orderLevelColumns.forEach((column, i) => refs.push({ column, key: `orderLevelColumns[${i}]` }));
  for (const { conditions, key } of conditionLists(mapping)) {
    conditions.forEach((c, k) => {
      if (c.column !== undefined) refs.push({ column: c.column, key: `${key}[${k}].column` });
    });
  }
  return refs;
}

/** The mapping's lists of conditions (each exclude rule's, the returns'), with their keys for messages. */
function conditionLists(mapping: Mapping): Array<{ conditions: Condition[]; key: string }> {
  const lists = mapping.exclude.map((rule, r) => ({ conditions: rule.when, key: `exclude[${r}].when` }));
  if (mapping.returns.when) lists.push({ conditions: mapping.returns.when, key: 'returns.when' });
  return lists;
}

/** The source columns a mapping reads, each once (what NDJSON is projected on; a file must have all of them). */
export function mappedColumns(mapping: Mapping): string[] {
  return [...new Set(columnReferences(mapping).map((r) => r.column))];
}

// The product catalogue of a synthetic gift-and-homeware shop, shaped like the UCI Online Retail one:
// 5-digit stock codes (some colour variants with a letter suffix, like 85123A), upper-case names with
// the odd comma, double quote or trailing space, prices with a cheaper bulk tier, pack sizes.
// Products are grouped into categories (a design range × a kind of item, e.g. "REGENCY" kitchenware)
// and, within a category, into small collections of items that are bought together. Popularity is
// Zipf-like over a random ranking, so a few products sell a lot and most sell a little.
import type { Rng } from '../ml/random.js';
import { aliasTable, groupedAlias, type AliasTable, type GroupedAlias } from './sampling.js';

/** Stock codes are 5 digits, 10001..99999, so the catalogue can hold at most this many base codes. */
export const MAX_PRODUCTS = 89_999;
const FIRST_CODE = 10001;
/** Average products per category. */
const PRODUCTS_PER_CATEGORY = 40;
/** Zipf exponent of product popularity over rank: the top 10% of products take about 42% of lines (UCI: 46%). */
export const ZIPF_EXPONENT = 1.1;
const VARIANT_SHARE = 0.1;
const COMMA_SHARE = 0.015;
const QUOTE_SHARE = 0.005;
const TRAILING_SPACE_SHARE = 0.03;
const BULK_DISCOUNT = 0.85;

const MOTIFS = [
  'RED RETROSPOT', 'REGENCY', 'VINTAGE PAISLEY', 'WOODLAND', 'SPACEBOY', 'DOLLY GIRL', 'PINK POLKADOT', 'BLUE POLKADOT',
  'JAM MAKING', 'ALPHABET', 'LOVE BIRD', 'WICKER HEART', 'WHITE HANGING HEART', 'SKULLS', 'FLORAL', 'GINGHAM',
  'VINTAGE UNION JACK', 'PARISIENNE', 'SWEETHEART', 'STRAWBERRY', 'CHERRY BLOSSOM', 'ENGLISH ROSE', 'BIRDHOUSE',
  'CIRCUS PARADE', 'FAIRY CAKE', 'DOILY', 'POPPY', 'TEA TIME', 'WOODEN STAR', 'ZINC', 'ENAMEL', 'CERAMIC', 'HOMEMADE',
  'COUNTRY COTTAGE', 'SCANDINAVIAN', 'BAROQUE', 'MOROCCAN', 'LADYBIRD', 'OWL', 'REINDEER', 'SNOWFLAKE', 'TOADSTOOL',
  'RABBIT', 'DAISY', 'BUTTERFLY', 'ANTIQUE SILVER', 'GOLD', 'PAPER LANTERN', 'PANTRY', 'RETRO SPOT',
] as const;

const KINDS: ReadonlyArray<{ name: string; nouns: readonly string[]; price: number }> = [
  { name: 'CANDLES', nouns: ['T-LIGHT HOLDER', 'CANDLE', 'LANTERN', 'TEA LIGHTS', 'CANDLE POT', 'VOTIVE HOLDER'], price: 2.1 },
  { name: 'KITCHEN', nouns: ['CAKE TIN', 'MUG', 'TEACUP AND SAUCER', 'JAM JAR', 'APRON', 'OVEN GLOVE', 'TEA TOWEL', 'CAKESTAND', 'LUNCH BOX', 'PLATE', 'BOWL', 'CAKE CASES'], price: 2.9 },
  { name: 'BAGS', nouns: ['JUMBO BAG', 'SHOPPER', 'LUNCH BAG', 'CHARLOTTE BAG', 'TOTE BAG', 'PURSE'], price: 1.9 },
  { name: 'PARTY', nouns: ['PARTY BUNTING', 'PAPER CHAIN KIT', 'NAPKINS', 'PAPER CUPS', 'PARTY BAGS', 'BALLOONS', 'PAPER PLATES'], price: 0.9 },
  { name: 'CHRISTMAS', nouns: ['CHRISTMAS DECORATION', 'HANGING STAR', 'BAUBLE', 'ADVENT CALENDAR', 'CHRISTMAS TREE', 'WREATH'], price: 1.6 },
  { name: 'STATIONERY', nouns: ['NOTEBOOK', 'PENCILS', 'GREETING CARD', 'WRAPPING PAPER', 'STICKER SHEET', 'GIFT TAG', 'ERASER'], price: 0.7 },
  { name: 'HOME DECOR', nouns: ['PHOTO FRAME', 'WALL SIGN', 'DOORSTOP', 'CUSHION COVER', 'CLOCK', 'MIRROR', 'COAT HANGER', 'DOORMAT'], price: 4.9 },
  { name: 'GARDEN', nouns: ['WATERING CAN', 'PLANT POT', 'BIRD FEEDER', 'GARDEN MARKER', 'PLANTER', 'WINDMILL'], price: 3.7 },
  { name: 'TOYS', nouns: ['SKIPPING ROPE', 'JIGSAW', 'TOY CAR', 'PLAYHOUSE', 'SPINNING TOP', 'RAG DOLL', 'KNITTED BUNNY'], price: 2.5 },
  { name: 'STORAGE', nouns: ['STORAGE TIN', 'TRINKET BOX', 'SHELF', 'DRAWER KNOB', 'HOOK', 'BASKET', 'JAR'], price: 3.3 },
  { name: 'JEWELLERY', nouns: ['NECKLACE', 'BRACELET', 'EARRINGS', 'HAIR CLIP', 'RING', 'BROOCH'], price: 1.7 },
  { name: 'BATHROOM', nouns: ['SOAP DISH', 'TOOTHBRUSH HOLDER', 'HAND TOWEL', 'WASHBAG', 'HOT WATER BOTTLE', 'BATH SALTS'], price: 3.1 },
];

const PREFIXES = ['SMALL', 'LARGE', 'JUMBO', 'MINI', 'SET OF 4', 'SET/6', 'PACK OF 12', 'ASSORTED', 'HANGING', 'VINTAGE', 'RETRO', 'DOUBLE'];
const COLOURS = ['RED', 'BLUE', 'PINK', 'GREEN', 'IVORY', 'BLACK', 'WHITE', 'YELLOW', 'PURPLE', 'ORANGE'];
const COMMA_TAILS = ['LITTLE BIRDIE', 'ASSORTED COLOURS', 'SET OF 2', 'WITH GIFT BOX', 'SMALL', 'LARGE'];
const QUOTED_WORDS = ['LOVE', 'HOME', 'HAPPY BIRTHDAY', 'THANK YOU', 'KEEP CALM'];

export interface Catalog {
  readonly products: number;
  readonly categories: number;
  /** products are indexed in category order: category c owns products categoryStart[c]..categoryStart[c+1]-1 */
  readonly categoryStart: Int32Array;
  readonly category: Int32Array;
  readonly categoryName: string[];
  readonly code: string[];
  readonly description: string[];
  /** `code,description,` as written in a row, the description quoted per RFC 4180 when it must be */
  readonly codeDescField: string[];
  /** relative popularity (Zipf weight) */
  readonly popularity: Float64Array;
  readonly price: Float64Array;
  readonly priceText: string[];
  readonly bulkPriceText: string[];
  /** units per pack: quantities are multiples of it */
  readonly pack: Int32Array;
  /** from this quantity on, the line gets the bulk price */
  readonly bulkFrom: Int32Array;
  /** the collection (items bought together) a product belongs to; collection k owns products collectionStart[k]..collectionStart[k+1]-1 */
  readonly collection: Int32Array;
  readonly collectionStart: Int32Array;
  /** a product by overall popularity */
  readonly byPopularity: AliasTable;
  /** a product of one category by popularity */
  readonly inCategory: GroupedAlias;
  /** a product of one collection by popularity */
  readonly inCollection: GroupedAlias;
  /** a category by total popularity (for customers' favourite categories) */
  readonly categoryByPopularity: AliasTable;
}

/** Quotes a field per RFC 4180 when it holds a comma, a double quote or a line break. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Prices as the UCI data writes them: 2.55, 2.1, 18.0 (whole amounts keep ".0"). */
export function formatPrice(value: number): string {
  const cents = Math.round(value * 100);
  const whole = Math.floor(cents / 100);
  const frac = cents % 100;
  if (frac === 0) return `${whole}.0`;
  if (frac % 10 === 0) return `${whole}.${frac / 10}`;
  return `${whole}.${String(frac).padStart(2, '0')}`;
}

/** Price points a shop would use: pennies under £1, 5p steps under £10, 25p steps above. */
function snapPrice(value: number): number {
  if (value < 1) return Math.max(0.1, Math.round(value * 100) / 100);
  if (value < 10) return Math.round(value * 20) / 20;
  return Math.round(value * 4) / 4;
}

function packFor(price: number, rng: Rng): number {
  const u = rng.next();
  if (price < 0.6) return u < 0.4 ? 12 : u < 0.7 ? 24 : u < 0.8 ? 10 : 6;
  if (price < 2) return u < 0.35 ? 6 : u < 0.65 ? 12 : u < 0.8 ? 4 : u < 0.9 ? 2 : 1;
  if (price < 5) return u < 0.35 ? 1 : u < 0.6 ? 2 : u < 0.8 ? 4 : u < 0.9 ? 3 : 6;
  return u < 0.8 ? 1 : u < 0.95 ? 2 : 4;
}

/** Category c's kind of item: motifs cycle, and each lap of them shifts the kinds, so that pairs repeat late. */
const kindOf = (c: number): (typeof KINDS)[number] => KINDS[(c * 7 + Math.floor(c / MOTIFS.length)) % KINDS.length];

/** A name of prefix, motif and noun for category c that no other product has yet, and marks it used. */
function uniqueName(c: number, used: Set<string>, rng: Rng): string {
  const kind = kindOf(c);
  const motif = MOTIFS[c % MOTIFS.length];
  const noun = (): string => kind.nouns[rng.int(kind.nouns.length)];
  const colour = (): string => COLOURS[rng.int(COLOURS.length)];
  /** "prefix middle noun", without a prefix the rest already says (no "HANGING ... HANGING STAR") */
  const prefixed = (middle: string): string => {
    const pre = PREFIXES[rng.int(PREFIXES.length)];
    const n = noun();
    return `${middle} ${n}`.includes(pre) ? `${middle} ${n}` : `${pre} ${middle} ${n}`;
  };
  // most names have no prefix; a name taken already gets one, then a colour, so two products never
  // share a name (they did, and the demo recommended "JAM MAKING SKIPPING ROPE" twice in a row)
  let name = rng.next() < 0.35 ? prefixed(motif) : `${motif} ${noun()}`;
  for (let attempt = 0; used.has(name) && attempt < 20; attempt++) name = prefixed(motif);
  for (let attempt = 0; used.has(name) && attempt < 40; attempt++) name = prefixed(`${colour()} ${motif}`);
  for (let n = 2; used.has(name); n++) name = `${motif} ${noun()} DESIGN ${n}`;
  used.add(name);
  return name;
}

export function buildCatalog(products: number, rng: Rng): Catalog {
  const M = products;
  const C = Math.max(1, Math.round(M / PRODUCTS_PER_CATEGORY));

  // category sizes: at least one product each, the rest spread by log-normal weights (largest remainder)
  const sizeWeight = Array.from({ length: C }, () => Math.exp(0.6 * rng.normal()));
  const weightSum = sizeWeight.reduce((a, b) => a + b, 0);
  const size = new Int32Array(C).fill(1);
  const spare = M - C;
  const remainders: Array<[number, number]> = [];
  let given = 0;
  for (let c = 0; c < C; c++) {
    const exact = (spare * sizeWeight[c]) / weightSum;
    size[c] += Math.floor(exact);
    given += Math.floor(exact);
    remainders.push([exact - Math.floor(exact), c]);
  }
  remainders.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; k < spare - given; k++) size[remainders[k][1]]++;

  const categoryStart = new Int32Array(C + 1);
  for (let c = 0; c < C; c++) categoryStart[c + 1] = categoryStart[c] + size[c];
  const category = new Int32Array(M);
  const categoryName: string[] = [];
  for (let c = 0; c < C; c++) {
    category.fill(c, categoryStart[c], categoryStart[c + 1]);
    categoryName.push(`${MOTIFS[c % MOTIFS.length]} ${kindOf(c).name}`);
  }

  // collections: consecutive runs of 2..7 products within a category
  const collection = new Int32Array(M);
  const starts: number[] = [];
  for (let c = 0; c < C; c++) {
    let p = categoryStart[c];
    const end = categoryStart[c + 1];
    while (p < end) {
      const len = Math.min(end - p, 2 + rng.int(6));
      collection.fill(starts.length, p, p + len);
      starts.push(p);
      p += len;
    }
  }
  starts.push(M);
  const collectionStart = Int32Array.from(starts);

  // colour variants: a product may share the previous product's base code (chains within a collection)
  const chainHead = new Int32Array(M);
  const chainPos = new Int32Array(M);
  for (let p = 0; p < M; p++) {
    const prev = p - 1;
    const sameCollection = prev >= 0 && collection[prev] === collection[p];
    if (sameCollection && chainPos[prev] < 5 && rng.next() < VARIANT_SHARE) {
      chainHead[p] = chainHead[prev];
      chainPos[p] = chainPos[prev] + 1;
    } else {
      chainHead[p] = p;
      chainPos[p] = 0;
    }
  }
  const chainLength = new Int32Array(M);
  for (let p = 0; p < M; p++) chainLength[chainHead[p]] = Math.max(chainLength[chainHead[p]], chainPos[p] + 1);

  // base codes ascend through the catalogue with small gaps between categories, within 10001..99999
  let bases = 0;
  for (let p = 0; p < M; p++) if (chainHead[p] === p) bases++;
  const maxGap = Math.min(50, Math.floor((MAX_PRODUCTS - bases) / C));
  const code: string[] = new Array(M);
  let nextBase = FIRST_CODE;
  let baseOfHead = 0;
  for (let p = 0; p < M; p++) {
    if (p > 0 && category[p] !== category[p - 1] && maxGap > 0) nextBase += rng.int(maxGap + 1);
    if (chainHead[p] === p) baseOfHead = nextBase++;
    const len = chainLength[chainHead[p]];
    code[p] = len > 1 ? `${baseOfHead}${String.fromCharCode(65 + chainPos[p])}` : String(baseOfHead);
  }

  // names and prices; a variant takes its head's name and price with a colour
  const description: string[] = new Array(M);
  const price = new Float64Array(M);
  const categoryMedian = Array.from({ length: C }, (_, c) => kindOf(c).price * Math.exp(0.3 * rng.normal()));
  const baseName: string[] = new Array(M);
  const usedNames = new Set<string>();
  for (let p = 0; p < M; p++) {
    const c = category[p];
    if (chainHead[p] !== p) {
      const head = chainHead[p];
      baseName[p] = baseName[head];
      price[p] = price[head];
    } else {
      baseName[p] = uniqueName(c, usedNames, rng);
      price[p] = snapPrice(categoryMedian[c] * Math.exp(0.45 * rng.normal()));
    }
    let name = chainLength[chainHead[p]] > 1 ? `${baseName[p]} ${COLOURS[(chainPos[p] + chainHead[p]) % COLOURS.length]}` : baseName[p];
    const u = rng.next();
    if (u < COMMA_SHARE) name = `${name} , ${COMMA_TAILS[rng.int(COMMA_TAILS.length)]}`;
    else if (u < COMMA_SHARE + QUOTE_SHARE) name = `${name} "${QUOTED_WORDS[rng.int(QUOTED_WORDS.length)]}"`;
    if (rng.next() < TRAILING_SPACE_SHARE) name += ' ';
    description[p] = name;
  }

  const priceText: string[] = new Array(M);
  const bulkPriceText: string[] = new Array(M);
  const pack = new Int32Array(M);
  const bulkFrom = new Int32Array(M);
  const codeDescField: string[] = new Array(M);
  for (let p = 0; p < M; p++) {
    priceText[p] = formatPrice(price[p]);
    const bulk = snapPrice(price[p] * BULK_DISCOUNT);
    bulkPriceText[p] = formatPrice(bulk < price[p] ? bulk : price[p]);
    pack[p] = packFor(price[p], rng);
    bulkFrom[p] = Math.max(24, 4 * pack[p]);
    codeDescField[p] = `${code[p]},${csvField(description[p])},`;
  }

  // popularity: Zipf over a random ranking (Fisher–Yates)
  const rank = new Int32Array(M);
  for (let i = 0; i < M; i++) rank[i] = i;
  for (let i = M - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = rank[i]; rank[i] = rank[j]; rank[j] = t;
  }
  const popularity = new Float64Array(M);
  for (let p = 0; p < M; p++) popularity[p] = 1 / Math.pow(rank[p] + 1, ZIPF_EXPONENT);
  const members = new Int32Array(M);
  for (let p = 0; p < M; p++) members[p] = p;
  const categoryWeight = new Float64Array(C);
  for (let p = 0; p < M; p++) categoryWeight[category[p]] += popularity[p];

  return {
    products: M,
    categories: C,
    categoryStart,
    category,
    categoryName,
    code,
    description,
    codeDescField,
    popularity,
    price,
    priceText,
    bulkPriceText,
    pack,
    bulkFrom,
    collection,
    collectionStart,
    byPopularity: aliasTable(popularity),
    inCategory: groupedAlias(categoryStart, members, popularity),
    inCollection: groupedAlias(collectionStart, members, popularity),
    categoryByPopularity: aliasTable(categoryWeight),
  };
}

/** Lines that are not products (postage, carriage, manual adjustments), as in the UCI data. */
export const NON_PRODUCT = {
  postage: { field: 'POST,POSTAGE,' },
  dotcomPostage: { field: 'DOT,DOTCOM POSTAGE,' },
  carriage: { field: 'C2,CARRIAGE,' },
  manual: { field: 'M,Manual,' },
} as const;

import { readFileSync } from 'node:fs';

/** Floyo's version, from package.json (written into every artifact Floyo produces). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

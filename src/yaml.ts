// The yaml package, loaded on first use: only YAML config and mapping files need it, and importing it at
// start-up cost every command ~40 ms. require, not import(): its callers are synchronous.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | null = null;

export function yaml(): typeof Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return loaded;
}

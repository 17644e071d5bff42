#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('floyo: the compiled CLI is missing (dist/). Run `npm run build` in the Floyo folder.');
  process.exit(1);
}
await import(entry.href);

// The model registry as the commands open it: the configured location, and one-line errors when nothing
// is current yet.
import type { Config } from '../config.js';
import { FloyoError, NOT_FOUND_EXIT } from '../errors.js';
import type { Registry } from '../models/registry.js';
import { warn } from './common.js';

/**
 * Runs `fn` with the configured registry (`models.location`, or `<home>/models`) open, and closes it
 * afterwards. The registry module is loaded here, on demand: it brings the AWS SDK, which costs every
 * other command ~0.4 s of start-up.
 */
export async function withRegistry<T>(config: Config, fn: (registry: Registry) => Promise<T>): Promise<T> {
  const { defaultRegistryLocation, openRegistry } = await import('../models/registry.js');
  const registry = openRegistry(config.models.location ?? defaultRegistryLocation(config.home), config.s3, { s3ClientOptions: { onRetry: warn } });
  try {
    return await fn(registry);
  } finally {
    registry.close();
  }
}

export function noVersionsYet(registry: Registry): FloyoError {
  return new FloyoError(`no model versions yet; run floyo train (registry: ${registry.location})`, { file: registry.location }, NOT_FOUND_EXIT);
}

/**
 * The current version's name. When nothing is current, says why in one line: no versions at all (train
 * first), or versions of which none is current (every one failed the quality gate: promote one).
 */
export async function requireCurrent(registry: Registry): Promise<string> {
  const current = await registry.current();
  if (current !== null) return current;
  const versions = await registry.list();
  if (versions.length === 0) throw noVersionsYet(registry);
  throw new FloyoError(
    `no model version is current in ${registry.location} (it holds ${versions.length}, none promoted); ` +
      `see floyo models list, then floyo models promote <version>`,
    { file: registry.location },
    NOT_FOUND_EXIT,
  );
}

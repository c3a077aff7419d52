import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the CLI keeps what it learnt on earlier runs (published charts, cli/chart-store.ts; compiled code,
 * cli/code-cache.ts): $CHARTORIGIN_CACHE_DIR, else $XDG_CACHE_HOME/chartorigin, else ~/.cache/chartorigin.
 * An empty CHARTORIGIN_CACHE_DIR turns every cache off (undefined).
 */
export function cacheBase(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env['CHARTORIGIN_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'chartorigin');
  return base || undefined;
}

/** A week: how long another build's entries stay (a user may run the npm package and the executable side by side). */
export const STALE_BUILD_MS = 7 * 24 * 3600 * 1000;

import { readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
const STALE_BUILD_MS = 7 * 24 * 3600 * 1000;

/** Removes the entries of `dir` that `another` says are another build's and that nothing wrote for a week. Throws as fs does. */
export function removeStaleBuilds(dir: string, another: (name: string) => boolean): void {
  const old = Date.now() - STALE_BUILD_MS;
  for (const name of readdirSync(dir)) {
    if (another(name) && statSync(join(dir, name)).mtimeMs < old) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Writes `file` whole or not at all (a temporary file renamed over it), readable by this user only. Throws as fs does. */
export function writeWhole(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, file);
}

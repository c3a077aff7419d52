import { readFileSync } from 'node:fs';

/** Set by the single-executable build (esbuild --define), which has no package.json next to it. */
declare const CHARTORIGIN_VERSION: string | undefined;

/** The package version: from the bundle's define, else package.json (two levels up from src/, three from dist/src/). */
export function version(): string {
  if (typeof CHARTORIGIN_VERSION === 'string') return CHARTORIGIN_VERSION;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const doc: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (typeof doc === 'object' && doc !== null && 'name' in doc && doc.name === 'chartorigin' && 'version' in doc && typeof doc.version === 'string') return doc.version;
    } catch {
      // not this level
    }
  }
  return 'unknown';
}

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import type { PublishedChart, PublishedChartStore } from '../resolve/chart-cache.ts';
import { isObject } from '../util/guards.ts';
import { cacheBase, removeStaleBuilds, writeWhole } from './cache-dir.ts';

/**
 * The CLI's on-disk cache of published charts, by tarball digest: what `scan` learnt from a tarball
 * (fingerprint and chart tree) is read back on the next run instead of downloading and unpacking it again.
 * Measured (bench/RESULTS.md): most of a 200-release scan's own work after start-up is the 25 tarballs.
 *
 * An entry is only as good as the code that wrote it: entries live in a directory named after this build
 * (the bundle's content-hashed file names, or the single-file executable's size and time), so a new build
 * never reads an old build's entries, and removes them after a week. From source or the tsc output (development) there
 * is no cache. Every failure (read-only home, a corrupt entry) means a download, never an error.
 *
 * Where: cli/cache-dir.ts (an empty CHARTORIGIN_CACHE_DIR turns it off).
 */
export function openChartStore(env: NodeJS.ProcessEnv = process.env): PublishedChartStore | undefined {
  const build = buildId();
  if (!build) return undefined;
  const base = cacheBase(env);
  return base ? chartStoreIn(base, build) : undefined;
}

/** The store of build `build` under `base` (`<base>/charts/<build>/<hex digest>.json`). */
export function chartStoreIn(base: string, build: string): PublishedChartStore {
  const root = join(base, 'charts');
  const dir = join(root, build);
  let prepared = false;
  const prepare = (): void => {
    if (prepared) return;
    prepared = true;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Another build's entries are of no use to this one; they go once that build has written nothing for a week.
    removeStaleBuilds(root, (other) => other !== build && /^build-[0-9a-f]{16}$/.test(other));
  };
  const file = (digest: string): string => join(dir, `${digest.slice('sha256:'.length)}.json`);
  return {
    read(digest) {
      try {
        return entryOf(JSON.parse(readFileSync(file(digest), 'utf8')), digest);
      } catch {
        return undefined;
      }
    },
    write(digest, chart) {
      try {
        prepare();
        writeWhole(file(digest), JSON.stringify({ format: FORMAT, tarballDigest: chart.tarballDigest, manifestDigest: chart.manifestDigest, fingerprint: chart.fingerprint, tree: chart.tree }));
      } catch {
        // no cache this time
      }
    },
  };
}

// 2: fingerprints keep the digests with a UTF-8 byte order mark (withBom); entries of format 1 lack them.
const FORMAT = 2;

/** A stored entry, when it is one for `digest`; anything else is ignored (and rewritten by the next download). */
function entryOf(doc: unknown, digest: string): PublishedChart | undefined {
  if (!isObject(doc) || doc['format'] !== FORMAT || doc['tarballDigest'] !== digest || typeof doc['tree'] !== 'string') return undefined;
  const f = doc['fingerprint'];
  if (!isObject(f) || typeof f['metadata'] !== 'string' || typeof f['values'] !== 'string' || typeof f['schema'] !== 'string' || typeof f['lock'] !== 'string') return undefined;
  if (!isObject(f['templates']) || !isObject(f['files'])) return undefined;
  if (f['withBom'] !== undefined && !isObject(f['withBom'])) return undefined;
  const manifestDigest = doc['manifestDigest'];
  return {
    tarballDigest: digest,
    manifestDigest: typeof manifestDigest === 'string' ? manifestDigest : undefined,
    fingerprint: f as unknown as PublishedChart['fingerprint'],
    tree: doc['tree'],
  };
}

/** This build's identity, or undefined when running from source or the tsc output. */
function buildId(): string | undefined {
  const hash = (s: string): string => `build-${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;
  try {
    if (isSea()) {
      const st = statSync(process.execPath);
      return hash(`sea|${st.size}|${st.mtimeMs}`);
    }
    const self = fileURLToPath(import.meta.url);
    if (!/\.[cm]js$/.test(self)) return undefined;
    // The ES bundle's files are named by their content's hash (scripts/bundle-cli.ts): the list of names
    // changes whenever any code does. The CommonJS bundle sits beside them (the same build).
    return hash(readdirSync(dirname(self)).filter((f) => f.endsWith('.mjs')).sort().join('\n'));
  } catch {
    return undefined;
  }
}

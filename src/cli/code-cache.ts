import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';
import { createRequire } from 'node:module';
import { cacheBase, removeStaleBuilds, writeWhole } from './cache-dir.ts';

/**
 * `scan` and `inspect` run the CLI's CommonJS bundle through here — the single-file executable's
 * (cli/sea-loader.ts) and the npm package's (dist/chartorigin.cjs, from cli/entry.ts) — with a V8 code cache
 * taken *after* a run: the functions a scan called are in it already compiled. Node's own code cache for a
 * single executable (`useCodeCache`) and its compile cache for modules are taken right after compiling,
 * when V8 has compiled only each script's top level; every function a scan calls is then compiled again on
 * every run. Measured at 200 releases × 5 (bench/RESULTS.md): the executable 159 ms per scan with the
 * compile-only cache, 139 ms with a trained one, 185 ms with none (nova 132 ms); the npm bin 169 ms with the
 * ES module bundle and Node's compile cache, 146 ms with the trained one.
 *
 * The executable carries a compile-only cache (made by the build); the npm bundle has none. The first
 * successful `scan` or `inspect` of a build writes a trained one under the CLI's cache directory
 * (cli/cache-dir.ts, `code/<build>.<command>.v8`) and later runs of that command read it. V8 checks that a
 * cache fits its version, its flags and the source's length — not the source's text, hence the build's
 * identity (a digest of the bundle) in the file name — and refuses one that does not (the run then compiles
 * as without a cache, and writes a new one). Whoever can write the file can run code as the user, so a file
 * is read only when this user owns it and its directory and neither is writable by group or others; the
 * directory is made 0700, as the chart cache's is.
 */

/** The commands whose runs are worth a trained cache: one-shot, started often, and slow to compile. */
export const TRAINED_COMMANDS: ReadonlySet<string> = new Set(['scan', 'inspect']);

/** Asset names inside the executable (scripts/build-sea.ts writes them, cli/sea-loader.ts reads them). */
export const SEA_ASSETS = { bundle: 'chartorigin.cjs', codeCache: 'chartorigin.v8', build: 'build-id' } as const;

/** The CommonJS function wrapper Node's loader puts around a file, so the bundle runs as it would from disk. */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/** The cache of a compile without a run: what the build embeds. */
export function compileOnlyCache(source: string): Buffer {
  return new Script(wrapCommonJs(source)).createCachedData();
}

/** `<base>/code/<build>.<command>.v8` (a build id has no dot); undefined where there is no cache directory. */
export function trainedCacheFile(base: string | undefined, build: string, command: string): string | undefined {
  return base ? join(base, 'code', `${build}.${command}.v8`) : undefined;
}

/** A file whose bytes may become code: missing, not this user's alone ('unsafe'), or its bytes and age. */
function readOwnFile(file: string): { bytes: Buffer; mtimeMs: number } | 'missing' | 'unsafe' {
  try {
    const st = statSync(file);
    const dir = statSync(dirname(file));
    const uid = process.getuid?.();
    if (uid !== undefined && (st.uid !== uid || dir.uid !== uid)) return 'unsafe';
    if ((st.mode | dir.mode) & 0o022 || !st.isFile()) return 'unsafe';
    return { bytes: readFileSync(file), mtimeMs: st.mtimeMs };
  } catch {
    return 'missing';
  }
}

/**
 * A day: how long a trained cache is used as it is. A cache holds what its run compiled (a scan of an empty
 * namespace compiles no decoding), so one a day is rewritten after a successful run — which started from it
 * and so holds its functions and this run's.
 */
const RETRAIN_AFTER_MS = 24 * 3600 * 1000;

export interface BundleRun {
  /** Where compiled code came from: a trained cache, the embedded one, or none V8 accepted. */
  readonly cache: 'trained' | 'embedded' | 'none';
  /**
   * Writes what V8 has compiled so far as the trained cache, once, when there is a place for it and no
   * accepted trained cache younger than a day was read. Runs on a successful exit unless `persistOnExit`
   * is false.
   */
  persist(): void;
}

export interface BundleOptions {
  source: string;
  /** The bundle's __filename (the executable). */
  filename: string;
  /** The require() the bundle gets (a single executable's: built-in modules only). */
  require: NodeJS.Require;
  /** The build's compile-only cache. */
  embedded?: Uint8Array | undefined;
  /** The trained cache to read and, when missing or refused, to write (trainedCacheFile). */
  trained?: string | undefined;
  persistOnExit?: boolean;
  /** Whether import() loads packages (from beside the bundle). */
  dynamicImport?: boolean;
}

export function runBundle(options: BundleOptions): BundleRun {
  const found = options.trained ? readOwnFile(options.trained) : 'missing';
  const trained = typeof found === 'string' ? undefined : found.bytes;
  const cachedData = trained ?? options.embedded;
  const script = new Script(wrapCommonJs(options.source), {
    filename: options.filename,
    ...(cachedData ? { cachedData } : {}),
    // The bundle's one import() (@kubernetes/client-node, for auth-provider plugins) resolves from the
    // bundle's own place, as a file's would. The single executable loads no code from disk: its import()
    // fails, and kube/kubeconfig.ts says why.
    ...(options.dynamicImport ? { importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER } : {}),
  });
  const accepted = cachedData !== undefined && script.cachedDataRejected !== true;
  const cache = !accepted ? 'none' : trained ? 'trained' : 'embedded';
  const fresh = typeof found !== 'string' && Date.now() - found.mtimeMs < RETRAIN_AFTER_MS;
  let persisted = (cache === 'trained' && fresh) || found === 'unsafe' || !options.trained;
  // Not `options`: a closure over it would keep the 2.4 MB source alive beside the compiled script's copy.
  const file = options.trained;
  const persist = (): void => {
    if (persisted || !file) return;
    persisted = true;
    writeTrained(file, script.createCachedData());
  };
  // Registered before the bundle runs: `--version` and usage errors exit synchronously inside it. Only a run
  // that succeeded trains: a failed one (no cluster, bad flags) compiled little of what a scan needs.
  if (options.persistOnExit !== false) process.once('exit', (code) => code === 0 && persist());
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const module = { exports: {} };
  run.call(module.exports, module.exports, options.require, module, options.filename, dirname(options.filename));
  return { cache, persist };
}

/** Written whole or not at all (rename); another build's files go after a week unused. Failures mean no cache. */
function writeTrained(file: string, bytes: Buffer): void {
  try {
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeWhole(file, bytes);
    const build = basename(file).split('.')[0];
    removeStaleBuilds(dir, (other) => other.endsWith('.v8') && other.split('.')[0] !== build);
  } catch {
    // no trained cache this time
  }
}

/**
 * The npm package's bin (cli/entry.ts): `scan` and `inspect` run dist/chartorigin.cjs (ASCII, with its build
 * id in chartorigin.build; scripts/bundle-cli.ts) with a trained cache. False, having run nothing, for
 * another command or where there is no such bundle (from source, or the tsc output alone).
 */
export function runPackagedBundle(bundle: string, command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!TRAINED_COMMANDS.has(command)) return false;
  let source: string;
  let build: string;
  try {
    source = readFileSync(bundle, 'latin1');
    build = readFileSync(join(dirname(bundle), 'chartorigin.build'), 'latin1').trim();
  } catch {
    return false;
  }
  runBundle({ source, filename: bundle, require: createRequire(bundle), trained: trainedCacheFile(cacheBase(env), build, command), dynamicImport: true });
  return true;
}

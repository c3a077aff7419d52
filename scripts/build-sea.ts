/**
 * `npm run build:sea` → dist/sea/chartorigin, one file that runs without Node installed (Node's single
 * executable applications, https://nodejs.org/api/single-executable-applications.html, as Node 24 does it):
 *
 * 1. esbuild bundles src/cli/sea.ts and its dependencies into one CommonJS script (scripts/bundle-cli.ts
 *    bundleCommonJs, as the npm bin's): a SEA runs exactly one script whose require() reaches only Node's
 *    built-in modules, so the whole module graph must be inside it.
 *    (tsc cannot bundle; esbuild does it in about a second, which keeps this build and its CI test short.)
 * 2. The executable's main script is a small loader (src/cli/sea-loader.ts, bundled the same way) that runs the
 *    bundle, carried as an asset, with a V8 code cache: one trained by an earlier scan of this build where
 *    there is one, else the compile-only cache made here (src/cli/code-cache.ts says why and what it saves).
 *    `node --experimental-sea-config` turns loader and assets into a preparation blob. The bundle has no
 *    import() except the optional @kubernetes/client-node (auth-provider plugins only), left out.
 * 3. A copy of this Node binary gets the blob injected with postject under the SEA fuse (Node 24 has no
 *    --build-sea yet). On macOS the copy is re-signed ad hoc, as the Node docs say.
 *
 * Named `kubectl-chartorigin` (a copy or symlink on PATH) the same binary is a kubectl plugin.
 * Usage: node scripts/build-sea.ts [--out DIR]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { bundleCommonJs, commonBundleOptions } from './bundle-cli.ts';
import { compileOnlyCache, SEA_ASSETS } from '../src/cli/code-cache.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Runs a step; its chatter (postject warns about ELF note sections it does not touch) only on failure. */
function quiet(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
}

export async function buildSea(outDir: string): Promise<string> {
  const started = performance.now();
  mkdirSync(outDir, { recursive: true });
  const bundle = join(outDir, 'chartorigin.cjs');
  const loader = join(outDir, 'sea-loader.cjs');
  const { source, build: id } = await bundleCommonJs(bundle, 'sea');
  const common = commonBundleOptions();
  await build({ ...common, entryPoints: [join(ROOT, 'src/cli/sea-loader.ts')], format: 'cjs', outfile: loader });
  const bundled = performance.now();
  // This process's V8 is the executable's (it is a copy of this node): the executable accepts this cache.
  const codeCache = join(outDir, 'chartorigin.v8');
  writeFileSync(codeCache, compileOnlyCache(source));
  // The trained caches' file names (src/cli/code-cache.ts): V8 would accept a cache made from any source of this length.
  const buildId = join(outDir, 'build-id');
  writeFileSync(buildId, id);
  const blob = join(outDir, 'chartorigin.blob');
  const config = join(outDir, 'sea-config.json');
  // A 2 MiB young generation instead of V8's 16 MiB: a one-shot scan of 2,000 releases × 5 revisions peaks at
  // ~146 MiB resident instead of ~180 in the same time (bench/RESULTS.md); NODE_OPTIONS can still extend it.
  const assets = { [SEA_ASSETS.bundle]: bundle, [SEA_ASSETS.codeCache]: codeCache, [SEA_ASSETS.build]: buildId };
  writeFileSync(config, JSON.stringify({ main: loader, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, execArgv: ['--max-semi-space-size=2'], assets }));
  quiet(process.execPath, ['--experimental-sea-config', config]);
  const blobbed = performance.now();
  const exe = join(outDir, process.platform === 'win32' ? 'chartorigin.exe' : 'chartorigin');
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
  const macho = process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : [];
  if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', exe]);
  quiet(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE, ...macho]);
  if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', exe]);
  for (const f of [blob, config, loader, codeCache, buildId]) rmSync(f, { force: true });
  const s = (a: number, b: number): string => ((b - a) / 1000).toFixed(1);
  const done = performance.now();
  process.stderr.write(`built ${exe} in ${s(started, done)} s (bundle ${s(started, bundled)} s, blob ${s(bundled, blobbed)} s, copy and inject ${s(blobbed, done)} s)\n`);
  return exe;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist', 'sea') } } });
  await buildSea(resolve(values.out));
}

/**
 * `npm run build` step 2 → dist/chartorigin.mjs: the CLI and controller as one ES module (esbuild), which
 * dist/src/cli/entry.js (the `bin` and the image's entrypoint) loads when it is there.
 *
 * Why: a one-shot `chartorigin scan` spent a third of a 200-release run loading ~120 modules one file at a
 * time (resolve, read, compile each; bench/RESULTS.md "scan vs nova"). One file is read and, from the second
 * run on, its compiled code comes from Node's compile cache (entry.ts turns it on) in one piece. The module
 * graph's lazy imports (`--help` loads no analysis code) stay lazy: esbuild splits them into chunks next to
 * the bundle, which load only when a command needs them.
 *
 * Usage: node scripts/bundle-cli.ts [--out DIR] (default dist/)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type BuildOptions } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What every bundle of chartorigin shares (this one and the single-file executable's, scripts/build-sea.ts). */
export function commonBundleOptions(): BuildOptions & { define: Record<string, string> } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    bundle: true,
    platform: 'node',
    target: 'node24',
    // Loaded only for kubeconfig auth-provider plugins (kube/kubeconfig.ts), from node_modules as a package.
    external: ['@kubernetes/client-node'],
    // No package.json needs to travel with a bundle (cli/version.ts).
    define: { CHARTORIGIN_VERSION: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  };
}

export async function bundleCli(outDir: string): Promise<string> {
  const started = performance.now();
  // esbuild does not empty its output directory: chunks of an earlier build would otherwise stay beside this
  // one and be packed (package.json `files`) and counted in the chart cache's build identity (cli/chart-store.ts).
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir, { withFileTypes: true })) if (f.isFile() && f.name.endsWith('.mjs')) rmSync(join(outDir, f.name));
  await build({
    ...commonBundleOptions(),
    // The big-index parser's child process (sources/http/index-parse-isolated.ts forks it from beside itself).
    entryPoints: { chartorigin: join(ROOT, 'src/cli/main.ts'), 'index-parse-child': join(ROOT, 'src/sources/http/index-parse-child.ts') },
    splitting: true,
    format: 'esm',
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // Chunks beside the entry points: code that finds files next to itself (import.meta.url) finds them.
    chunkNames: '[name]-[hash]',
    // CommonJS dependencies (js-yaml's, semver's require calls) need a require() inside an ES module.
    banner: { js: 'import { createRequire as __chartoriginRequire } from "node:module"; const require = __chartoriginRequire(import.meta.url);' },
  });
  const out = join(outDir, 'chartorigin.mjs');
  process.stderr.write(`bundled ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist') } } });
  await bundleCli(resolve(values.out));
}

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
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function bundleCli(outDir: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const started = performance.now();
  await build({
    // The big-index parser's child process (sources/http/index-parse-isolated.ts forks it from beside itself).
    entryPoints: { chartorigin: join(ROOT, 'src/cli/main.ts'), 'index-parse-child': join(ROOT, 'src/sources/http/index-parse-child.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // Chunks beside the entry points: code that finds files next to itself (import.meta.url) finds them.
    chunkNames: '[name]-[hash]',
    // Loaded only for kubeconfig auth-provider plugins (kube/kubeconfig.ts), from node_modules as a package.
    external: ['@kubernetes/client-node'],
    define: { CHARTORIGIN_VERSION: JSON.stringify(pkg.version) },
    // CommonJS dependencies (js-yaml's, semver's require calls) need a require() inside an ES module.
    banner: { js: 'import { createRequire as __chartoriginRequire } from "node:module"; const require = __chartoriginRequire(import.meta.url);' },
    logLevel: 'warning',
  });
  const out = join(outDir, 'chartorigin.mjs');
  process.stderr.write(`bundled ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist') } } });
  await bundleCli(resolve(values.out));
}

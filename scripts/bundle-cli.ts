/**
 * `npm run build` step 2, beside dist/src/ (tsc's output):
 *
 * - dist/chartorigin.mjs: the CLI and controller as one ES module (esbuild), which dist/src/cli/entry.js (the
 *   `bin` and the image's entrypoint) loads for every command but `scan` and `inspect`. Why: a one-shot command
 *   spent a third of a 200-release run loading ~120 modules one file at a time (resolve, read, compile each;
 *   bench/RESULTS.md "scan vs nova"); one file comes, from the second run on, from Node's compile cache (entry.ts
 *   turns it on). The module graph's lazy imports (`--help` loads no analysis code) stay lazy: esbuild splits
 *   them into chunks next to the bundle, which load only when a command needs them.
 * - dist/chartorigin.cjs (+ chartorigin.build, its identity): the same CLI as one CommonJS script, which the bin
 *   runs for `scan` and `inspect` with a V8 code cache trained by an earlier run (src/cli/code-cache.ts; Node's
 *   compile cache holds only each module's top level). The single-file executable runs the same kind of bundle
 *   (scripts/build-sea.ts).
 *
 * Usage: node scripts/bundle-cli.ts [--out DIR] (default dist/)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, transform, type BuildOptions } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What every bundle of chartorigin shares (this one and the single-file executable's, scripts/build-sea.ts). */
export function commonBundleOptions(): BuildOptions & { define: Record<string, string> } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    bundle: true,
    platform: 'node',
    target: 'node24',
    // Loaded only for kubeconfig auth-provider plugins (kube/kubeconfig.ts), and the AWS SDK only for a
    // repository with `provider: aws` (sources/oci/cloud-identity.ts): from node_modules as packages, so the
    // ~2 MB of SDK code is never in the bundle every command compiles at start.
    external: ['@kubernetes/client-node', '@aws-sdk/*', '@smithy/*'],
    // No package.json needs to travel with a bundle (cli/version.ts).
    define: { CHARTORIGIN_VERSION: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  };
}

/**
 * The CLI as one CommonJS script at `outfile`, in ASCII, and its build id (`<prefix>-<16 hex of its sha256>`).
 * A CommonJS script because node:vm runs one with a code cache a run has trained (src/cli/code-cache.ts) and a
 * single executable runs nothing else; import.meta.url (createRequire, files beside the bundle) becomes the
 * script's own file URL, or the executable's.
 */
export async function bundleCommonJs(outfile: string, prefix: string, entry = join(ROOT, 'src/cli/sea.ts')): Promise<{ source: string; build: string }> {
  const common = commonBundleOptions();
  await build({
    ...common,
    entryPoints: [entry],
    format: 'cjs',
    outfile,
    define: { ...common.define, 'import.meta.url': '__chartorigin_module_url' },
    banner: { js: 'var __chartorigin_module_url = require("node:url").pathToFileURL(typeof __filename === "string" ? __filename : process.execPath).href;' },
  });
  const source = await asciiOnly(readFileSync(outfile, 'utf8'));
  writeFileSync(outfile, source);
  return { source, build: `${prefix}-${createHash('sha256').update(source, 'latin1').digest('hex').slice(0, 16)}` };
}

/**
 * The bundle in ASCII, so that a loader decodes it as latin1 into a one-byte string (measured: decoding the
 * 2.4 MB as UTF-8 into a two-byte string took ~4 ms of each start, and twice the memory). esbuild already
 * escapes every non-ASCII character of code (its default charset); the ones left are in the comments it keeps
 * (JSDoc), and become \u{…} there. Checked, not assumed: without comments (minifyWhitespace drops them) both
 * texts must be the same program.
 */
async function asciiOnly(text: string): Promise<string> {
  const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
  if (ascii === text) return text;
  const [a, b] = await Promise.all([text, ascii].map((code) => transform(code, { loader: 'js', minifyWhitespace: true, logLevel: 'silent' })));
  if (a?.code !== b?.code) throw new Error('the CommonJS bundle has non-ASCII characters outside comments: its loaders read it as latin1');
  return ascii;
}

export async function bundleCli(outDir: string): Promise<string> {
  const started = performance.now();
  // esbuild does not empty its output directory: chunks of an earlier build would otherwise stay beside this
  // one and be packed (package.json `files`) and counted in the chart cache's build identity (cli/chart-store.ts).
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir, { withFileTypes: true })) if (f.isFile() && /\.(mjs|cjs)$|^chartorigin\.build$/.test(f.name)) rmSync(join(outDir, f.name));
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
  const { build: id } = await bundleCommonJs(join(outDir, 'chartorigin.cjs'), 'npm');
  writeFileSync(join(outDir, 'chartorigin.build'), id);
  // The CommonJS bundle forks the big-index parser from beside itself with its own extension.
  await bundleCommonJs(join(outDir, 'index-parse-child.cjs'), 'npm', join(ROOT, 'src/sources/http/index-parse-child.ts'));
  const out = join(outDir, 'chartorigin.mjs');
  process.stderr.write(`bundled ${out} and chartorigin.cjs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist') } } });
  await bundleCli(resolve(values.out));
}

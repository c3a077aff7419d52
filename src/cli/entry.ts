#!/usr/bin/env node
/**
 * The executable (image entrypoint and `bin`). It checks the Node version before anything else loads (an
 * older Node would otherwise die on a missing API deep inside with a message that names none). Written to
 * parse on old Node versions: no imports before the check.
 *
 * Then, from a build (scripts/bundle-cli.ts, part of `npm run build`):
 * - `scan` and `inspect` run dist/chartorigin.cjs with a V8 code cache trained by this build's first run of
 *   the command (cli/code-cache.ts): at 200 releases ~146 instead of ~169 ms (bench/RESULTS.md);
 * - every other command (the controller, `--help`) loads dist/chartorigin.mjs, whose lazy chunks load only
 *   what the command needs, with Node's on-disk compile cache turned on. Where the cache directory is not
 *   writable Node carries on without it.
 * From source, or a build without the bundles, the module graph is loaded as it is.
 */
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`chartorigin: needs Node.js 24 or newer, this is ${process.version} (or use the single-file executable, see README)\n`);
  process.exit(1);
}
const { fileURLToPath } = await import('node:url');
const { runPackagedBundle } = await import('./code-cache.ts');
// dist/src/cli/entry.js → dist/chartorigin.cjs, dist/chartorigin.mjs
if (!runPackagedBundle(fileURLToPath(new URL('../../chartorigin.cjs', import.meta.url)), process.argv[2] ?? '')) {
  const { default: module } = await import('node:module');
  const { existsSync } = await import('node:fs');
  module.enableCompileCache?.();
  const bundle = new URL('../../chartorigin.mjs', import.meta.url);
  const { runCli } = (existsSync(bundle) ? await import(bundle.href) : await import('./main.ts')) as typeof import('./main.ts');
  runCli();
}

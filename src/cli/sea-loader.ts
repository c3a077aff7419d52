/**
 * The single-file executable's main script (scripts/build-sea.ts): it runs the CLI's bundle, an asset of the
 * executable, with the code cache of cli/code-cache.ts — trained by a successful earlier `scan` or `inspect`
 * of this build, else the one the build embedded. Kept small (built-in modules and two small files): it is
 * compiled on every start.
 */
import { getRawAsset } from 'node:sea';
import { cacheBase } from './cache-dir.ts';
import { runBundle, SEA_ASSETS, trainedCacheFile, TRAINED_COMMANDS } from './code-cache.ts';

const command = process.argv[2] ?? '';
// A digest of the bundle, made by the build (hashing here would load node:crypto before anything runs).
const build = TRAINED_COMMANDS.has(command) ? Buffer.from(getRawAsset(SEA_ASSETS.build)).toString('latin1') : undefined;
runBundle({
  // ASCII (scripts/bundle-cli.ts bundleCommonJs makes sure), so latin1 decodes it exactly, into a one-byte string, from the
  // executable's mapped bytes without copying them first (getAsset would).
  source: Buffer.from(getRawAsset(SEA_ASSETS.bundle)).toString('latin1'),
  filename: process.execPath,
  require,
  embedded: new Uint8Array(getRawAsset(SEA_ASSETS.codeCache)),
  trained: build ? trainedCacheFile(cacheBase(), build, command) : undefined,
});

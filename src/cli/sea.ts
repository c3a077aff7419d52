/**
 * Entry of the CLI's CommonJS bundle (scripts/bundle-cli.ts bundleCommonJs): the single-file executable's
 * (scripts/build-sea.ts; it carries its own Node) and the npm bin's for `scan` and `inspect` (cli/entry.ts has
 * checked the Node version). Run through node:vm by cli/code-cache.ts, so no top-level await.
 */
import { runCli } from './main.ts';

runCli();

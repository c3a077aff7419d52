#!/usr/bin/env node
/**
 * The executable (image entrypoint and `bin`). It turns on V8's on-disk compile cache before the CLI's module
 * graph is loaded: a one-shot `chartorigin scan` then starts in ~0.13 s instead of ~0.21 s from the second run
 * on. Where the cache directory is not writable Node carries on without it.
 */
import module from 'node:module';

module.enableCompileCache?.();
const { runCli } = await import('./main.ts');
runCli();

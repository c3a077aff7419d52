/**
 * Entry of the single-file executable (scripts/build-sea.ts): a CommonJS bundle run by Node's single
 * executable application support, which neither needs nor allows top-level await, and needs no version check
 * (it carries its own Node).
 */
import { runCli } from './main.ts';

runCli();

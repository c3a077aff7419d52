/** For test files: the shared environment that global-setup.ts started for this run. */
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFor } from './controlplane.ts';
import { TEST_ENV_VAR, type TestEnv } from './environment.ts';

export type { TestEnv } from './environment.ts';

let cached: TestEnv | undefined;

export class NoTestEnvError extends Error {
  readonly reason = 'no_test_env';
}

/** The running environment; throws with the command to use when the file was run without global setup. */
export function testEnv(): TestEnv {
  if (cached) return cached;
  const file = process.env[TEST_ENV_VAR];
  if (!file) {
    throw new NoTestEnvError(
      `${TEST_ENV_VAR} is not set: this test needs the shared control plane. Run it with ` +
        '`npx node --test --test-global-setup=test/harness/global-setup.ts <file>` (or `npm test`).',
    );
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as TestEnv;
  if (parsed.schema !== 1) throw new NoTestEnvError(`${file}: unknown test environment schema ${String(parsed.schema)}`);
  cached = parsed;
  return parsed;
}

export function hasTestEnv(): boolean {
  return Boolean(process.env[TEST_ENV_VAR]);
}

/** Admin KubeConfig for @kubernetes/client-node. */
export function adminKubeConfig(): KubeConfig {
  return kubeConfigFor(testEnv().cluster);
}

/** A namespace name unique to this test process (namespaces never finish deleting without a controller-manager). */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`.toLowerCase().slice(0, 63);
}

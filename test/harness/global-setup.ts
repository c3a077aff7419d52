/**
 * `node --test --test-global-setup=test/harness/global-setup.ts`: one control plane, registry and chart
 * repository for the whole run. Node runs globalSetup in the runner process before it spawns the test
 * files, which inherit its environment: CHARTORIGIN_TEST_ENV names the JSON file that env.ts reads.
 * The runner calls globalTeardown after the last file, also when tests fail and on SIGINT/SIGTERM;
 * processes.ts covers crashes and SIGKILL.
 */
import { startTestEnvironment, stopAllEnvironments, TEST_ENV_VAR, type RunningEnv } from './environment.ts';

let running: RunningEnv | undefined;

export async function globalSetup(): Promise<void> {
  running = await startTestEnvironment();
  process.env[TEST_ENV_VAR] = running.file;
  const s = running.env.startup;
  process.stderr.write(
    `[harness] control plane ${s.totalMs} ms (certs ${s.certsMs}, etcd ${s.etcdMs}, apiserver ${s.apiserverMs}); registry ${s.registryMs} ms; charts ${s.chartsMs} ms; ready in ${s.environmentMs} ms\n`,
  );
}

export async function globalTeardown(): Promise<void> {
  const t = performance.now();
  await running?.stop();
  await stopAllEnvironments(); // one still starting when the run was interrupted
  running = undefined;
  delete process.env[TEST_ENV_VAR];
  process.stderr.write(`[harness] torn down in ${Math.round(performance.now() - t)} ms\n`);
}

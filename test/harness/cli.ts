import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './tools.ts';

export interface CliRun {
  /** The exit code; null when the process was killed (the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `chartorigin <args>` from source in a child process. Asynchronous on purpose: the chart repositories and
 * registries a test serves live in the test's own process and must keep answering meanwhile.
 */
export function runChartorigin(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), ...args], { env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

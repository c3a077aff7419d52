/**
 * An OCI registry that implements the OCI 1.1 referrers API (go-containerregistry's registry, built by
 * `npm run tools` from test/tools/referrers-registry), on 127.0.0.1 with its own temp dir for the log.
 * Stands in for zot, whose module the module proxy here does not serve. In memory: nothing on disk.
 * The process is registered with processes.ts, so a killed test run leaves nothing behind.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownDir, releaseDir, startProcess } from './processes.ts';
import { toolPath } from './tools.ts';
import type { Registry } from './registry.ts';

export async function startReferrersRegistry(): Promise<Registry> {
  const exe = toolPath('referrers-registry');
  const dir = ownDir(mkdtempSync(join(tmpdir(), 'chartorigin-referrers-registry-')));
  const logFile = join(dir, 'registry.log');
  const proc = startProcess('referrers-registry', exe, ['--address', '127.0.0.1:0'], { logFile, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  const deadline = Date.now() + 15_000;
  let host: string | undefined;
  while (Date.now() < deadline && !host) {
    if (!proc.running()) throw new Error(`referrers-registry exited: ${proc.logTail()}`);
    host = /listening on (127\.0\.0\.1:\d+)/.exec(proc.logTail())?.[1];
    if (!host) await new Promise((r) => setTimeout(r, 50));
  }
  const close = async (): Promise<void> => {
    await proc.stop(2000);
    releaseDir(dir);
  };
  if (!host) {
    await close();
    throw new Error(`referrers-registry did not say where it listens: ${proc.logTail()}`);
  }
  const res = await fetch(`http://${host}/v2/`);
  await res.arrayBuffer();
  if (res.status !== 200) {
    await close();
    throw new Error(`referrers-registry answered /v2/ with HTTP ${res.status}`);
  }
  return { host, url: `oci://${host}`, tokenRequests: [], close };
}

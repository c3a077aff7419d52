/**
 * Flux's real source-controller (scripts/tools.sh source-controller, v1.9.0 = Flux v2.9) as a child process
 * against the harness control plane: it reconciles the HelmRepository, HelmChart and OCIRepository objects a
 * test applies and serves the artifacts it builds on a loopback port, exactly what helm-controller downloads
 * and installs. Its log stays in a file, named in errors only.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterInfo } from './controlplane.ts';
import { eventually } from './controller-process.ts';
import { freePorts } from './free-port.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { toolPath } from './tools.ts';

export interface SourceController {
  proc: ManagedProcess;
  /** http://127.0.0.1:PORT, where status.artifact.url points. */
  storageUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts source-controller watching every namespace (its default `--watch-all-namespaces`), leader election
 * off (its default; one replica), no events address (no notification-controller here), and resolves once
 * its health endpoint says ready. controller-runtime reads the cluster from KUBECONFIG.
 */
export async function startSourceController(cluster: Pick<ClusterInfo, 'kubeconfig' | 'dir'>, name = 'source-controller'): Promise<SourceController> {
  const exe = toolPath('source-controller');
  const [storage, metrics, health] = await freePorts(3);
  const storagePath = join(cluster.dir, `${name}-${storage}-artifacts`);
  mkdirSync(storagePath, { recursive: true });
  const proc = startProcess(
    name,
    exe,
    [
      `--storage-path=${storagePath}`,
      `--storage-addr=127.0.0.1:${storage}`,
      // The host:port written into status.artifact.url (in a cluster: the Service's name).
      `--storage-adv-addr=127.0.0.1:${storage}`,
      `--metrics-addr=127.0.0.1:${metrics}`,
      `--health-addr=127.0.0.1:${health}`,
      '--events-addr=',
      '--enable-leader-election=false',
      '--log-level=info',
    ],
    { logFile: join(cluster.dir, `${name}-${storage}.log`), env: { ...process.env, KUBECONFIG: cluster.kubeconfig, RUNTIME_NAMESPACE: 'default' } },
  );
  try {
    const state = await eventually('source-controller ready', async () => {
      if (!proc.running()) return 'exited';
      const r = await fetch(`http://127.0.0.1:${health}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r?.status === 200 ? 'ready' : undefined;
    }, 60_000, 250);
    if (state === 'exited') throw new Error('source-controller exited at start');
  } catch (err) {
    await proc.stop(5_000);
    throw new Error(`${(err as Error).message}\n(log ${proc.logFile}:\n${proc.logTail(2000)})`);
  }
  return { proc, storageUrl: `http://127.0.0.1:${storage}`, stop: () => proc.stop(10_000) };
}

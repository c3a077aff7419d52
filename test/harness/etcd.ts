/** A single-member etcd on loopback, data in a temp dir, fsync off (tests do not need durability). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, PortInUseError, withPortRetry } from './free-port.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { toolPath } from './tools.ts';

export interface Etcd {
  /** http://127.0.0.1:PORT (client URL) */
  url: string;
  dataDir: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** Parent directory: data and log go below it. */
  dir: string;
  timeoutMs?: number | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

async function startOnce(options: EtcdOptions): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(options.dir, `etcd-data-${clientPort}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const proc = startProcess(
    'etcd',
    toolPath('etcd'),
    [
      '--name=default',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync',
      '--quota-backend-bytes=2147483648',
      '--snapshot-count=100000',
      '--log-level=warn',
    ],
    { logFile: join(options.dir, 'etcd.log'), env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } },
  );
  const etcd: Etcd = { url, dataDir, process: proc, stop: () => proc.stop() };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (!proc.running()) {
      const log = proc.logTail();
      if (/address already in use/.test(log)) throw new PortInUseError(`etcd: port ${clientPort} or ${peerPort} taken`);
      throw new Error(`etcd exited before becoming healthy; log ${proc.logFile}:\n${log}`);
    }
    if (await healthy(url)) return etcd;
    await sleep(50);
  }
  await proc.stop();
  throw new Error(`etcd not healthy after ${options.timeoutMs ?? 30_000} ms; log ${proc.logFile}:\n${proc.logTail()}`);
}

export function startEtcd(options: EtcdOptions): Promise<Etcd> {
  return withPortRetry(() => startOnce(options));
}

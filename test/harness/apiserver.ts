/**
 * kube-apiserver on a free loopback port, backed by our etcd, RBAC on, real service-account token signing.
 * No kubelet, scheduler or controller-manager: pods never run, namespaces never finish deleting, no
 * garbage collection, and service accounts are not created automatically.
 */
import { mkdirSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { ClusterCerts } from './certs.ts';
import { pem } from './certs.ts';
import { freePort, PortInUseError, withPortRetry } from './free-port.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { toolPath } from './tools.ts';

export interface ApiServer {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface ApiServerOptions {
  dir: string;
  etcdUrl: string;
  certs: ClusterCerts;
  /** Extra flags (`--feature-gates=...`). */
  extraArgs?: readonly string[] | undefined;
  timeoutMs?: number | undefined;
  /** Listen on this port (a restart on the same address) instead of a fresh free one. */
  port?: number | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GET with the admin client cert; resolves to the status code (0 when the connection failed). */
export function adminGet(url: string, certs: ClusterCerts, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { ca: pem(certs.ca.cert), cert: pem(certs.admin.cert), key: pem(certs.admin.key), timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

async function startOnce(options: ApiServerOptions): Promise<ApiServer> {
  const port = options.port ?? (await freePort());
  const url = `https://127.0.0.1:${port}`;
  const certDir = join(options.dir, 'apiserver-certs');
  mkdirSync(certDir, { recursive: true });
  const { certs } = options;
  const proc = startProcess(
    'kube-apiserver',
    toolPath('kube-apiserver'),
    [
      `--etcd-servers=${options.etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--advertise-address=127.0.0.1`,
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      `--tls-cert-file=${certs.apiserver.cert}`,
      `--tls-private-key-file=${certs.apiserver.key}`,
      `--client-ca-file=${certs.ca.cert}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-issuer=${url}/`,
      `--service-account-key-file=${certs.serviceAccountPub}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      '--allow-privileged=true',
      // The watch cache stays on (WatchList and bookmarks need it, as on a real cluster).
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=1',
      ...(options.extraArgs ?? []),
    ],
    { logFile: join(options.dir, 'kube-apiserver.log'), env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } },
  );
  const server: ApiServer = { url, port, process: proc, stop: () => proc.stop(10_000) };
  const timeoutMs = options.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running()) {
      const log = proc.logTail();
      if (/address already in use/.test(log)) throw new PortInUseError(`kube-apiserver: port ${port} taken`);
      throw new Error(`kube-apiserver exited before becoming ready; log ${proc.logFile}:\n${log}`);
    }
    const res = await adminGet(`${url}/readyz`, certs);
    if (res.status === 200) {
      // /readyz is green before the bootstrap controller creates the default namespace.
      const ns = await adminGet(`${url}/api/v1/namespaces/default`, certs);
      if (ns.status === 200) return server;
    }
    last = res.body.slice(-1500);
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (last /readyz: ${last}); log ${proc.logFile}:\n${proc.logTail()}`);
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  if (options.port === undefined) return withPortRetry(() => startOnce(options));
  // A fixed port (a restart): the old process's socket may linger for a moment, so wait rather than move.
  for (let i = 1; ; i++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (!(err instanceof PortInUseError) || i >= 20) throw err;
      await sleep(250);
    }
  }
}

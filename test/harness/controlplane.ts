/**
 * etcd + kube-apiserver on loopback with generated certificates and an admin kubeconfig, plus the
 * helpers tests need against it (kubectl, ServiceAccount tokens, namespaces). `ClusterInfo` is plain
 * data, so the helpers work both on a control plane started in-process and on the shared one that
 * global-setup.ts starts and describes in a JSON file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfig as ApiKubeConfig } from '../../src/kube/kubeconfig.ts';
import { startApiServer, type ApiServer } from './apiserver.ts';
import { generateClusterCerts, pem, type ClusterCerts } from './certs.ts';
import { startEtcd, type Etcd } from './etcd.ts';
import { ownDir, reapStale, redactArgs, releaseDir } from './processes.ts';
import { toolPath } from './tools.ts';

/** How to reach a control plane: everything a test needs, JSON-serialisable. */
export interface ClusterInfo {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Admin kubeconfig (client cert CN=admin, O=system:masters), JSON. */
  kubeconfig: string;
  context: string;
  caFile: string;
  /** Where the run keeps certs, logs and extra kubeconfigs. */
  dir: string;
}

export interface StartupTimes {
  certsMs: number;
  etcdMs: number;
  apiserverMs: number;
  totalMs: number;
}

export interface ControlPlane extends ClusterInfo {
  etcdUrl: string;
  certs: ClusterCerts;
  startup: StartupTimes;
  logs: { etcd: string; apiserver: string };
  /** Stops the API server, then etcd, then removes the directory (kept when CHARTORIGIN_TEST_KEEP=1). */
  stop(): Promise<void>;
  /** Stops only the kube-apiserver (etcd keeps running); for fault tests. */
  stopApiServer(): Promise<void>;
  /**
   * Starts the kube-apiserver again with the same certificates and etcd, on its original port unless
   * `port` is given (another port lets a test change the cluster while clients of the original URL
   * see it down). Stops a running one first. Resolves to its URL once it is ready.
   */
  startApiServer(port?: number): Promise<string>;
  /** Compacts etcd up to its current revision (old resourceVersions then answer 410 Gone); resolves to that revision. */
  compactEtcd(): Promise<number>;
}

export interface ControlPlaneOptions {
  /** Parent for the run directory (default: the OS temp dir). */
  parentDir?: string | undefined;
  extraApiServerArgs?: readonly string[] | undefined;
}

const CONTEXT = 'chartorigin-test';

function b64file(path: string): string {
  return Buffer.from(pem(path)).toString('base64');
}

interface KubeconfigUser {
  name: string;
  token?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** A kubeconfig (JSON, which kubectl, helm and client-node all read) with the CA and credentials inline. */
export function writeKubeconfig(path: string, server: string, caFile: string, user: KubeconfigUser, namespace?: string): string {
  const cred: Record<string, string> = {};
  if (user.token) cred['token'] = user.token;
  if (user.certFile) cred['client-certificate-data'] = b64file(user.certFile);
  if (user.keyFile) cred['client-key-data'] = b64file(user.keyFile);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT, cluster: { server, 'certificate-authority-data': b64file(caFile) } }],
    users: [{ name: user.name, user: cred }],
    contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user: user.name, ...(namespace ? { namespace } : {}) } }],
    'current-context': CONTEXT,
    preferences: {},
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const reaped = reapStale();
  if (reaped) process.stderr.write(`[harness] killed ${reaped} process(es) left over by an earlier, killed run\n`);
  const t0 = performance.now();
  const dir = ownDir(mkdtempSync(join(options.parentDir ?? tmpdir(), 'chartorigin-cp-')));
  let etcd: Etcd | undefined;
  let api: ApiServer | undefined;
  const keep = process.env['CHARTORIGIN_TEST_KEEP'] === '1';
  const stop = async (): Promise<void> => {
    await api?.stop();
    await etcd?.stop();
    if (keep) {
      process.stderr.write(`[harness] CHARTORIGIN_TEST_KEEP=1: control plane files kept in ${dir}\n`);
      releaseDir(dir, false);
    } else {
      releaseDir(dir);
    }
  };
  try {
    const certs = generateClusterCerts(join(dir, 'pki'));
    const t1 = performance.now();
    etcd = await startEtcd({ dir });
    const t2 = performance.now();
    api = await startApiServer({ dir, etcdUrl: etcd.url, certs, extraArgs: options.extraApiServerArgs });
    const t3 = performance.now();
    const originalPort = api.port;
    const etcdUrl = etcd.url;
    const kubeconfig = writeKubeconfig(join(dir, 'admin.kubeconfig'), api.url, certs.ca.cert, { name: 'admin', certFile: certs.admin.cert, keyFile: certs.admin.key });
    return {
      server: api.url,
      kubeconfig,
      context: CONTEXT,
      caFile: certs.ca.cert,
      dir,
      etcdUrl: etcd.url,
      certs,
      startup: { certsMs: Math.round(t1 - t0), etcdMs: Math.round(t2 - t1), apiserverMs: Math.round(t3 - t2), totalMs: Math.round(t3 - t0) },
      logs: { etcd: etcd.process.logFile, apiserver: api.process.logFile },
      stop,
      stopApiServer: async () => {
        await api?.stop();
      },
      startApiServer: async (port?: number) => {
        await api?.stop();
        api = await startApiServer({ dir, etcdUrl: etcdUrl, certs, extraArgs: options.extraApiServerArgs, port: port ?? originalPort });
        return api.url;
      },
      compactEtcd: () => compactEtcd(etcdUrl),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** etcd's gRPC gateway: read the current revision, then compact (physically) up to it. */
export async function compactEtcd(etcdUrl: string): Promise<number> {
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const res = await fetch(`${etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${await res.text()}`);
    return res.json();
  };
  // key "\0" (AA==) with range_end "\0" means every key; limit 1 keeps the answer small.
  const range = (await post('/v3/kv/range', { key: 'AA==', range_end: 'AA==', limit: 1, keys_only: true })) as { header?: { revision?: string } };
  const revision = Number(range.header?.revision);
  if (!Number.isInteger(revision) || revision < 1) throw new Error(`etcd /v3/kv/range returned no revision`);
  await post('/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}

/** The product's own kubeconfig loader (src/kube/kubeconfig.ts), for code under test that takes one. */
export function apiKubeConfigFor(info: Pick<ClusterInfo, 'kubeconfig'>): ApiKubeConfig {
  return loadKubeConfig({ kubeconfig: info.kubeconfig });
}

/** client-node's KubeConfig, for tests that use its typed API clients. */
export function kubeConfigFor(info: Pick<ClusterInfo, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(info.kubeconfig);
  return kc;
}

export interface KubectlOptions {
  input?: string | undefined;
  timeoutMs?: number | undefined;
  /** Another kubeconfig (a ServiceAccount's) instead of the admin one. */
  kubeconfig?: string | undefined;
}

/** Runs the pinned kubectl against the cluster; resolves to stdout, rejects with stderr (args redacted). */
export function kubectl(info: Pick<ClusterInfo, 'kubeconfig'>, args: readonly string[], options: KubectlOptions = {}): Promise<string> {
  const kc = options.kubeconfig ?? info.kubeconfig;
  return new Promise((resolve, reject) => {
    const child = execFile(
      toolPath('kubectl'),
      ['--kubeconfig', kc, ...args],
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir() } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${redactArgs(args)} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

function statusCode(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return undefined;
}

/** Creates the namespace unless it exists (namespaces never finish deleting here: use fresh names). */
export async function ensureNamespace(info: Pick<ClusterInfo, 'kubeconfig'>, name: string): Promise<void> {
  const core = kubeConfigFor(info).makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

export interface TokenOptions {
  expirationSeconds?: number | undefined;
  audiences?: string[] | undefined;
  /** Create the namespace and ServiceAccount if missing (default true: no controller-manager creates them). */
  create?: boolean | undefined;
}

/** A bound token for a ServiceAccount from the TokenRequest API, as the kubelet would mount it. */
export async function serviceAccountToken(info: Pick<ClusterInfo, 'kubeconfig'>, namespace: string, name: string, options: TokenOptions = {}): Promise<string> {
  const core = kubeConfigFor(info).makeApiClient(CoreV1Api);
  if (options.create !== false) {
    await ensureNamespace(info, namespace);
    try {
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }
  const res = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: options.audiences ?? [], expirationSeconds: options.expirationSeconds ?? 3600 } },
  });
  const token = res.status?.token;
  if (!token) throw new Error(`TokenRequest for serviceaccount ${namespace}/${name} returned no token`);
  return token;
}

/** A kubeconfig file that authenticates as the ServiceAccount (for least-privilege tests of the controller). */
export async function serviceAccountKubeconfig(info: ClusterInfo, namespace: string, name: string, options: TokenOptions = {}): Promise<string> {
  const token = await serviceAccountToken(info, namespace, name, options);
  const path = join(info.dir, `sa-${namespace}-${name}-${process.pid}-${Date.now()}.kubeconfig`);
  return writeKubeconfig(path, info.server, info.caFile, { name: `${namespace}-${name}`, token }, namespace);
}

/**
 * Access to the API server from a kubeconfig file or the in-cluster service account, without
 * @kubernetes/client-node: importing that package's module graph costs ~76 MiB of resident memory, more
 * than everything else the controller holds for a thousand releases. Exec and auth-provider plugins are
 * the exception: for those (and only then) client-node is loaded to run them.
 */
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedEntry<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

interface ClusterEntry {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

interface ContextEntry {
  cluster?: string;
  user?: string;
  namespace?: string;
}

interface KubeconfigFile {
  clusters?: NamedEntry<ClusterEntry>[];
  users?: NamedEntry<UserEntry>[];
  contexts?: NamedEntry<ContextEntry>[];
  'current-context'?: string;
}

type Credential =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  /** Re-read on use: projected service-account tokens rotate under a running pod. */
  | { kind: 'tokenFile'; path: string }
  | { kind: 'basic'; username: string; password: string }
  /** An exec or auth-provider plugin: delegated to client-node, loaded on first use. */
  | { kind: 'plugin'; file: string; context: string };

interface Access {
  server: string;
  namespace?: string | undefined;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  insecure: boolean;
  servername?: string | undefined;
  credential: Credential;
}

interface PluginConfig {
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** What the controller and CLI need of a kubeconfig: where the API server is and how to authenticate. */
export class KubeConfig {
  readonly #a: Access;
  #plugin: Promise<PluginConfig> | undefined;

  constructor(access: Access) {
    this.#a = access;
  }

  /** The API server URL, e.g. https://10.0.0.1:443. */
  get server(): string {
    return this.#a.server;
  }

  /** The context's default namespace (in cluster: the pod's), if any. */
  get namespace(): string | undefined {
    return this.#a.namespace;
  }

  /** Adds TLS material and the Authorization header to a node:https request. */
  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const a = this.#a;
    if (a.ca) opts.ca = a.ca;
    if (a.cert) opts.cert = a.cert;
    if (a.key) opts.key = a.key;
    if (a.insecure) opts.rejectUnauthorized = false;
    if (a.servername) opts.servername = a.servername;
    const headers = (opts.headers ?? {}) as Record<string, string>;
    opts.headers = headers;
    const c = a.credential;
    if (c.kind === 'token') headers['Authorization'] = `Bearer ${c.token}`;
    else if (c.kind === 'tokenFile') headers['Authorization'] = `Bearer ${readFileSync(c.path, 'utf8').trim()}`;
    else if (c.kind === 'basic') headers['Authorization'] = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    else if (c.kind === 'plugin') {
      this.#plugin ??= loadPlugin(c.file, c.context);
      await (await this.#plugin).applyToHTTPSOptions(opts);
    }
  }
}

async function loadPlugin(file: string, context: string): Promise<PluginConfig> {
  const { KubeConfig: ClientNodeConfig } = await import('@kubernetes/client-node');
  const kc = new ClientNodeConfig();
  kc.loadFromFile(file);
  kc.setCurrentContext(context);
  return kc;
}

export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

function named<T>(list: NamedEntry<T>[] | undefined, name: string | undefined, field: 'cluster' | 'user' | 'context'): T | undefined {
  if (!name) return undefined;
  return list?.find((e) => e.name === name)?.[field];
}

function fileOrData(dir: string, path: string | undefined, data: string | undefined, what: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (!path) return undefined;
  const p = isAbsolute(path) ? path : join(dir, path);
  try {
    return readFileSync(p);
  } catch {
    throw new KubeConfigError(`kubeconfig: cannot read ${what} file ${p}`);
  }
}

/** Parses one kubeconfig text; `file` resolves relative paths and names the file in errors. */
export function kubeConfigFromText(text: string, file: string, context?: string): KubeConfig {
  let doc: KubeconfigFile;
  try {
    doc = (parseYaml(text, { maxAliasCount: 100 }) ?? {}) as KubeconfigFile;
  } catch (err) {
    throw new KubeConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const contextName = context ?? doc['current-context'];
  if (!contextName) throw new KubeConfigError(`${file}: no current-context (give --context)`);
  const ctx = named(doc.contexts, contextName, 'context');
  if (!ctx) throw new KubeConfigError(`context "${contextName}" is not in the kubeconfig ${file}`);
  const cluster = named(doc.clusters, ctx.cluster, 'cluster');
  if (!cluster?.server) throw new KubeConfigError(`${file}: context "${contextName}" names no cluster with a server`);
  const user = named(doc.users, ctx.user, 'user') ?? {};
  const dir = dirname(file);
  let credential: Credential = { kind: 'none' };
  if (user.exec || user['auth-provider']) credential = { kind: 'plugin', file, context: contextName };
  else if (user.token) credential = { kind: 'token', token: user.token };
  else if (user.tokenFile) credential = { kind: 'tokenFile', path: isAbsolute(user.tokenFile) ? user.tokenFile : join(dir, user.tokenFile) };
  else if (user.username !== undefined) credential = { kind: 'basic', username: user.username, password: user.password ?? '' };
  return new KubeConfig({
    server: cluster.server.replace(/\/+$/, ''),
    namespace: ctx.namespace,
    ca: fileOrData(dir, cluster['certificate-authority'], cluster['certificate-authority-data'], 'certificate-authority'),
    cert: fileOrData(dir, user['client-certificate'], user['client-certificate-data'], 'client-certificate'),
    key: fileOrData(dir, user['client-key'], user['client-key-data'], 'client-key'),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    servername: cluster['tls-server-name'],
    credential,
  });
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, token (re-read), CA and namespace files. */
export function inClusterKubeConfig(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeConfig | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) return undefined;
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(saDir, 'namespace'), 'utf8').trim();
  } catch {
    namespace = undefined;
  }
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(join(saDir, 'ca.crt'));
  } catch {
    throw new KubeConfigError(`in cluster, but ${saDir}/ca.crt cannot be read`);
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return new KubeConfig({ server: `https://${hostPart}:${port}`, namespace, ca, insecure: false, credential: { kind: 'tokenFile', path: join(saDir, 'token') } });
}

/** Like kubectl: --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config, else in cluster. */
export function loadKubeConfig(options: { kubeconfig?: string | undefined; context?: string | undefined } = {}, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const candidates = options.kubeconfig ? [options.kubeconfig] : [...(env['KUBECONFIG'] ?? '').split(':').filter(Boolean), join(env['HOME'] ?? homedir(), '.kube', 'config')];
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      if (options.kubeconfig) throw new KubeConfigError(`cannot read the kubeconfig ${file}`);
      continue;
    }
    return kubeConfigFromText(text, file, options.context);
  }
  const inCluster = inClusterKubeConfig(env);
  if (inCluster) return inCluster;
  throw new KubeConfigError('no Kubernetes cluster configured (give --kubeconfig, set KUBECONFIG, or run in a cluster)');
}

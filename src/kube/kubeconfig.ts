/**
 * Access to the API server from kubeconfig files or the in-cluster service account, with kubectl's rules and
 * without @kubernetes/client-node: importing that package's module graph costs ~76 MiB of resident memory
 * (more than everything else the controller holds for a thousand releases) and 0.7–1.0 s of start-up, measured
 * with `node -e "await import('@kubernetes/client-node')"` on Node 24 (0.03 s for an empty script), which is
 * several times a whole `scan`. Exec plugins are run here; auth-provider plugins (gcp, azure, oidc) are the
 * one case that loads client-node, and only when used.
 *
 * Which files, and how they merge (client-go's clientcmd loading rules, what kubectl does):
 * - `--kubeconfig F`: only F, which must exist;
 * - else `$KUBECONFIG`: every file in the list, in order; missing ones are skipped; ~/.kube/config is NOT
 *   consulted even when all are missing;
 * - else `~/.kube/config`; when nothing is configured (no file, or only missing files): in cluster.
 * Merging: the first file that names a cluster, user or context wins that name as a whole (later files'
 * fields under the same name are discarded, never mixed in); the first non-empty `current-context` wins.
 * Relative paths (certificate-authority, client-certificate, client-key, tokenFile, an exec command that
 * contains a slash) are relative to the file that defined the entry. A name defined twice in one file is
 * an error, as in kubectl.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Agent, OutgoingHttpHeaders } from 'node:http';
import { http, https } from '../util/node-http.ts';
import { ProxyEnvironment, proxiedAgentOptions, type ProxyChoice } from '../util/proxy.ts';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { isObject, str, type JsonObject } from '../util/guards.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  readonly reason = 'invalid_kubeconfig';
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

type Kind = 'cluster' | 'user' | 'context';
const LISTS: Record<Kind, 'clusters' | 'users' | 'contexts'> = { cluster: 'clusters', user: 'users', context: 'contexts' };

/** One named entry and the file that defined it (relative paths in it are relative to that file). */
export interface DefinedEntry {
  name: string;
  value: JsonObject;
  file: string;
}

export interface MergedKubeconfig {
  /** Files that were read, in order (missing ones left out). */
  files: string[];
  clusters: Map<string, DefinedEntry>;
  users: Map<string, DefinedEntry>;
  contexts: Map<string, DefinedEntry>;
  currentContext?: string | undefined;
}

/** The context in use, its cluster and user: what `kubectl config view --minify` shows. */
export interface KubeconfigSelection {
  contextName: string;
  context: DefinedEntry;
  cluster?: DefinedEntry | undefined;
  user?: DefinedEntry | undefined;
}

/** The files kubectl would read, and whether a missing one is an error (only `--kubeconfig`). */
export function kubeconfigPaths(options: { kubeconfig?: string | undefined }, env: NodeJS.ProcessEnv = process.env): { files: string[]; explicit: boolean } {
  if (options.kubeconfig) return { files: [options.kubeconfig], explicit: true };
  const list = env['KUBECONFIG'];
  if (list !== undefined && list !== '') {
    const files: string[] = [];
    for (const f of list.split(delimiter)) if (f && !files.includes(f)) files.push(f);
    return { files, explicit: false };
  }
  return { files: [join(env['HOME'] || homedir(), '.kube', 'config')], explicit: false };
}

function parseFile(text: string, file: string): JsonObject {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new KubeConfigError(`error loading kubeconfig ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObject(doc)) throw new KubeConfigError(`error loading kubeconfig ${file}: not a mapping`);
  return doc;
}

/** Merges kubeconfig texts in order with kubectl's first-wins rules. */
export function mergeKubeconfigs(texts: readonly { file: string; text: string }[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { files: [], clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const { file, text } of texts) {
    const doc = parseFile(text, file);
    merged.files.push(file);
    for (const kind of ['cluster', 'user', 'context'] as const) {
      const list = doc[LISTS[kind]];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw new KubeConfigError(`error loading kubeconfig ${file}: ${LISTS[kind]} must be a list`);
      const seen = new Set<string>();
      for (const item of list) {
        const name = isObject(item) ? str(item['name']) : undefined;
        if (name === undefined || !isObject(item)) throw new KubeConfigError(`error loading kubeconfig ${file}: every entry of ${LISTS[kind]} needs a name`);
        if (seen.has(name)) throw new KubeConfigError(`error loading kubeconfig ${file}: duplicate name "${name}" in ${LISTS[kind]}`);
        seen.add(name);
        const value = item[kind] ?? {};
        if (!isObject(value)) throw new KubeConfigError(`error loading kubeconfig ${file}: ${LISTS[kind]} "${name}" must be a mapping`);
        const map = merged[LISTS[kind]];
        if (!map.has(name)) map.set(name, { name, value, file });
      }
    }
    const current = str(doc['current-context']);
    if (!merged.currentContext && current) merged.currentContext = current;
  }
  return merged;
}

/** The current (or given) context with its cluster and user; the errors are kubectl's `--minify` ones. */
export function selectContext(merged: MergedKubeconfig, context?: string): KubeconfigSelection {
  const contextName = context || merged.currentContext;
  const where = `the kubeconfig ${merged.files.join(', ')}`;
  if (!contextName) throw new KubeConfigError(`${where}: no current-context (give --context)`);
  const ctx = merged.contexts.get(contextName);
  if (!ctx) throw new KubeConfigError(`context "${contextName}" is not in ${where}`);
  const clusterName = str(ctx.value['cluster']) ?? '';
  const userName = str(ctx.value['user']) ?? '';
  const cluster = clusterName ? merged.clusters.get(clusterName) : undefined;
  if (clusterName && !cluster) throw new KubeConfigError(`context "${contextName}" names cluster "${clusterName}", which is not in ${where}`);
  const user = userName ? merged.users.get(userName) : undefined;
  if (userName && !user) throw new KubeConfigError(`context "${contextName}" names user "${userName}", which is not in ${where}`);
  return { contextName, context: ctx, cluster, user };
}

const PATH_FIELDS: Record<'cluster' | 'user', readonly string[]> = { cluster: ['certificate-authority'], user: ['client-certificate', 'client-key', 'tokenFile'] };

function resolvePath(file: string, p: string): string {
  // Absolute, as client-go's ResolveLocalPaths makes them: `./plugin.sh` in a kubeconfig given as `config` must
  // not become `plugin.sh`, which execFile would look up on PATH.
  return isAbsolute(p) ? p : resolve(dirname(file), p);
}

/** An entry with its relative paths made absolute against the file that defined it (as client-go does). */
export function resolvedEntry(entry: DefinedEntry, kind: 'cluster' | 'user'): JsonObject {
  const out: JsonObject = { ...entry.value };
  for (const f of PATH_FIELDS[kind]) {
    const v = str(out[f]);
    if (v) out[f] = resolvePath(entry.file, v);
  }
  const exec = out['exec'];
  if (kind === 'user' && isObject(exec)) {
    const command = str(exec['command']);
    if (command && !isAbsolute(command) && command.includes('/')) out['exec'] = { ...exec, command: resolvePath(entry.file, command) };
  }
  return out;
}

type Credential =
  | { kind: 'none' }
  /**
   * A bearer token. `tokenFile` wins over `token` when both are set (client-go keeps both and reads the file,
   * falling back to the inline token when the file cannot be read); the file is re-read on use: projected
   * service-account tokens rotate under a running pod.
   */
  | { kind: 'bearer'; token?: string | undefined; path?: string | undefined }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'exec'; exec: JsonObject; cluster: JsonObject; user: string }
  /** An auth-provider plugin: delegated to client-node, loaded on first use, given the minified config. */
  | { kind: 'authProvider'; minified: string };

/** kubeconfig `as`, `as-uid`, `as-groups`, `as-user-extra`: sent as client-go's Impersonate-* headers. */
interface Impersonation {
  user: string;
  uid?: string | undefined;
  groups: string[];
  extra: Record<string, string[]>;
}

interface Access {
  server: string;
  namespace?: string | undefined;
  context?: string | undefined;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  insecure: boolean;
  servername?: string | undefined;
  credential: Credential;
  impersonate?: Impersonation | undefined;
  /** The cluster's `proxy-url`: every request goes through it (client-go's http.ProxyURL). */
  proxyUrl?: string | undefined;
  /** What kubectl refuses about this configuration: every request fails with it, as kubectl's do. */
  invalid?: string | undefined;
}

interface PluginConfig {
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

interface ExecResult {
  token?: string | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** ms since epoch; undefined: valid for the life of the process. */
  expires?: number | undefined;
}

/** What the controller and CLI need of a kubeconfig: where the API server is and how to authenticate. */
export class KubeConfig {
  readonly #a: Access;
  #plugin: Promise<PluginConfig> | undefined;
  #exec: Promise<ExecResult> | undefined;
  #execResult: ExecResult | undefined;
  #fileToken: { path: string; token: string; readAt: number } | undefined;
  readonly #proxyAgents = new Map<string, Agent>();
  /** The environment's proxy settings, read at the first request (as HttpClient reads them once), not per request. */
  #proxyEnvironment: ProxyEnvironment | undefined;

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

  /** The context in use (undefined in cluster). */
  get context(): string | undefined {
    return this.#a.context;
  }

  /** The cluster's `proxy-url`, if any (else the environment's proxy applies, as in client-go). */
  get proxyUrl(): string | undefined {
    return this.#a.proxyUrl;
  }

  /**
   * The agent for a request to `target`: undefined for a direct connection (Node's global agent), else one that
   * tunnels through the cluster's `proxy-url` (every request, as client-go's http.ProxyURL) or, without one,
   * the proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY choose as Go's ProxyFromEnvironment does (util/proxy.ts). Kept per
   * proxy so connections are reused. Throws ProxyError for a proxy Node cannot use (socks5).
   */
  agentFor(target: URL, env: NodeJS.ProcessEnv = process.env): Agent | undefined {
    const configured = this.#a.proxyUrl;
    const choice: ProxyChoice | undefined = configured ? { url: new URL(configured), variable: 'proxy-url' } : (this.#proxyEnvironment ??= ProxyEnvironment.from(env)).choose(target);
    if (!choice) return undefined;
    const scheme = target.protocol === 'http:' ? 'http:' : 'https:';
    const key = `${scheme} ${choice.url.href}`;
    let agent = this.#proxyAgents.get(key);
    if (!agent) {
      // node-http.ts: require(), not import, keeps Node's undici out of the process (+20 ms, +13 MiB).
      agent = scheme === 'https:' ? new https.Agent(proxiedAgentOptions(scheme, choice, { keepAlive: true })) : new http.Agent(proxiedAgentOptions(scheme, choice, { keepAlive: true }));
      this.#proxyAgents.set(key, agent);
    }
    return agent;
  }

  /**
   * A projected service-account token is rotated by the kubelet (at 80 % of its hour) and re-read here at
   * most once a minute, as client-go's cached file token source does: not one file read per request
   * (a first sync of 10,000 releases makes ~30,000 requests).
   */
  #tokenFromFile(path: string, fallback: string | undefined): string {
    const now = Date.now();
    if (!this.#fileToken || this.#fileToken.path !== path || now - this.#fileToken.readAt >= 60_000) {
      let token: string;
      try {
        token = readFileSync(path, 'utf8').trim();
      } catch (err) {
        // client-go sends the inline token when the file cannot be read, and fails only without one.
        if (fallback) return fallback;
        throw new KubeConfigError(`cannot read the tokenFile ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      this.#fileToken = { path, token, readAt: now };
    }
    return this.#fileToken.token;
  }

  /**
   * After a 401: forgets the exec plugin's credential so the next request runs the plugin again, as client-go's
   * exec authenticator does (a token revoked or rotated before its expiry, or one without an expiry). True when
   * there was one to forget, i.e. when a retry may succeed.
   */
  refreshAfterUnauthorized(): boolean {
    if (this.#a.credential.kind !== 'exec' || !this.#execResult) return false;
    this.#execResult = undefined;
    return true;
  }

  /** Adds TLS material, the Authorization header and impersonation headers to a node:https request. */
  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const a = this.#a;
    if (a.invalid) throw new KubeConfigError(a.invalid);
    if (a.ca) opts.ca = a.ca;
    if (a.cert) opts.cert = a.cert;
    if (a.key) opts.key = a.key;
    if (a.insecure) opts.rejectUnauthorized = false;
    if (a.servername) opts.servername = a.servername;
    const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders | undefined) };
    opts.headers = headers;
    const imp = a.impersonate;
    if (imp) {
      headers['Impersonate-User'] = imp.user;
      if (imp.uid) headers['Impersonate-Uid'] = imp.uid;
      if (imp.groups.length) headers['Impersonate-Group'] = imp.groups;
      for (const [k, vs] of Object.entries(imp.extra)) if (vs.length) headers[`Impersonate-Extra-${headerKeyEscape(k)}`] = vs;
    }
    const c = a.credential;
    if (c.kind === 'bearer') {
      const token = c.path ? this.#tokenFromFile(c.path, c.token) : c.token;
      if (token) headers['Authorization'] = `Bearer ${token}`;
    } else if (c.kind === 'basic') headers['Authorization'] = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    else if (c.kind === 'exec') {
      const r = await this.#execCredential(c);
      if (r.token) headers['Authorization'] = `Bearer ${r.token}`;
      if (r.cert) opts.cert = r.cert;
      if (r.key) opts.key = r.key;
    } else if (c.kind === 'authProvider') {
      this.#plugin ??= loadAuthProvider(c.minified);
      await (await this.#plugin).applyToHTTPSOptions(opts);
    }
  }

  /**
   * The plugin's credential, run once and reused until 10 s before it expires (client-go waits for the expiry
   * itself; 10 s early keeps a request from carrying a token that expires on the way), or until a 401.
   */
  async #execCredential(c: Extract<Credential, { kind: 'exec' }>): Promise<ExecResult> {
    const cached = this.#execResult;
    if (cached && (cached.expires === undefined || cached.expires - 10_000 > Date.now())) return cached;
    this.#exec ??= runExecPlugin(c.exec, c.cluster, c.user).finally(() => {
      this.#exec = undefined;
    });
    this.#execResult = await this.#exec;
    return this.#execResult;
  }
}

/**
 * An exec credential plugin (client.authentication.k8s.io): the command with its args and env, and
 * KUBERNETES_EXEC_INFO; stdout is an ExecCredential whose status holds a token or a client certificate.
 * Never interactive (a scan must not stop for a prompt); the plugin's stderr reaches the user as in kubectl.
 */
function runExecPlugin(exec: JsonObject, cluster: JsonObject, user: string): Promise<ExecResult> {
  const command = str(exec['command']);
  if (!command) return Promise.reject(new KubeConfigError(`user "${user}": exec has no command`));
  const apiVersion = str(exec['apiVersion']) ?? 'client.authentication.k8s.io/v1';
  const args = Array.isArray(exec['args']) ? exec['args'].filter((a): a is string => typeof a === 'string') : [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (Array.isArray(exec['env'])) for (const e of exec['env']) if (isObject(e) && typeof e['name'] === 'string') env[e['name']] = str(e['value']) ?? '';
  const spec: JsonObject = { interactive: false };
  if (exec['provideClusterInfo'] === true) spec['cluster'] = execClusterInfo(cluster);
  env['KUBERNETES_EXEC_INFO'] = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec });
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { env, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        const hint = str(exec['installHint']);
        reject(new KubeConfigError(`user "${user}": exec plugin ${command} failed: ${err.message.split('\n')[0]}${hint ? ` (${hint.trim()})` : ''}`));
        return;
      }
      let doc: unknown;
      try {
        doc = JSON.parse(stdout);
      } catch {
        reject(new KubeConfigError(`user "${user}": exec plugin ${command} did not print an ExecCredential`));
        return;
      }
      // client-go refuses an ExecCredential of another version than the one it asked for.
      const got = isObject(doc) ? str(doc['apiVersion']) : undefined;
      if (got !== apiVersion) {
        reject(new KubeConfigError(`user "${user}": exec plugin ${command} returned an ExecCredential of apiVersion ${got ?? '(none)'}, expected ${apiVersion}`));
        return;
      }
      const status = isObject(doc) && isObject(doc['status']) ? doc['status'] : undefined;
      const token = str(status?.['token']);
      const cert = str(status?.['clientCertificateData']);
      const key = str(status?.['clientKeyData']);
      if (!token && !(cert && key)) {
        reject(new KubeConfigError(`user "${user}": exec plugin ${command} returned neither a token nor a client certificate and key`));
        return;
      }
      const exp = str(status?.['expirationTimestamp']);
      const expires = exp ? Date.parse(exp) : undefined;
      resolve({ token, cert: cert ? Buffer.from(cert) : undefined, key: key ? Buffer.from(key) : undefined, expires: Number.isNaN(expires) ? undefined : expires });
    });
    child.stderr?.pipe(process.stderr);
    child.stdin?.end();
  });
}

const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';

/**
 * KUBERNETES_EXEC_INFO's `spec.cluster` as client-go's ConfigToExecCluster fills it: the CA as data even when
 * the kubeconfig names a file, the proxy, `disable-compression`, and the cluster's
 * `client.authentication.k8s.io/exec` extension as `config`. Empty fields are left out (Go's omitempty).
 */
function execClusterInfo(cluster: JsonObject): JsonObject {
  let ca: string | undefined;
  try {
    ca = fileOrData(cluster, 'certificate-authority', 'certificate-authority')?.toString('base64');
  } catch {
    ca = undefined;
  }
  const extensions = Array.isArray(cluster['extensions']) ? cluster['extensions'].filter(isObject) : [];
  const config = extensions.find((e) => e['name'] === EXEC_EXTENSION)?.['extension'];
  const out: JsonObject = { server: cluster['server'] };
  if (str(cluster['tls-server-name'])) out['tls-server-name'] = cluster['tls-server-name'];
  if (cluster['insecure-skip-tls-verify'] === true) out['insecure-skip-tls-verify'] = true;
  if (ca) out['certificate-authority-data'] = ca;
  if (str(cluster['proxy-url'])) out['proxy-url'] = cluster['proxy-url'];
  if (cluster['disable-compression'] === true) out['disable-compression'] = true;
  if (config !== undefined && config !== null) out['config'] = config;
  return out;
}

/** client-go's header-key escaping for Impersonate-Extra-<key>: bytes outside an HTTP token, and '%', as %XX. */
function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /^[A-Za-z0-9!#$&'*+\-.^_`|~]$/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

async function loadAuthProvider(minified: string): Promise<PluginConfig> {
  let clientNode: typeof import('@kubernetes/client-node');
  try {
    clientNode = await import('@kubernetes/client-node');
  } catch {
    // The single-file executable leaves client-node out (it would double its size for this one case).
    throw new KubeConfigError('auth-provider plugins need chartorigin installed with npm (the single-file executable does not include them); use an exec plugin instead');
  }
  const { KubeConfig: ClientNodeConfig } = clientNode;
  const kc = new ClientNodeConfig();
  kc.loadFromString(minified);
  return kc;
}

function fileOrData(entry: JsonObject, pathKey: string, what: string): Buffer | undefined {
  const data = str(entry[`${pathKey}-data`]);
  if (data) return Buffer.from(data, 'base64');
  const path = str(entry[pathKey]);
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch {
    throw new KubeConfigError(`kubeconfig: cannot read ${what} file ${path}`);
  }
}

/**
 * What kubectl refuses about a user or cluster entry (client-go's clientcmd validation and transport.TLSConfigFor),
 * as one message; undefined when kubectl would use it. Checked when a request is made, as kubectl does:
 * `kubectl config view` shows such an entry, `kubectl get` fails on it.
 */
function validationError(clusterName: string, cluster: JsonObject, userName: string, user: JsonObject): string | undefined {
  const errors: string[] = [];
  const has = (o: JsonObject, k: string): boolean => Boolean(str(o[k]));
  if (has(cluster, 'certificate-authority') && has(cluster, 'certificate-authority-data')) errors.push(`cluster "${clusterName}" has both certificate-authority and certificate-authority-data`);
  const proxy = str(cluster['proxy-url']);
  if (proxy) {
    let scheme = '';
    try {
      scheme = new URL(proxy).protocol.replace(/:$/, '');
    } catch {
      errors.push(`cluster "${clusterName}" has an invalid proxy-url`);
    }
    if (scheme && !['http', 'https', 'socks5'].includes(scheme)) errors.push(`cluster "${clusterName}": proxy-url scheme ${scheme} is not one of http, https, socks5`);
  }
  if ((has(cluster, 'certificate-authority') || has(cluster, 'certificate-authority-data')) && cluster['insecure-skip-tls-verify'] === true) {
    errors.push(`cluster "${clusterName}": a certificate authority together with insecure-skip-tls-verify is not allowed`);
  }
  const methods: string[] = [];
  if (has(user, 'token')) methods.push('token');
  if (has(user, 'username') || has(user, 'password')) methods.push('basicAuth');
  if (has(user, 'client-certificate') || has(user, 'client-certificate-data')) {
    if (has(user, 'client-certificate') && has(user, 'client-certificate-data')) errors.push(`user "${userName}" has both client-certificate and client-certificate-data`);
    if (has(user, 'client-key') && has(user, 'client-key-data')) errors.push(`user "${userName}" has both client-key and client-key-data`);
    if (!has(user, 'client-key') && !has(user, 'client-key-data')) errors.push(`user "${userName}" has a client certificate but no client-key or client-key-data`);
  }
  if (methods.length > 1) errors.push(`user "${userName}" has more than one authentication method (${methods.join(', ')}); only one is allowed`);
  const exec = user['exec'];
  if (isObject(exec)) {
    if (isObject(user['auth-provider'])) errors.push(`user "${userName}" has both an auth-provider and an exec plugin`);
    if (!str(exec['command'])) errors.push(`user "${userName}": exec has no command`);
    const apiVersion = str(exec['apiVersion']);
    if (!apiVersion) errors.push(`user "${userName}": exec has no apiVersion`);
    // v1beta1 defaults interactiveMode to IfAvailable; v1 has no default.
    const mode = str(exec['interactiveMode']) ?? (apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
    if (!mode) errors.push(`user "${userName}": exec needs an interactiveMode (Never, IfAvailable or Always)`);
    else if (!['Never', 'IfAvailable', 'Always'].includes(mode)) errors.push(`user "${userName}": exec interactiveMode ${mode} is not Never, IfAvailable or Always`);
    if (Array.isArray(exec['env']) && exec['env'].some((e) => !isObject(e) || !str(e['name']))) errors.push(`user "${userName}": an exec env entry has no name`);
  }
  const groups = Array.isArray(user['as-groups']) ? user['as-groups'] : [];
  if ((has(user, 'as-uid') || groups.length > 0 || (isObject(user['as-user-extra']) && Object.keys(user['as-user-extra']).length > 0)) && !has(user, 'as')) {
    errors.push(`user "${userName}" asks for an impersonated uid, groups or extra without impersonating a user (as)`);
  }
  return errors.length ? `kubeconfig: ${errors.join('; ')}` : undefined;
}

function impersonationOf(user: JsonObject): Impersonation | undefined {
  const as = str(user['as']);
  if (!as) return undefined;
  const extra: Record<string, string[]> = {};
  const rawExtra = user['as-user-extra'];
  if (isObject(rawExtra)) for (const [k, v] of Object.entries(rawExtra)) extra[k] = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const groups = Array.isArray(user['as-groups']) ? user['as-groups'].filter((g): g is string => typeof g === 'string') : [];
  return { user: as, uid: str(user['as-uid']), groups, extra };
}

/**
 * A KubeConfig for the selected context; `namespace` (from -n) overrides the context's.
 *
 * Which credential, as client-go decides: a bearer token (`tokenFile` over `token`), else basic auth, else an
 * auth-provider, else an exec plugin — which client-go does not run when a token, basic auth or a client
 * certificate is configured. A client certificate is presented whatever else is. No credential is sent to an
 * `http://` server (client-go applies user credentials only over TLS); impersonation headers are.
 */
export function kubeConfigFromSelection(sel: KubeconfigSelection, namespace?: string): KubeConfig {
  const cluster = sel.cluster ? resolvedEntry(sel.cluster, 'cluster') : {};
  const server = str(cluster['server']);
  if (!server) throw new KubeConfigError(`context "${sel.contextName}" names no cluster with a server`);
  const user = sel.user ? resolvedEntry(sel.user, 'user') : {};
  const userName = sel.user?.name ?? '';
  const tls = /^https:/i.test(server);
  const hasCert = Boolean(str(user['client-certificate']) || str(user['client-certificate-data']));
  let credential: Credential = { kind: 'none' };
  if (!tls) credential = { kind: 'none' };
  else if (str(user['token']) || str(user['tokenFile'])) credential = { kind: 'bearer', token: str(user['token']), path: str(user['tokenFile']) };
  else if (str(user['username']) !== undefined || str(user['password']) !== undefined) credential = { kind: 'basic', username: str(user['username']) ?? '', password: str(user['password']) ?? '' };
  else if (isObject(user['auth-provider'])) {
    const minified = stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: sel.cluster?.name ?? 'cluster', cluster }],
      users: [{ name: userName || 'user', user }],
      contexts: [{ name: sel.contextName, context: { cluster: sel.cluster?.name ?? 'cluster', user: userName || 'user' } }],
      'current-context': sel.contextName,
    });
    credential = { kind: 'authProvider', minified };
  } else if (isObject(user['exec']) && !hasCert) credential = { kind: 'exec', exec: user['exec'], cluster, user: userName };
  const invalid = validationError(sel.cluster?.name ?? '', cluster, userName, user);
  // Unreadable files are reported when a request is made, like every other problem kubectl finds there.
  let ca: Buffer | undefined;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  let unreadable: string | undefined;
  try {
    ca = fileOrData(cluster, 'certificate-authority', 'certificate-authority');
    if (tls) {
      cert = fileOrData(user, 'client-certificate', 'client-certificate');
      key = fileOrData(user, 'client-key', 'client-key');
    }
  } catch (err) {
    unreadable = (err as Error).message;
  }
  return new KubeConfig({
    server: server.replace(/\/+$/, ''),
    namespace: namespace || str(sel.context.value['namespace']) || undefined,
    context: sel.contextName,
    ca,
    cert,
    key,
    insecure: cluster['insecure-skip-tls-verify'] === true,
    servername: str(cluster['tls-server-name']),
    credential,
    // Unlike credentials, kubectl sends impersonation headers whatever the scheme (checked against kubectl).
    impersonate: impersonationOf(user),
    proxyUrl: str(cluster['proxy-url']),
    invalid: invalid ?? unreadable,
  });
}

/** Parses one kubeconfig text; `file` resolves relative paths and names the file in errors. */
export function kubeConfigFromText(text: string, file: string, context?: string): KubeConfig {
  return kubeConfigFromSelection(selectContext(mergeKubeconfigs([{ file, text }]), context));
}

/**
 * The pod's service account: KUBERNETES_SERVICE_HOST/PORT, token (re-read), CA and namespace files. The
 * namespace, as client-go's in-cluster config has it: `-n` first, then POD_NAMESPACE, then the file.
 */
export function inClusterKubeConfig(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR, namespaceOverride?: string): KubeConfig | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) return undefined;
  let namespace: string | undefined = namespaceOverride || env['POD_NAMESPACE'] || undefined;
  if (!namespace) {
    try {
      namespace = readFileSync(join(saDir, 'namespace'), 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
  }
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(join(saDir, 'ca.crt'));
  } catch {
    throw new KubeConfigError(`in cluster, but ${saDir}/ca.crt cannot be read`);
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return new KubeConfig({ server: `https://${hostPart}:${port}`, namespace, ca, insecure: false, credential: { kind: 'bearer', path: join(saDir, 'token') } });
}

/** Reads and merges the files kubectl would read; undefined when none exists (and none was given by flag). */
export function loadMergedKubeconfig(options: { kubeconfig?: string | undefined } = {}, env: NodeJS.ProcessEnv = process.env): MergedKubeconfig | undefined {
  const { files, explicit } = kubeconfigPaths(options, env);
  const texts: { file: string; text: string }[] = [];
  for (const file of files) {
    if (!explicit && !existsSync(file)) continue;
    try {
      texts.push({ file, text: readFileSync(file, 'utf8') });
    } catch {
      throw new KubeConfigError(`cannot read the kubeconfig ${file}`);
    }
  }
  return texts.length ? mergeKubeconfigs(texts) : undefined;
}

export interface LoadKubeConfigOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

/** kubectl's order: --kubeconfig, else every file of $KUBECONFIG merged, else ~/.kube/config, else in cluster. */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const merged = loadMergedKubeconfig(options, env);
  const empty = !merged || (!merged.currentContext && merged.contexts.size === 0 && merged.clusters.size === 0 && merged.users.size === 0);
  if (!empty && merged) return kubeConfigFromSelection(selectContext(merged, options.context), options.namespace);
  const inCluster = inClusterKubeConfig(env, SA_DIR, options.namespace);
  if (inCluster) return inCluster;
  const set = env['KUBECONFIG'];
  throw new KubeConfigError(
    set && !options.kubeconfig
      ? `no Kubernetes cluster configured: none of the KUBECONFIG files exists (${set})`
      : 'no Kubernetes cluster configured (give --kubeconfig, set KUBECONFIG, or run in a cluster)',
  );
}

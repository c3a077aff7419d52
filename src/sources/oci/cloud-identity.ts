import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import { ProxyAgents } from '../../util/proxy.ts';
import { clearCloudIdentityUses, recordCloudIdentityUse } from './cloud-use.ts';
import { HttpClient } from '../http/client.ts';
import { RepoError, type Credentials } from '../../model/repository.ts';
import { isObject, str } from '../../util/guards.ts';
import {
  AZURE_ACR_SCOPE,
  AZURE_REGISTRY_USER,
  GCP_REGISTRY_USER,
  GCP_SCOPES,
  AWS_PUBLIC_ECR,
  awsRegionOf,
  cloudRegistryInput,
  cloudTransportProblem,
  reuseFor,
  type CloudProvider,
} from './cloud-registry.ts';

/*
 * Registry credentials from the pod's (or the user's) ambient cloud identity, for a repository whose Flux source
 * says `provider: aws | azure | gcp` — what source-controller does for an OCIRepository or a HelmRepository of
 * type oci with a provider and no secretRef (fluxcd/pkg auth GetArtifactRegistryCredentials with the
 * controller's own identity, NewControllerToken). Asked for only when the registry challenges a request, as
 * oras-go and go-containerregistry ask their authenticators; reused process-wide, per provider, identity and
 * registry input, for 80 % of its lifetime (at most an hour), as Flux's token cache reuses it.
 *
 * Never in a message: a token, the federated token file's content, a secret key. Errors name the provider, the
 * endpoint and the HTTP status only.
 */

export interface CloudIdentityOptions {
  /** Where the identity's variables are read (default process.env), at every credential request. */
  env?: NodeJS.ProcessEnv | undefined;
  /** PEM trusted in addition to the system roots for the cloud's token endpoints (private clouds, tests). */
  caPem?: string | undefined;
  now?: (() => number) | undefined;
  /** The whole ECR token request's deadline (default 60 s; tests shorten it). */
  awsDeadlineMs?: number | undefined;
}

interface Issued {
  credentials: Credentials;
  reuseUntil: number;
}

/** Process-wide, as Flux's TokenCache is controller-wide: every repository of one registry shares a token. */
const cache = new Map<string, Issued>();
const pending = new Map<string, Promise<Issued>>();
/**
 * A failed request is answered from here for FAILURE_REUSE_MS: without it every challenge reran the whole chain
 * (with provider gcp on a laptop, 10 s against an unanswering metadata server per 401, so a scan of one
 * registry's charts took minutes). 30 s is short enough that a fixed identity (a role binding, the workload
 * identity webhook's variables) is used at the next reconcile, long enough to cover one scan or probe round.
 */
const failures = new Map<string, { error: CloudIssueError; until: number }>();
export const FAILURE_REUSE_MS = 30_000;

/** A failure to issue a credential, naming the provider's endpoint and status, never a repository or token. */
class CloudIssueError extends Error {}

function issueError(detail: string, cause?: unknown): CloudIssueError {
  return new CloudIssueError(detail, cause === undefined ? undefined : { cause });
}

/** `p`, or the signal's abort: a waiter that gives up does not cancel the request others wait for. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** For tests: forget every issued credential, every remembered failure and every recorded use. */
export function clearCloudCredentialCache(): void {
  cache.clear();
  failures.clear();
  clearCloudIdentityUses();
}

/**
 * What the credentials need of the repository's transport: its CA (trusted for ACR's token exchange, beside
 * the system roots) and its insecure settings, which refuse every cloud credential (cloudTransportProblem).
 */
export interface RegistryTransport {
  caPem?: string | undefined;
  plainHTTP: boolean;
  insecureSkipTLSVerify: boolean;
}

/**
 * A repository's source of cloud credentials. `get` answers from the cache or asks the cloud; a failure is a
 * RepoError `unauthorized` on the repository ("provider gcp: …").
 */
export class CloudCredentials {
  readonly provider: CloudProvider;
  readonly #repository: string;
  readonly #artifactRepository: string;
  readonly #registry: RegistryTransport;
  readonly #options: CloudIdentityOptions;
  readonly #now: () => number;

  constructor(repository: string, provider: CloudProvider, artifactRepository: string, registry: RegistryTransport, options: CloudIdentityOptions = {}) {
    this.#repository = repository;
    this.provider = provider;
    this.#artifactRepository = artifactRepository;
    this.#registry = registry;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** A failure of the HTTP layer, without its own `repository NAME: ` prefix (the wrapper names the repository). */
  #inner(err: unknown): string {
    const m = err instanceof Error ? err.message : String(err);
    const prefix = `repository ${this.#repository}: `;
    return m.startsWith(prefix) ? m.slice(prefix.length) : m;
  }

  #fail(detail: string, cause?: unknown): RepoError {
    return new RepoError(this.#repository, 'unauthorized', `repository ${this.#repository}: provider ${this.provider}: ${detail}`, cause === undefined ? undefined : { cause });
  }

  async get(signal?: AbortSignal): Promise<Credentials> {
    const parsed = cloudRegistryInput(this.provider, this.#artifactRepository);
    if ('error' in parsed) throw this.#fail(parsed.error);
    // Declarations refuse this already (repository-config.ts); a RepositoryConfig made otherwise is refused here.
    const transport = cloudTransportProblem(this.#registry);
    if (transport) throw this.#fail(transport);
    const env = this.#options.env ?? process.env;
    // The identity is part of the key (Flux's key has the provider, its audiences and identity): another
    // AZURE_CLIENT_ID, role or metadata host is another token. No repository's own settings are: every cloud
    // endpoint, ACR's token exchange included, is reached with the process's trust only (#acrRefreshToken).
    const key = [this.provider, parsed.input, ...identityOf(this.provider, env)].join('\n');
    const now = this.#now();
    const hit = cache.get(key);
    if (hit && hit.reuseUntil > now) {
      recordCloudIdentityUse(this.#repository, this.provider);
      return hit.credentials;
    }
    const failed = failures.get(key);
    if (failed && failed.until > now) throw this.#fail(failed.error.message, failed.error);
    let p = pending.get(key);
    if (!p) {
      // Issued for every repository waiting on it: with no caller's signal (each request has its own timeout,
      // 10 s or 30 s), so that one aborted probe does not fail the others, and with errors that name no
      // repository (each caller names its own, below).
      p = this.#issue(parsed.input, env).then(
        (issued) => {
          forgetExpired(this.#now());
          cache.set(key, issued);
          failures.delete(key);
          return issued;
        },
        (err: unknown) => {
          const error = err instanceof CloudIssueError ? err : issueError(this.#inner(err), err);
          forgetExpired(this.#now());
          failures.set(key, { error, until: this.#now() + FAILURE_REUSE_MS });
          throw error;
        },
      );
      const settled = p.finally(() => pending.delete(key));
      // Every waiter may have gone (aborted): the outcome is cached, never an unhandled rejection.
      settled.catch(() => undefined);
      pending.set(key, p);
    }
    try {
      const credentials = (await raceSignal(p, signal)).credentials;
      recordCloudIdentityUse(this.#repository, this.provider);
      return credentials;
    } catch (err) {
      throw err instanceof CloudIssueError ? this.#fail(err.message, err) : err;
    }
  }

  async #issue(input: string, env: NodeJS.ProcessEnv): Promise<Issued> {
    const issuedAt = this.#now();
    const done = (credentials: Credentials, expiresAt: number): Issued => ({ credentials, reuseUntil: issuedAt + reuseFor(expiresAt - issuedAt) });
    switch (this.provider) {
      case 'gcp': {
        const t = await this.#gcpToken(env);
        return done({ kind: 'basic', username: GCP_REGISTRY_USER, password: t.token }, t.expiresAt);
      }
      case 'azure': {
        const aad = await this.#entraToken(env);
        const refresh = await this.#acrRefreshToken(input, aad, env);
        return done({ kind: 'basic', username: AZURE_REGISTRY_USER, password: refresh.token }, refresh.expiresAt);
      }
      case 'aws': {
        const t = await this.#ecrToken(input);
        return done({ kind: 'basic', username: t.username, password: t.password }, t.expiresAt);
      }
    }
  }

  /**
   * The cloud's token endpoints: not the repository's TLS settings. The metadata server goes direct and gets
   * 10 s (on a laptop 169.254.169.254 answers nothing: `scan` must not hang on it); Entra ID goes through the
   * environment's proxy, as Go's default transport does.
   */
  #client(env: NodeJS.ProcessEnv, proxied: boolean): HttpClient {
    return new HttpClient({ repository: this.#repository, caPem: this.#options.caPem, timeoutMs: proxied ? 30_000 : 10_000, retry: { maxRetries: proxied ? 1 : 0 }, proxyEnv: proxied ? env : {} });
  }

  /**
   * GKE workload identity (and any GCE VM): the metadata server's token for the default service account,
   * asked as golang.org/x/oauth2/google's ComputeTokenSource asks (Flux's NewControllerToken ends there on GKE):
   * `GET http://<GCE_METADATA_HOST or 169.254.169.254>/computeMetadata/v1/instance/service-accounts/default/token?scopes=…`
   * with `Metadata-Flavor: Google`, never through a proxy (cloud.google.com/go/compute/metadata's client has
   * none). GOOGLE_APPLICATION_CREDENTIALS and gcloud's user credentials are not read.
   */
  async #gcpToken(env: NodeJS.ProcessEnv): Promise<{ token: string; expiresAt: number }> {
    const host = env['GCE_METADATA_HOST'] || '169.254.169.254';
    const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/token?${new URLSearchParams({ scopes: GCP_SCOPES.join(',') }).toString()}`;
    const http = this.#client(env, false);
    try {
      const res = await http.request({ url, headers: { 'metadata-flavor': 'Google' }, maxBytes: 64 * 1024, acceptStatus: [400, 401, 403, 404, 500, 503], what: 'GKE metadata server token' });
      if (res.status !== 200) throw issueError(`the metadata server http://${host} answered HTTP ${res.status} for the service account token (is GKE workload identity enabled for the node pool and the Kubernetes ServiceAccount bound to a Google service account?)`);
      const doc = jsonObject(res.body);
      const token = str(doc?.['access_token']);
      const expiresIn = typeof doc?.['expires_in'] === 'number' ? doc['expires_in'] : 0;
      // x/oauth2/google: "incomplete token received from metadata" when either is missing.
      if (!token || expiresIn <= 0) throw issueError(`the metadata server http://${host} answered without an access_token and expires_in`);
      return { token, expiresAt: this.#now() + expiresIn * 1000 };
    } catch (err) {
      throw err instanceof CloudIssueError ? err : issueError(`cannot reach the metadata server http://${host}: ${this.#inner(err)}`, err);
    } finally {
      await http.close();
    }
  }

  /**
   * Azure workload identity (azidentity's WorkloadIdentityCredential, the one fluxcd/pkg's credential chain
   * takes when AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST are all
   * set — the AKS webhook sets them): the projected ServiceAccount token, read at every request (kubelet
   * rotates it), as a client assertion for an Entra ID token of ACR's scope.
   */
  async #entraToken(env: NodeJS.ProcessEnv): Promise<string> {
    const missing = ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_AUTHORITY_HOST'].filter((k) => !env[k]);
    if (missing.length) {
      throw issueError(`workload identity needs ${missing.join(', ')} in the environment (set by the AKS workload identity webhook for a pod labelled azure.workload.identity/use: "true" whose ServiceAccount is annotated with azure.workload.identity/client-id); managed identity and client secrets are not used`);
    }
    const clientId = env['AZURE_CLIENT_ID'] ?? '';
    const tenant = env['AZURE_TENANT_ID'] ?? '';
    const file = env['AZURE_FEDERATED_TOKEN_FILE'] ?? '';
    let authority: URL;
    try {
      authority = new URL(env['AZURE_AUTHORITY_HOST'] ?? '');
    } catch {
      throw issueError('AZURE_AUTHORITY_HOST is not a URL');
    }
    // MSAL refuses an authority that is not https: the assertion must not travel in clear text.
    if (authority.protocol !== 'https:') throw issueError(`AZURE_AUTHORITY_HOST ${authority.origin} is not https`);
    let assertion: string;
    try {
      assertion = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw issueError(`cannot read AZURE_FEDERATED_TOKEN_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!assertion) throw issueError(`AZURE_FEDERATED_TOKEN_FILE ${file} is empty`);
    const tokenUrl = new URL(`${encodeURIComponent(tenant)}/oauth2/v2.0/token`, authority.href.endsWith('/') ? authority.href : `${authority.href}/`).href;
    // The client-credentials grant with a JWT assertion (RFC 7523), fields in Go's url.Values order.
    const form = formOf([
      ['client_assertion', assertion],
      ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
      ['client_id', clientId],
      ['grant_type', 'client_credentials'],
      ['scope', AZURE_ACR_SCOPE],
    ]);
    const http = this.#client(env, true);
    try {
      const res = await http.request({ url: tokenUrl, method: 'POST', form, maxBytes: 256 * 1024, acceptStatus: [400, 401, 403, 404], what: 'Entra ID token' });
      const doc = jsonObject(res.body);
      if (res.status !== 200) {
        // Entra's error codes (AADSTS…) say what is wrong with the federation; its descriptions hold no secret.
        const code = str(doc?.['error']);
        const codes = Array.isArray(doc?.['error_codes']) ? ` (AADSTS${doc['error_codes'].filter((c) => typeof c === 'number').join(', AADSTS')})` : '';
        throw issueError(`Entra ID ${authority.origin} refused the workload identity token of client ${clientId}: HTTP ${res.status}${code ? ` ${code}` : ''}${codes}`);
      }
      const token = str(doc?.['access_token']);
      if (!token) throw issueError(`Entra ID ${authority.origin} answered without an access_token`);
      return token;
    } catch (err) {
      throw err instanceof CloudIssueError ? err : issueError(`cannot get an Entra ID token from ${authority.origin}: ${this.#inner(err)}`, err);
    } finally {
      await http.close();
    }
  }

  /**
   * ACR's token exchange (azcontainerregistry ExchangeAADAccessTokenForACRRefreshToken, as fluxcd/pkg calls it):
   * `POST https://<registry>/oauth2/exchange` with `access_token`, `grant_type=access_token`, `service=<registry>`;
   * the answer's `refresh_token` is an ACR refresh token (a JWT whose `exp` says until when). It becomes the
   * password of the user 00000000-0000-0000-0000-000000000000, as Flux hands it to Helm and go-containerregistry.
   */
  async #acrRefreshToken(registry: string, aadToken: string, env: NodeJS.ProcessEnv): Promise<{ token: string; expiresAt: number }> {
    // Always https://<registry> with certificate verification by the system roots (and the process's own CA
    // option), through the environment's proxy, as fluxcd/pkg auth/azure does (auth/options.go GetHTTPClient:
    // http.DefaultTransport) — never the repository's transport or CA, whatever it says: the Entra ID token in
    // this form is good for every registry the identity may pull from, and a tenant's caSecretRef must not
    // decide who may receive it.
    const url = `https://${registry}/oauth2/exchange`;
    const form = formOf([
      ['access_token', aadToken],
      ['grant_type', 'access_token'],
      ['service', registry],
    ]);
    const caPem = this.#options.caPem;
    const http = new HttpClient({ repository: this.#repository, caPem, timeoutMs: 30_000, retry: { maxRetries: 1 }, proxyEnv: env });
    try {
      const res = await http.request({ url, method: 'POST', form, maxBytes: 256 * 1024, acceptStatus: [400, 401, 403, 404], what: 'ACR token exchange' });
      if (res.status !== 200) throw issueError(`the registry's token exchange ${url} refused the Entra ID token: HTTP ${res.status} (does the identity have the AcrPull role on ${registry}?)`);
      const token = str(jsonObject(res.body)?.['refresh_token']);
      if (!token) throw issueError(`the registry's token exchange ${url} answered without a refresh_token`);
      const exp = jwtExpiry(token);
      if (exp === undefined) throw issueError(`the registry's token exchange ${url} answered a refresh_token without an expiry (exp)`);
      return { token, expiresAt: exp };
    } catch (err) {
      throw err instanceof CloudIssueError ? err : issueError(`cannot reach the registry's token exchange ${url}: ${this.#inner(err)}`, err);
    } finally {
      await http.close();
    }
  }

  /**
   * ECR (fluxcd/pkg auth/aws): the AWS SDK's default credential chain — IRSA (AWS_ROLE_ARN +
   * AWS_WEB_IDENTITY_TOKEN_FILE → STS AssumeRoleWithWebIdentity), EKS Pod Identity
   * (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), environment keys, profiles,
   * the node's instance role — in the registry's region, then ECR GetAuthorizationToken (ecr-public's for
   * public.ecr.aws, in us-east-1), whose base64 `user:password` is the registry's Basic credential. The SDK
   * signs (SigV4) and honours AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_ECR_PUBLIC.
   */
  async #ecrToken(input: string): Promise<{ username: string; password: string; expiresAt: number }> {
    const sdk = loadAwsSdk();
    if (typeof sdk === 'string') throw issueError(sdk);
    const region = awsRegionOf(input);
    if (!region) throw issueError('the ECR registry host names no region');
    // The SDK reads process.env itself (the identity's variables and the endpoint overrides). Its own HTTP
    // handler ignores HTTPS_PROXY/NO_PROXY; ECR and STS go through the proxy Helm and Flux would use (the
    // container credential agent and the instance metadata service are link-local and stay direct).
    const requestHandler = new ProxiedAwsHandler(sdk.NodeHttpHandler, this.#options.env ?? process.env);
    let data: unknown;
    try {
      const credentials = sdk.defaultProvider({ clientConfig: { requestHandler } });
      // destroy() in finally: a failed send otherwise leaves the client's sockets open.
      const client = input === AWS_PUBLIC_ECR ? new sdk.ECRPUBLICClient({ region, credentials, requestHandler }) : new sdk.ECRClient({ region, credentials, requestHandler });
      try {
        // An overall deadline too (credential chain, retries): the shared request must always settle.
        const deadline = { abortSignal: AbortSignal.timeout(this.#options.awsDeadlineMs ?? AWS_DEADLINE_MS) };
        if (input === AWS_PUBLIC_ECR) {
          const out = await client.send(new sdk.PublicGetAuthorizationTokenCommand({}), deadline);
          data = isObject(out) ? out['authorizationData'] : undefined;
        } else {
          const out = await client.send(new sdk.GetAuthorizationTokenCommand({}), deadline);
          data = isObject(out) && Array.isArray(out['authorizationData']) ? out['authorizationData'][0] : undefined;
        }
      } finally {
        client.destroy();
        requestHandler.destroy();
      }
    } catch (err) {
      // SDK errors carry the service's error code and message (AccessDenied…, "Could not load credentials"), no secret.
      const e = err as { name?: unknown; message?: unknown };
      throw issueError(`cannot get an ECR authorization token in ${region}: ${typeof e.name === 'string' ? `${e.name}: ` : ''}${typeof e.message === 'string' ? e.message.split('\n')[0] : 'error'}`);
    }
    const token = isObject(data) ? str(data['authorizationToken']) : undefined;
    const expiresAt = isObject(data) && data['expiresAt'] instanceof Date ? data['expiresAt'].getTime() : undefined;
    if (!token) throw issueError('ECR answered without an authorization token');
    if (expiresAt === undefined) throw issueError('ECR answered an authorization token without its expiry');
    const parts = Buffer.from(token, 'base64').toString('utf8').split(':');
    if (parts.length !== 2) throw issueError('ECR answered an authorization token that is not user:password');
    return { username: parts[0] ?? '', password: parts[1] ?? '', expiresAt };
  }
}

/** Entries past their reuse time go when a new one is added: the maps hold only what can still be used. */
function forgetExpired(now: number): void {
  for (const [k, v] of cache) if (v.reuseUntil <= now) cache.delete(k);
  for (const [k, v] of failures) if (v.until <= now) failures.delete(k);
}

/** The environment values that make one identity (part of the cache key; none of them is a secret). */
function identityOf(provider: CloudProvider, env: NodeJS.ProcessEnv): string[] {
  switch (provider) {
    case 'gcp':
      return [env['GCE_METADATA_HOST'] ?? ''];
    case 'azure':
      return [env['AZURE_AUTHORITY_HOST'] ?? '', env['AZURE_TENANT_ID'] ?? '', env['AZURE_CLIENT_ID'] ?? ''];
    case 'aws':
      return [env['AWS_ROLE_ARN'] ?? '', env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] ?? '', env['AWS_ACCESS_KEY_ID'] ?? '', env['AWS_PROFILE'] ?? '', env['AWS_ENDPOINT_URL_ECR'] ?? '', env['AWS_ENDPOINT_URL_STS'] ?? ''];
  }
}

function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    return isObject(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** A form in the order given, encoded as Go's url.Values.Encode writes it. */
function formOf(fields: [string, string][]): string {
  const form = new URLSearchParams(fields);
  return form.toString().replace(/\*/g, '%2A').replace(/%7E/g, '~');
}

/** `exp` of a JWT, unverified (the registry that issued it checks it), in ms; undefined when absent. */
export function jwtExpiry(jwt: string): number | undefined {
  const payload = jwt.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return isObject(claims) && typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The part of the AWS SDK v3 used here, resolved at run time (it is loaded only for `provider: aws`). */
interface AwsSdk {
  defaultProvider: (init: Record<string, unknown>) => unknown;
  ECRClient: new (config: Record<string, unknown>) => AwsClient;
  GetAuthorizationTokenCommand: new (input: Record<string, unknown>) => unknown;
  ECRPUBLICClient: new (config: Record<string, unknown>) => AwsClient;
  PublicGetAuthorizationTokenCommand: new (input: Record<string, unknown>) => unknown;
  NodeHttpHandler: AwsHttpHandlerClass;
}

/** The part of @smithy/node-http-handler's NodeHttpHandler used here (the SDK's own handler class). */
interface AwsHttpHandler {
  handle(request: AwsHttpRequest, options?: unknown): Promise<unknown>;
  destroy(): void;
}
type AwsHttpHandlerClass = new (options: { httpAgent?: Http.Agent; httpsAgent?: Http.Agent; connectionTimeout?: number; requestTimeout?: number }) => AwsHttpHandler;

interface AwsHttpRequest {
  protocol: string;
  hostname: string;
  port?: number | undefined;
}

/**
 * An SDK request handler that picks, per request, the agent the project's proxy rules choose for its URL
 * (src/util/proxy.ts: Go's ProxyFromEnvironment), and hands the request to a NodeHttpHandler on that agent.
 */
class ProxiedAwsHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  readonly #Handler: AwsHttpHandlerClass;
  readonly #agents: ProxyAgents;
  readonly #handlers = new Map<Http.Agent, AwsHttpHandler>();

  constructor(Handler: AwsHttpHandlerClass, env: NodeJS.ProcessEnv) {
    this.#Handler = Handler;
    this.#agents = new ProxyAgents({ env, http: { keepAlive: true }, https: { keepAlive: true } });
  }

  handle(request: AwsHttpRequest, options?: unknown): Promise<unknown> {
    const url = new URL(`${request.protocol.replace(/:?$/, ':')}//${request.hostname}${request.port ? `:${request.port}` : ''}/`);
    const { agent } = this.#agents.forUrl(url);
    let handler = this.#handlers.get(agent);
    if (!handler) {
      // NodeHttpHandler waits for ever unless told: a proxy or endpoint that accepts and never answers would
      // hold the shared credential request (and every repository of the registry) with it. The limits of the
      // project's other cloud requests (HttpClient: 10 s to connect, 30 s per request).
      const limits = { connectionTimeout: 10_000, requestTimeout: 30_000 };
      handler = new this.#Handler(url.protocol === 'https:' ? { httpsAgent: agent, ...limits } : { httpAgent: agent, ...limits });
      this.#handlers.set(agent, handler);
    }
    return handler.handle(request, options);
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    for (const h of this.#handlers.values()) h.destroy();
    this.#handlers.clear();
    this.#agents.destroy();
  }
}

interface AwsClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy(): void;
}

/** STS and ECR each within 30 s, the SDK's retries (3 attempts) included: 60 s, then the failure is remembered. */
const AWS_DEADLINE_MS = 60_000;

export const AWS_SDK_PACKAGES = ['@aws-sdk/client-ecr', '@aws-sdk/client-ecr-public', '@aws-sdk/credential-provider-node', '@smithy/node-http-handler'] as const;

let awsSdk: AwsSdk | string | undefined;

/** The SDK's CommonJS build through require, so that NODE_PATH is honoured and nothing loads it for the other providers. */
function loadAwsSdk(): AwsSdk | string {
  if (awsSdk !== undefined) return awsSdk;
  const require = createRequire(import.meta.url);
  try {
    const ecr: unknown = require('@aws-sdk/client-ecr');
    const ecrPublic: unknown = require('@aws-sdk/client-ecr-public');
    const chain: unknown = require('@aws-sdk/credential-provider-node');
    // The SDK's own HTTP handler package (a dependency of the clients above), for a proxy-aware handler.
    const smithy: unknown = require('@smithy/node-http-handler');
    const fn = (m: unknown, name: string): unknown => (isObject(m) || typeof m === 'function' ? (m as Record<string, unknown>)[name] : undefined);
    const parts = {
      defaultProvider: fn(chain, 'defaultProvider'),
      ECRClient: fn(ecr, 'ECRClient'),
      GetAuthorizationTokenCommand: fn(ecr, 'GetAuthorizationTokenCommand'),
      ECRPUBLICClient: fn(ecrPublic, 'ECRPUBLICClient'),
      PublicGetAuthorizationTokenCommand: fn(ecrPublic, 'GetAuthorizationTokenCommand'),
      NodeHttpHandler: fn(smithy, 'NodeHttpHandler'),
    };
    if (Object.values(parts).some((v) => typeof v !== 'function')) return (awsSdk = `the installed AWS SDK (${AWS_SDK_PACKAGES.join(', ')}) lacks what ECR authentication needs`);
    awsSdk = parts as unknown as AwsSdk;
  } catch {
    awsSdk = `ECR authentication needs the AWS SDK (${AWS_SDK_PACKAGES.join(', ')}), which is not installed`;
  }
  return awsSdk;
}

import type { KubeConfig } from '../../kube/kubeconfig.ts';
import { KubeApiError, kubeRequest } from '../../kube/raw-client.ts';
import type { FluxHint, FluxSourceHint } from '../../chart/flux-build.ts';
import { redactUrl } from '../url.ts';
import { arr, isObject, str, type JsonObject } from '../../util/guards.ts';
import { credentialsFromSecret, repositoryTls, toRepositoryConfig, type ChartRepositorySpec, type ReadSecret, type SecretRef, type SecretTls } from '../chart-repository.ts';
import { secretReader } from '../../kube/core-objects.ts';
import type { RepositoryConfig } from '../../model/repository.ts';
import type { ReleaseRecord } from '../../model/release.ts';
import { byCodeUnits } from '../../util/order.ts';
import { createHash } from 'node:crypto';
import { cloudRegistryInput, cloudTransportProblem, isCloudProvider } from '../oci/cloud-registry.ts';
import { ociUrlProblem } from '../url.ts';

/*
 * Flux's own declarations of where charts come from, read as Flux v2.9's API types define them
 * (source-controller api/v1: HelmRepository, HelmChart, OCIRepository; helm-controller api/v2: HelmRelease).
 * Everything here only reads; a missing CRD (404) or a forbidden list (403) means "no Flux here".
 */

export const FLUX_SOURCE_GROUP = 'source.toolkit.fluxcd.io';
export const FLUX_HELM_GROUP = 'helm.toolkit.fluxcd.io';

/** A Flux object that declares a repository. */
export interface FluxSourceRef {
  kind: 'HelmRepository' | 'OCIRepository';
  namespace: string;
  name: string;
}

/** One repository URL with every Flux object that declares it (several objects, one repository). */
export interface DiscoveredRepository {
  /** A ChartRepository name derived from the first declaring object: `flux-<namespace>-<name>`. */
  name: string;
  /** Shaped like a ChartRepository spec: Secrets stay references, read by whoever uses the entry. */
  spec: ChartRepositorySpec;
  /** The declaring objects, sorted; the first is the one shown in ChartRepository status.source. */
  sources: FluxSourceRef[];
  /** Why parts of the declaration could not be carried over (a `provider` beside a secretRef, serviceAccountName). */
  notes: string[];
}

/** Flux's default interval for sources is 1m-10m; chartorigin needs no more than its own default. */
const DISCOVERED_INTERVAL_SECONDS = 3600;

/** A list that has not answered in this long has failed (one hung request must not hold every reconcile). */
const LIST_TIMEOUT_MS = 30_000;

async function listKind(kc: KubeConfig, plural: string, versions: readonly string[], group: string = FLUX_SOURCE_GROUP, namespace?: string, forbiddenThrows = false): Promise<JsonObject[]> {
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  for (const v of versions) {
    try {
      const items: JsonObject[] = [];
      let cont: string | undefined;
      do {
        const page = await kubeRequest<{ metadata?: { continue?: string }; items?: unknown[] }>(kc, { path: `/apis/${group}/${v}${scope}/${plural}`, query: { limit: 500, continue: cont }, signal: AbortSignal.timeout(LIST_TIMEOUT_MS) });
        for (const i of page.items ?? []) if (isObject(i)) items.push(i);
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return items;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) continue; // this version (or the CRD) is not served
      if (err instanceof KubeApiError && err.status === 403 && !forbiddenThrows) return [];
      throw err;
    }
  }
  return [];
}

/** The Flux source kinds chartorigin reads objects of, and their resource names. */
type FluxSourceObjectKind = 'HelmRepository' | 'OCIRepository' | 'HelmChart';
const SOURCE_OBJECT_PLURALS: Record<FluxSourceObjectKind, string> = { HelmRepository: 'helmrepositories', OCIRepository: 'ocirepositories', HelmChart: 'helmcharts' };
/**
 * The versions each kind is read at, newest first: v1 (Flux 2.3+; OCIRepository 2.6+), else v1beta2, for the
 * repositories; a HelmChart only at v1 (a HelmRelease's chartRef, which names one, came with Flux 2.3's api/v2).
 */
const versionsOf = (kind: FluxSourceObjectKind): readonly string[] => (kind === 'HelmChart' ? ['v1'] : ['v1', 'v1beta2']);

/**
 * Flux source objects for one run of `scan`: each kind listed once in all namespaces, the first time discovery
 * or a HelmRelease's hint needs it, and shared by both — instead of a GET of its source per Flux release
 * (500 releases from one HelmRepository were 500 GETs of it). An object the list did not hold (created since,
 * or the list was forbidden: a user with Roles in some namespaces only) is read with one GET, once per object,
 * so the answers are those of a GET per release. `listForGet: false`: `get` reads what a `list` already holds,
 * else one GET, and never lists (one read of one release's source must not list every source of the cluster).
 */
export interface FluxSourceObjects {
  /** Every object of `kind` (403: none, as discovery reads "no Flux here"; other failures throw). */
  list(kind: 'HelmRepository' | 'OCIRepository'): Promise<JsonObject[]>;
  /** One object (undefined: missing or not readable); a failure other than 404/403 throws. */
  get(kind: FluxSourceObjectKind, namespace: string, name: string): Promise<JsonObject | undefined>;
}

export function fluxSourceObjects(kc: KubeConfig, options: { listForGet?: boolean } = {}): FluxSourceObjects {
  let served: Promise<Set<string>> | undefined;
  const lists = new Map<FluxSourceObjectKind, Promise<{ items: JsonObject[]; byName: Map<string, JsonObject> } | undefined>>();
  const gets = new Map<string, Promise<JsonObject | undefined>>();
  const listed = (kind: FluxSourceObjectKind): Promise<{ items: JsonObject[]; byName: Map<string, JsonObject> } | undefined> => {
    let l = lists.get(kind);
    if (!l) {
      l = (async () => {
        served ??= servedVersions(kc, FLUX_SOURCE_GROUP);
        const serving = await served;
        const versions = versionsOf(kind).filter((v) => serving.has(v));
        try {
          const items = await listKind(kc, SOURCE_OBJECT_PLURALS[kind], versions, FLUX_SOURCE_GROUP, undefined, true);
          return { items, byName: new Map(items.map((o) => [`${meta(o).namespace}/${meta(o).name}`, o])) };
        } catch (err) {
          if (err instanceof KubeApiError && err.status === 403) return undefined;
          throw err;
        }
      })();
      lists.set(kind, l);
    }
    return l;
  };
  const getOne = async (kind: FluxSourceObjectKind, namespace: string, name: string): Promise<JsonObject | undefined> => {
    for (const v of versionsOf(kind)) {
      const o = await getObject(kc, `/apis/${FLUX_SOURCE_GROUP}/${v}/namespaces/${encodeURIComponent(namespace)}/${SOURCE_OBJECT_PLURALS[kind]}/${encodeURIComponent(name)}`);
      if (o) return o;
    }
    return undefined;
  };
  return {
    list: async (kind) => (await listed(kind))?.items ?? [],
    get: async (kind, namespace, name) => {
      const l = options.listForGet === false && !lists.has(kind) ? undefined : await listed(kind).catch(() => undefined);
      const found = l?.byName.get(`${namespace}/${name}`);
      if (found) return found;
      const key = `${kind}/${namespace}/${name}`;
      let g = gets.get(key);
      if (!g) {
        g = getOne(kind, namespace, name);
        gets.set(key, g);
      }
      return g;
    },
  };
}

function meta(o: JsonObject): { namespace: string; name: string } {
  const m = isObject(o['metadata']) ? o['metadata'] : {};
  return { namespace: str(m['namespace']) ?? '', name: str(m['name']) ?? '' };
}

function ref(v: unknown, namespace: string): SecretRef | undefined {
  const name = isObject(v) ? str(v['name']) : undefined;
  return name ? { name, namespace } : undefined;
}

/** A ChartRepository name: lower-case DNS label characters, at most 253. */
function repositoryName(s: FluxSourceRef): string {
  return `flux-${s.namespace}-${s.name}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);
}

/** The Flux object → (URL, spec), or why it cannot be used. Pure. */
export function fluxSourceToSpec(kind: FluxSourceRef['kind'], o: JsonObject): { spec: ChartRepositorySpec; notes: string[] } | { skip: string } {
  const { namespace } = meta(o);
  const spec = isObject(o['spec']) ? o['spec'] : {};
  // A suspended source is kept: Flux only stopped refreshing it, and the releases built from it still come
  // from there (dropping it turned them NotFound until it was resumed).
  let url = (str(spec['url']) ?? '').replace(/\/+$/, '');
  const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(url)?.[1] ?? '';
  // Go's url.Parse (Flux) refuses a backslash before the path; the WHATWG parser our clients use reads it as a
  // path separator and would request another host than any Flux reading: no release can come from it.
  if (authority.includes('\\')) return { skip: 'url has a backslash before its path (Flux refuses it)' };
  let hadUserInfo = false;
  if (authority.includes('@')) {
    // An OCI reference with user info is refused by Flux (name.ParseReference): its source stalls, so no release
    // comes from it. An http(s) URL's user info Flux's HTTP client sends as Basic auth; it is never copied: the
    // spec made of this source becomes a cluster-scoped ChartRepository, logged and readable far beyond the
    // source's namespace. Cut where the clients' parser cuts (user info ends at the authority's last @).
    if (url.startsWith('oci://')) return { skip: 'an oci:// URL with user info (Flux refuses it)' };
    if (!URL.canParse(url)) return { skip: 'url is not a valid URL' };
    const u = new URL(url);
    u.username = '';
    u.password = '';
    url = u.href.replace(/\/+$/, '');
    hadUserInfo = true;
  }
  const oci = kind === 'OCIRepository' || str(spec['type']) === 'oci' || url.startsWith('oci://');
  if (oci) {
    if (!url.startsWith('oci://')) return { skip: 'url is not oci://' };
    // An OCIRepository names one artifact (oci://host/path/<chart>); a ChartRepository is the prefix. A URL
    // Flux refuses (?, #) is kept whole, so that the refusal (ociUrlProblem) is not cut away with its last
    // segment and the repository fails with it, as the source stalls in Flux.
    if (kind === 'OCIRepository' && !ociUrlProblem(url)) url = url.slice(0, url.lastIndexOf('/'));
    if (!/^oci:\/\/[^/\s]+/.test(url)) return { skip: 'url has no chart path' };
  } else if (!/^https?:\/\/[^/\s]+/.test(url)) {
    return { skip: 'url is not http(s)://' };
  }
  // What the clients will parse (repository-config.ts checks a declared URL the same way).
  if (!URL.canParse(url.replace(/^oci:/, 'https:'))) return { skip: 'url is not a valid URL' };
  const notes: string[] = [];
  if (hadUserInfo) notes.push('url carries user info (user:password@), which is not copied: give credentials in a secretRef');
  // spec.provider: source-controller gets registry credentials from its own cloud identity for an OCIRepository
  // or a HelmRepository of type oci that has no secretRef (ocirepository_controller.go, helm/getter
  // client_opts.go); with a secretRef the Secret's credentials are used and the provider is not.
  const declared = str(spec['provider']);
  // With serviceAccountName, Flux authenticates as that ServiceAccount's identity (object-level workload
  // identity feature gate on) or stalls the source (gate off), never with its own identity
  // (ocirepository_controller.go, the feature gate check before auth.WithServiceAccountName). Using
  // chartorigin's identity there would let a tenant borrow it: the provider is dropped, access is anonymous.
  const tenantIdentity = spec['serviceAccountName'] !== undefined && spec['serviceAccountName'] !== '';
  const provider = oci && isCloudProvider(declared) && !ref(spec['secretRef'], namespace) && !tenantIdentity ? declared : undefined;
  if (oci && declared && declared !== 'generic' && !provider) {
    notes.push(
      !isCloudProvider(declared)
        ? `provider ${declared} is not one chartorigin knows (aws, azure, gcp): anonymous access`
        : ref(spec['secretRef'], namespace)
          ? `provider ${declared} is not used: the secretRef's credentials are (as in Flux)`
          : `provider ${declared} is not used: serviceAccountName asks for that ServiceAccount's cloud identity, which chartorigin does not take on (and never lends its own): anonymous access`,
    );
  }
  return {
    spec: {
      url,
      intervalSeconds: DISCOVERED_INTERVAL_SECONDS,
      timeoutSeconds: 60,
      priority: 0,
      secretRef: ref(spec['secretRef'], namespace),
      caSecretRef: ref(spec['certSecretRef'], namespace),
      insecureSkipTLSVerify: false,
      // Flux's `insecure` on OCI sources means plain HTTP to the registry.
      plainHTTP: oci && spec['insecure'] === true,
      ...(provider ? { provider } : {}),
      requireSignature: false,
    },
    notes,
  };
}

/**
 * Every HelmRepository (type default and oci) and OCIRepository in the cluster, one entry per URL:
 * the same URL declared in several namespaces is one repository, described by its first declaration
 * (sorted by namespace/name) — credentials included, so two declarations with different Secrets use the
 * first one's. [] when Flux is not installed or listing is forbidden.
 */
export async function discoverFluxRepositories(kc: KubeConfig, objects: FluxSourceObjects = fluxSourceObjects(kc)): Promise<DiscoveredRepository[]> {
  const [helmRepos, ociRepos] = await Promise.all([objects.list('HelmRepository'), objects.list('OCIRepository')]);
  const byUrl = new Map<string, DiscoveredRepository>();
  const all: [FluxSourceRef['kind'], JsonObject][] = [...helmRepos.map((o): [FluxSourceRef['kind'], JsonObject] => ['HelmRepository', o]), ...ociRepos.map((o): [FluxSourceRef['kind'], JsonObject] => ['OCIRepository', o])];
  all.sort(([, a], [, b]) => byCodeUnits(`${meta(a).namespace}/${meta(a).name}`, `${meta(b).namespace}/${meta(b).name}`));
  for (const [kind, o] of all) {
    const r = fluxSourceToSpec(kind, o);
    if ('skip' in r) continue;
    const source: FluxSourceRef = { kind, ...meta(o) };
    const existing = byUrl.get(r.spec.url);
    if (existing) {
      existing.sources.push(source);
      continue;
    }
    byUrl.set(r.spec.url, { name: repositoryName(source), spec: r.spec, sources: [source], notes: r.notes });
  }
  return [...byUrl.values()];
}

/** A discovered repository ready to use without a controller (the CLI's zero-config mode). */
export interface FluxRepository {
  config: RepositoryConfig;
  sources: FluxSourceRef[];
  /** Why the entry may not work as Flux's does (a Secret unreadable, cloud provider auth). */
  notes: string[];
  /** Why the entry cannot be used at all (its TLS Secret is invalid); never a Secret's content. */
  error?: string | undefined;
}

/**
 * discoverFluxRepositories with the referenced Secrets read: RepositoryConfigs named after their first
 * Flux object. An unreadable secretRef Secret leaves the repository anonymous, with a note (the Flux object
 * names it; its content is never shown): a user without Secret access still gets what anonymous access
 * gives, from a repository that is often public. An unreadable certSecretRef, or a TLS Secret Flux would
 * refuse, makes the repository failed: without its CA or client certificate no request would succeed, and
 * the secretRef's TLS must not stand in for it.
 */
export async function fluxRepositoryConfigs(kc: KubeConfig, objects?: FluxSourceObjects): Promise<FluxRepository[]> {
  const out: FluxRepository[] = [];
  for (const d of await discoverFluxRepositories(kc, objects)) {
    // One GET per Secret, however many references name it (secretRef and certSecretRef are often one Secret).
    const readSecret = secretReader(kc);
    const notes = [...d.notes];
    let credentials;
    let secret: ReadSecret | undefined;
    let tlsSecret: ReadSecret | undefined;
    let error: string | undefined;
    const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
    if (d.spec.secretRef) {
      try {
        const s = await readSecret(d.spec.secretRef);
        secret = { ref: d.spec.secretRef, data: s.data };
        // The first declaring object's Secret, read as that kind's fetcher reads it (CredentialReading).
        credentials = credentialsFromSecret(s.type, s.data, d.spec.url, d.sources[0]?.kind === 'OCIRepository' ? 'go-containerregistry' : 'helm');
      } catch (err) {
        notes.push(`credentials not read: ${message(err)}`);
      }
    }
    // The TLS Secret is read on its own: an unreadable one fails the repository, as source-controller fails
    // the HelmRepository, instead of falling back to the secretRef's TLS or to none.
    if (d.spec.caSecretRef) {
      try {
        tlsSecret = { ref: d.spec.caSecretRef, data: (await readSecret(d.spec.caSecretRef)).data };
      } catch (err) {
        error = `TLS Secret not read: ${message(err)}`;
      }
    }
    // A Secret read but unusable for TLS (half a client certificate pair, a key of another certificate) is an
    // error on the repository, as source-controller makes it one on the HelmRepository.
    // A provider on a registry it does not serve fails the repository, as source-controller fails the source.
    const urlProblem = ociUrlProblem(d.spec.url);
    if (!error && urlProblem) error = urlProblem;
    const registry = d.spec.provider ? cloudRegistryInput(d.spec.provider, d.spec.url.slice('oci://'.length)) : undefined;
    if (!error && registry && 'error' in registry) error = `provider ${d.spec.provider}: ${registry.error}`;
    const transport = d.spec.provider && cloudTransportProblem(d.spec);
    if (!error && transport) error = `provider ${d.spec.provider}: ${transport}`;
    let tls: SecretTls = {};
    if (!error) {
      try {
        tls = repositoryTls(secret, tlsSecret);
      } catch (err) {
        error = message(err);
      }
    }
    out.push({ config: toRepositoryConfig(d.name, d.spec, credentials, tls), sources: d.sources, notes, ...(error ? { error } : {}) });
  }
  return out;
}

async function getObject(kc: KubeConfig, path: string): Promise<JsonObject | undefined> {
  try {
    const o = await kubeRequest<unknown>(kc, { path });
    return isObject(o) ? o : undefined;
  } catch (err) {
    if (err instanceof KubeApiError && (err.status === 404 || err.status === 403)) return undefined;
    throw err;
  }
}

function valuesFilesOf(spec: JsonObject): string[] {
  const files = arr(spec['valuesFiles']).filter((f): f is string => typeof f === 'string');
  // The deprecated single-file field is merged before the list (source-controller's GetValuesFiles prepends it).
  const single = str(spec['valuesFile']);
  return single ? [single, ...files] : files;
}

const cleanPath = (p: string): string => p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

/**
 * A values-file path of a GitRepository/Bucket source (from the source's root) as the chart names its own
 * files (from the chart's directory); a file outside the chart keeps its path, which no chart file has, so the
 * build is known not to be reproducible (resolve/flux-proof.ts).
 */
export function chartRelative(chartPath: string, file: string): string {
  const dir = cleanPath(chartPath);
  const f = cleanPath(file);
  return dir && f.startsWith(`${dir}/`) ? f.slice(dir.length + 1) : f;
}

/**
 * The HelmRelease API versions helm-controller serves, newest first: v2 (Flux 2.3+), v2beta2 (Flux 2.2, which
 * serves no v2), v2beta1. A GET of a version the cluster does not serve is a 404 like a missing object.
 */
const HELM_RELEASE_VERSIONS = ['v2', 'v2beta2', 'v2beta1'] as const;

/**
 * helm-controller's release name (api/v2 `GetReleaseName`: spec.releaseName, else `<targetNamespace>-<name>`,
 * else the HelmRelease's name) cut to Helm's 53 characters by internal/release `ShortenName` (the first 40
 * characters, a dash, 12 hex characters of the full name's SHA-256), as install and upgrade use it since
 * helm-controller v0.37. Older versions passed the long name to Helm, which refuses names over 53 characters:
 * no such release exists.
 */
export function fluxReleaseNames(name: string, spec: JsonObject): string[] {
  const target = str(spec['targetNamespace']);
  const full = str(spec['releaseName']) || (target ? `${target}-${name}` : name);
  if (full.length <= 53) return [full];
  return [`${full.slice(0, 40)}-${createHash('sha256').update(full).digest('hex').slice(0, 12)}`];
}

/** A HelmRelease, by namespace and name. */
export interface FluxOwner {
  namespace: string;
  name: string;
}

/**
 * Where the releases of one HelmRelease are stored, as `<storage namespace>/<release name>` keys (the key of
 * the release's ChartOrigin, watch/current.ts releaseKey of the Secret or ConfigMap).
 *
 * In the HelmRelease's own namespace (GetStorageNamespace's default), while its spec stores there: the names
 * helm-controller derives from the spec, and those its status history recorded there (api/v2 and v2beta2
 * Snapshots; after a rename the older name stays there until helm-controller uninstalled it). Whoever may
 * write HelmReleases there may write releases there too, so the spec's word is enough.
 *
 * In another storage namespace (status.storageNamespace): only the names the history recorded. The status
 * alone proves nothing: helm-controller (v1.6, internal/controller/helmrelease_controller.go reconcileRelease)
 * copies spec.storageNamespace into status.storageNamespace before any Helm action, and the deferred patch in
 * Reconcile writes it even when the Helm action then fails (under multi-tenancy lockdown, impersonating a
 * ServiceAccount that may not touch prod's storage). So a tenant in team-a applying `storageNamespace: prod,
 * releaseName: payments` has, one reconcile later, a status naming prod; claiming prod's plain-Helm
 * `payments` on that would prove it with Flux's looser rules, with the tenant's values files. A Snapshot is
 * appended only once helm-controller's storage observer saw its own Create or Update succeed in that storage
 * (internal/storage/observer.go, internal/reconcile/release.go recordOnObject) — after it took the release
 * over, when it could (internal/reconcile/state.go: a release in storage that no Snapshot records is
 * "Unmanaged" and upgraded), in which case it is Flux's from that revision on — and the history is cleared
 * whenever the storage namespace changes (internal/action/verify.go ReleaseTargetChanged, then ClearHistory
 * and StorageNamespace = "" in reconcileRelease), so every Snapshot names a release helm-controller wrote
 * into status.storageNamespace. (Snapshot.namespace is the release namespace, not the storage one.)
 *
 * The history is helm-controller's word only as far as the status subresource is its alone: RBAC that lets
 * someone write helmreleases/status (Flux's own `flux-edit` ClusterRole, aggregated to `edit` and `admin`,
 * grants resources "*", which includes subresources) lets them write a history too.
 *
 * Never the release namespace (targetNamespace, as Helm's JSON names it): helm-controller stores a release
 * of `targetNamespace: prod, releaseName: payments` in team-a, not in prod.
 */
export function fluxReleaseKeys(hr: JsonObject): string[] {
  return fluxReleaseClaims(hr).map((c) => c.key);
}

/** One storage key a HelmRelease claims, and whether helm-controller's history records writing it. */
export interface FluxReleaseClaim {
  key: string;
  recorded: boolean;
}

/**
 * fluxReleaseKeys with the evidence of each: `recorded` when a Snapshot names the release in the namespace
 * helm-controller last stored into (status.storageNamespace, else the HelmRelease's own: api/v2beta1 kept no
 * storage namespace in its status), else a claim from the spec alone — in the HelmRelease's own namespace, and
 * only while its spec stores there (`spec.storageNamespace` unset or its own namespace; helm-controller's
 * GetStorageNamespace): a spec that stores elsewhere writes nothing here, and its history says where it did.
 * A Snapshot's name counts only in the namespace it was written to, never also in the own namespace.
 */
export function fluxReleaseClaims(hr: JsonObject): FluxReleaseClaim[] {
  const { namespace, name } = meta(hr);
  const spec = isObject(hr['spec']) ? hr['spec'] : {};
  const status = isObject(hr['status']) ? hr['status'] : {};
  const recordedIn = str(status['storageNamespace']) || namespace;
  const claims = new Map<string, boolean>();
  for (const h of arr(status['history'])) {
    const n = isObject(h) ? str(h['name']) : undefined;
    if (n) claims.set(`${recordedIn}/${n}`, true);
  }
  const specStorage = str(spec['storageNamespace']) || namespace;
  if (specStorage === namespace) {
    for (const n of fluxReleaseNames(name, spec)) if (!claims.has(`${namespace}/${n}`)) claims.set(`${namespace}/${n}`, false);
  }
  return [...claims].map(([key, recorded]) => ({ key, recorded }));
}

/**
 * Every HelmRelease's releases (fluxReleaseClaims) → the HelmRelease; only keys stored in `storageNamespaces`
 * when given (the namespaces served: a list of all namespaces also brings HelmReleases that store elsewhere).
 * helm-controller marks what it renders with origin labels (decode/flux-owner.ts), but a release whose
 * manifest holds no object — a chart of hooks only (Helm 3 post-renders no hook) or of disabled templates —
 * carries none; its HelmRelease still names it, and Flux still rewrote it (values files, version).
 *
 * A key two HelmReleases claim goes, in this order, to the one whose history records writing it (the spec
 * alone is a wish: a HelmRelease that never reconciled, is suspended or fails must not take a release from
 * the one that wrote it, whose values files and chart the proof then reads), then to the one in the storage
 * namespace itself (written by whoever may write that namespace: ordering by name alone let a claimant in
 * `aaa` beat prod's own HelmRelease), then to the first by namespace/name.
 */
export function fluxReleaseOwners(helmReleases: readonly JsonObject[], storageNamespaces?: readonly string[]): Map<string, FluxOwner> {
  const held = new Map<string, { owner: FluxOwner; recorded: boolean }>();
  const served = storageNamespaces?.length ? new Set(storageNamespaces) : undefined;
  const sorted = [...helmReleases].sort((a, b) => byCodeUnits(`${meta(a).namespace}/${meta(a).name}`, `${meta(b).namespace}/${meta(b).name}`));
  const rank = (c: { owner: FluxOwner; recorded: boolean }, storage: string): number => (c.recorded ? 0 : 2) + (c.owner.namespace === storage ? 0 : 1);
  for (const hr of sorted) {
    const owner = meta(hr);
    if (!owner.name || !owner.namespace) continue;
    // spec.kubeConfig: helm-controller installs into (and stores in) another cluster; a release of that name
    // here is someone else's, whatever the status says.
    if (isObject(hr['spec']) && hr['spec']['kubeConfig'] !== undefined && hr['spec']['kubeConfig'] !== null) continue;
    for (const { key, recorded } of fluxReleaseClaims(hr)) {
      const storage = key.slice(0, key.indexOf('/'));
      if (served && !served.has(storage)) continue;
      const claim = { owner, recorded };
      const current = held.get(key);
      if (!current || rank(claim, storage) < rank(current, storage)) held.set(key, claim);
    }
  }
  return new Map([...held].map(([k, c]) => [k, c.owner]));
}

/**
 * Which HelmRelease installs a release — the one rule of `scan` and the controller: the HelmRelease its
 * origin labels name (record.flux, decode/flux-owner.ts), else the one that names its storage key
 * (`<namespace of the Secret or ConfigMap>/<release>`, watch/current.ts releaseKey; fluxReleaseOwners).
 * No storage key (an object whose release cannot be told from labels or name): the labels alone.
 */
export function releaseFluxOwner(record: { flux?: FluxOwner | undefined }, storageKey: string | undefined, ownerOf: (key: string) => FluxOwner | undefined): FluxOwner | undefined {
  return record.flux ?? (storageKey === undefined ? undefined : ownerOf(storageKey));
}

/**
 * How far apart the clocks that stamp a release (helm's info.last_deployed, the API server's creationTimestamp)
 * and the clock that times a list of HelmReleases may be, and a list still count as after the deploy. A
 * minute: NTP keeps a cluster's nodes within milliseconds; this covers a node that lost it for a while.
 */
export const FLUX_LIST_SKEW_MS = 60_000;

/** What an ownership decision knows of the last completed list of HelmReleases. */
export interface HelmReleasesListed {
  /** When it started (Date.now()): it saw every HelmRelease that existed then. */
  startedAt: number;
  /** Whether it could see one at all: false when no HelmRelease version was served or listing was forbidden everywhere. */
  visible: boolean;
}

/** What an ownership decision knows of a release. */
export interface FluxOwnershipCandidate {
  /** The HelmRelease its origin labels name (record.flux). */
  flux?: FluxOwner | undefined;
  /** Whether its manifest holds an object (record.manifestObjects; undefined: not known). */
  manifestObjects?: boolean | undefined;
  /** When it was deployed (Date.now() ms): the later of info.last_deployed and its Secret's or ConfigMap's creation; undefined: not known. */
  deployedAt?: number | undefined;
}

/**
 * Whether the HelmReleases the last completed list saw (`last`; undefined: none completed) decide who owns a
 * release, or only a list that starts at or after the returned time (Date.now() ms) can. Pure.
 *
 * Flux applies a HelmRelease before helm-controller installs or upgrades its release, so a list that began
 * after the release was deployed saw the HelmRelease if there is one; one that began before may not have, and
 * the release would be Helm's — managedBy, metrics, Events, write-back, the proof rules — until the next list,
 * `--gitops-interval` later. A list must then have begun FLUX_LIST_SKEW_MS after the deploy, or at `now` if that
 * is sooner — a moment on the lister's own clock the release was known to exist (the decision, or the first time
 * the controller read that revision): a list begun then began after the deploy, whatever the clocks say.
 *
 * Who never waits: a release whose origin labels name its HelmRelease; a release whose manifest holds an object
 * without one (helm-controller labels every object it renders: plain Helm's, the common case, as 10,000 plain
 * releases in bench/scale.ts are; a HelmRelease that claims one is still read from the map); and every release
 * when the last list saw no HelmRelease API or was forbidden everywhere (another list would see nothing
 * either: Flux installed since is seen by the next periodic list). So only releases whose owner can come from a
 * HelmRelease's claim alone — no object in the manifest, deployed lately — wait, and one list serves them all.
 *
 * `everyLabelless` (before chartorigin writes into a release, --write-back): every release without origin
 * labels, and whatever the last list saw — a write into Flux's release makes helm-controller upgrade it.
 */
export function fluxListNeeded(release: FluxOwnershipCandidate, last: HelmReleasesListed | undefined, now: number, options: { everyLabelless?: boolean; skewMs?: number } = {}): number | undefined {
  if (release.flux) return undefined;
  const every = options.everyLabelless === true;
  if (!every && release.manifestObjects === true) return undefined;
  if (!every && last && !last.visible) return undefined;
  const deployed = release.deployedAt ?? Number.NaN;
  const after = Number.isFinite(deployed) ? Math.min(deployed + (options.skewMs ?? FLUX_LIST_SKEW_MS), now) : now;
  return last && after <= last.startedAt ? undefined : after;
}

/**
 * What an ownership decision knows of a decoded release — the one reading of `scan` and the controller. Its deploy
 * time is the later of helm's info.last_deployed (the clock of whoever ran helm) and the creation of the Secret or
 * ConfigMap storing the revision (the API server's clock; record.storedAt, as the list or the GET returned it):
 * a client whose clock lags still wrote the revision at or before its creation, so a list begun after that saw a
 * HelmRelease Flux applied before the install.
 */
export function fluxOwnershipCandidate(record: Pick<ReleaseRecord, 'flux' | 'manifestObjects' | 'release' | 'storedAt'>): FluxOwnershipCandidate {
  return { flux: record.flux, manifestObjects: record.manifestObjects, deployedAt: deployedAtOf(record.release.lastDeployed, record.storedAt) };
}

/** The later of the times a release records its deploy with (RFC 3339; unparsable and absent ones are left out), as Date.now() ms. */
export function deployedAtOf(...times: readonly (string | undefined)[]): number | undefined {
  const ms = times.map((t) => (t ? Date.parse(t) : Number.NaN)).filter((t) => Number.isFinite(t));
  return ms.length ? Math.max(...ms) : undefined;
}

/** HelmReleases by `<namespace>/<name>`. */
export function helmReleasesByName(helmReleases: readonly JsonObject[]): Map<string, JsonObject> {
  return new Map(helmReleases.map((hr) => [`${meta(hr).namespace}/${meta(hr).name}`, hr]));
}

/** The HelmReleases listed, and where listing them was refused. */
export interface HelmReleaseList {
  items: JsonObject[];
  /** Whether the API server serves a HelmRelease version this reads (false: Flux is not installed, nothing was listed). */
  served: boolean;
  /**
   * Namespaces (or `all namespaces`) whose list was forbidden with nothing listed in its place: releases stored
   * there are known as Flux's by their origin labels only. Empty when a namespaced list stood in for a
   * forbidden list of all namespaces.
   */
  forbidden: string[];
  /**
   * Namespaces listed one by one because the list of all namespaces was forbidden: a HelmRelease in any other
   * namespace that stores its release in one of these is not seen (that release is Flux's by its origin labels
   * only). Empty when all namespaces were listed.
   */
  listedOnlyIn: string[];
}

const ALL_NAMESPACES = 'all namespaces';

/**
 * The HelmReleases that may own a release stored in `namespaces` (undefined: anywhere), at the newest API
 * version served — the one listing rule of `scan -n/-A` and the controller's `--namespaces`. A HelmRelease in
 * any namespace may store its release in another (status.storageNamespace and a history naming it,
 * fluxReleaseKeys), so every namespace is listed — one request, as a cluster admin's `scan -n NS` and the
 * chart's RBAC (a ClusterRole for HelmReleases even in namespaced mode) allow. Only when that is forbidden (a
 * user or ServiceAccount with Roles in some namespaces) is each of `namespaces` listed instead, named in
 * `listedOnlyIn`; a HelmRelease elsewhere that stores here is then not seen. A forbidden list counts as none and is named in `forbidden`; any other failure throws (it does not say
 * there are none). No Flux installed: nothing, after one discovery request.
 */
export async function listOwningHelmReleases(kc: KubeConfig, namespaces?: readonly string[]): Promise<HelmReleaseList> {
  const served = await servedVersions(kc, FLUX_HELM_GROUP);
  const versions = HELM_RELEASE_VERSIONS.filter((v) => served.has(v));
  if (!versions.length) return { items: [], served: false, forbidden: [], listedOnlyIn: [] };
  const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.status === 403;
  const list = (ns: string | undefined): Promise<JsonObject[]> => listKind(kc, 'helmreleases', versions, FLUX_HELM_GROUP, ns, true);
  try {
    return { items: await list(undefined), served: true, forbidden: [], listedOnlyIn: [] };
  } catch (err) {
    if (!isForbidden(err)) throw err;
    if (!namespaces?.length) return { items: [], served: true, forbidden: [ALL_NAMESPACES], listedOnlyIn: [] };
  }
  const out: HelmReleaseList = { items: [], served: true, forbidden: [], listedOnlyIn: [] };
  const lists = await Promise.all(
    namespaces.map(async (ns) => {
      try {
        const items = await list(ns);
        out.listedOnlyIn.push(ns);
        return items;
      } catch (err) {
        if (!isForbidden(err)) throw err;
        out.forbidden.push(ns);
        return [];
      }
    }),
  );
  out.items = lists.flat();
  out.forbidden.sort(byCodeUnits);
  out.listedOnlyIn.sort(byCodeUnits);
  return out;
}

/**
 * The versions the API server serves of an API group: one discovery GET (404 or 403: none, Flux is not
 * installed or not visible) instead of a 404 per version tried.
 */
async function servedVersions(kc: KubeConfig, group: string): Promise<Set<string>> {
  const doc = await getObject(kc, `/apis/${group}`);
  return new Set(arr(doc?.['versions']).flatMap((v) => (isObject(v) && typeof v['version'] === 'string' ? [v['version']] : [])));
}

async function getHelmRelease(kc: KubeConfig, owner: { namespace: string; name: string }): Promise<JsonObject | undefined> {
  for (const v of HELM_RELEASE_VERSIONS) {
    const hr = await getObject(kc, `/apis/${FLUX_HELM_GROUP}/${v}/namespaces/${encodeURIComponent(owner.namespace)}/helmreleases/${encodeURIComponent(owner.name)}`);
    if (hr) return hr;
  }
  return undefined;
}

const SOURCE_KINDS = ['HelmRepository', 'OCIRepository', 'GitRepository', 'Bucket'] as const;

/**
 * The source a reference names, with the URL of a HelmRepository/OCIRepository (v1, else v1beta2 as discovery
 * lists them; from `objects`: a list shared by the run, else one GET). The URL is left out when it cannot be read (missing, forbidden, an API error): the
 * values files still help the proof, and a source without URL picks no repository (resolve/source-url.ts).
 */
async function sourceHint(objects: FluxSourceObjects, ref: unknown, defaultNamespace: string, via: string): Promise<FluxSourceHint | undefined> {
  if (!isObject(ref)) return undefined;
  const kind = SOURCE_KINDS.find((k) => k === str(ref['kind']));
  const name = str(ref['name']);
  if (!kind || !name) return undefined;
  const namespace = str(ref['namespace']) || defaultNamespace;
  let url: string | undefined;
  if (kind === 'HelmRepository' || kind === 'OCIRepository') {
    try {
      const o = await objects.get(kind, namespace, name);
      const spec = o && isObject(o['spec']) ? o['spec'] : undefined;
      const u = spec ? str(spec['url']) : undefined;
      if (u) url = redactUrl(u);
    } catch {
      // unreadable: no URL
    }
  }
  return { kind, namespace, name, url, via };
}

/**
 * What the HelmRelease `owner` (and the HelmChart it builds from) say about the chart build: the values
 * files, in order, and the source it names. undefined when they cannot be read (not installed, forbidden,
 * deleted): the proof then infers the merge from the chart's own files. `listed`: the HelmRelease as a list
 * just returned it (`scan` has them all), instead of a GET. `objects`: the Flux sources (and HelmCharts) as
 * `scan` lists them once for all its releases (fluxSourceObjects); without it (the controller, which reads a
 * release's HelmRelease and source when it reconciles that release, fresh), one GET each.
 */
export async function readFluxHint(kc: KubeConfig, owner: FluxOwner, listed?: JsonObject, objects: FluxSourceObjects = fluxSourceObjects(kc, { listForGet: false })): Promise<FluxHint | undefined> {
  const hr = listed ?? (await getHelmRelease(kc, owner));
  if (!hr) return undefined;
  const from = `HelmRelease ${owner.namespace}/${owner.name}`;
  const spec = isObject(hr['spec']) ? hr['spec'] : {};
  const template = isObject(spec['chart']) && isObject(spec['chart']['spec']) ? spec['chart']['spec'] : undefined;
  if (template) {
    const sourceKind = isObject(template['sourceRef']) ? str(template['sourceRef']['kind']) : undefined;
    const files = valuesFilesOf(template);
    // GitRepository and Bucket charts: source-controller reads values files from the source's root
    // (builder_local.go), not the chart's directory; the chart's own files are named from its directory here.
    const valuesFiles = sourceKind === 'GitRepository' || sourceKind === 'Bucket' ? files.map((f) => chartRelative(str(template['chart']) ?? '', f)) : files;
    // helm-controller api/v2 CrossNamespaceObjectReference: the namespace defaults to the HelmRelease's.
    const source = await sourceHint(objects, template['sourceRef'], owner.namespace, `${from}'s sourceRef`);
    return { valuesFiles, ignoreMissingValuesFiles: template['ignoreMissingValuesFiles'] === true, from, source };
  }
  const chartRef = isObject(spec['chartRef']) ? spec['chartRef'] : undefined;
  if (chartRef && str(chartRef['kind']) === 'HelmChart') {
    const ns = str(chartRef['namespace']) || owner.namespace;
    const hc = await objects.get('HelmChart', ns, str(chartRef['name']) ?? '');
    const hcSpec = hc && isObject(hc['spec']) ? hc['spec'] : undefined;
    if (!hcSpec) return undefined;
    const hcFrom = `HelmChart ${ns}/${str(chartRef['name'])}`;
    // A HelmChart's sourceRef (LocalHelmChartSourceReference) has no namespace: its own.
    const source = await sourceHint(objects, isObject(hcSpec['sourceRef']) ? { ...hcSpec['sourceRef'], namespace: ns } : undefined, ns, `${hcFrom}'s sourceRef (${from}'s chartRef)`);
    return { valuesFiles: valuesFilesOf(hcSpec), ignoreMissingValuesFiles: hcSpec['ignoreMissingValuesFiles'] === true, from: hcFrom, source };
  }
  // chartRef to an OCIRepository: the artifact is installed as pulled (only the version gets the digest).
  const source = chartRef && str(chartRef['kind']) === 'OCIRepository' ? await sourceHint(objects, chartRef, owner.namespace, `${from}'s chartRef`) : undefined;
  return { valuesFiles: [], from, source };
}

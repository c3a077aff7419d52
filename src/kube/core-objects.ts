/** Secrets, ConfigMaps and Leases over the raw client: the few core calls the controller makes. */
import type { KubeConfig } from './kubeconfig.ts';
import { KubeApiError, kubeRequest } from './raw-client.ts';

export interface ObjectMetadata {
  name?: string | undefined;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  resourceVersion?: string | undefined;
  [field: string]: unknown;
}

/** A Secret or ConfigMap as the API returns it (Secret data is base64). */
export interface CoreObject {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: ObjectMetadata | undefined;
  type?: string | undefined;
  data?: Record<string, string> | undefined;
}

export interface ObjectList {
  metadata?: { continue?: string | undefined; resourceVersion?: string | undefined } | undefined;
  items: CoreObject[];
}

export type CoreKind = 'Secret' | 'ConfigMap';

const plural = (kind: CoreKind): string => (kind === 'Secret' ? 'secrets' : 'configmaps');
const objectPath = (kind: CoreKind, namespace: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/${plural(kind)}/${encodeURIComponent(name)}`;

/**
 * The object, or undefined when it does not exist (404). With `notOlderThan` (a resourceVersion a watch
 * delivered) the API server answers from its watch cache with a version at least that new instead of
 * reading etcd: measured by bench/api-budget.ts on this machine, 0.01 ms of etcd CPU per GET instead of
 * 0.54, and half the latency (1.0 vs 1.8 ms at one in flight), with the same consistency the watch gave.
 */
export async function getObject(kc: KubeConfig, kind: CoreKind, namespace: string, name: string, notOlderThan?: string): Promise<CoreObject | undefined> {
  try {
    return await kubeRequest<CoreObject>(kc, { path: objectPath(kind, namespace, name), query: notOlderThan ? { resourceVersion: notOlderThan } : undefined });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** The object, or an error naming it (a referenced Secret that must exist). */
export async function readSecret(kc: KubeConfig, ref: { name: string; namespace: string }): Promise<CoreObject> {
  const s = await getObject(kc, 'Secret', ref.namespace, ref.name);
  if (!s) throw new Error(`Secret ${ref.namespace}/${ref.name} not found`);
  return s;
}

/**
 * readSecret for one resolution: each named Secret is fetched once however many references name it (a
 * repository whose credentials and TLS live in one Secret cost two GETs per probe, every probe), and each is
 * requested when first named, so a caller that names all its references up front has them fetched at once.
 */
export function secretReader(kc: KubeConfig): (ref: { name: string; namespace: string }) => Promise<CoreObject> {
  const reads = new Map<string, Promise<CoreObject>>();
  return (ref) => {
    const key = `${ref.namespace}/${ref.name}`;
    let read = reads.get(key);
    if (!read) {
      read = readSecret(kc, ref);
      // Awaited by the caller in its own order; until then a failure must not count as unhandled.
      read.catch(() => undefined);
      reads.set(key, read);
    }
    return read;
  };
}

/** PUT with metadata.resourceVersion: a KubeApiError with status 409 when someone wrote in between. */
export async function replaceObject(kc: KubeConfig, kind: CoreKind, namespace: string, name: string, body: CoreObject): Promise<CoreObject> {
  return kubeRequest<CoreObject>(kc, {
    method: 'PUT',
    path: objectPath(kind, namespace, name),
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'v1', kind, ...body }),
  });
}

export interface ListQuery {
  /** undefined: all namespaces. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit?: number | undefined;
  continue?: string | undefined;
}

export async function listObjects(kc: KubeConfig, kind: CoreKind, q: ListQuery): Promise<ObjectList> {
  const path = q.namespace ? `/api/v1/namespaces/${encodeURIComponent(q.namespace)}/${plural(kind)}` : `/api/v1/${plural(kind)}`;
  return kubeRequest<ObjectList>(kc, { path, query: { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, limit: q.limit, continue: q.continue } });
}

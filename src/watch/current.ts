import type { StoredReleaseObject } from '../model/release.ts';
import { intern } from '../util/intern.ts';

/**
 * The one current-revision rule, used by `inspect`, `scan` and the controller.
 *
 * A release is identified by namespace + name, whatever driver stores it: Helm 3/4 store revisions as
 * `sh.helm.release.v1.<release>.v<revision>` in Secrets (the default driver) or ConfigMaps, and a
 * namespace whose releases were migrated between drivers, or installed by clients with different
 * `HELM_DRIVER`s, holds one release in both. Its current revision is the highest revision number,
 * whatever its status: that is Helm's own `Storage.Last` (History sorted by revision, newest first),
 * which `helm status` and `helm get` read; a failed upgrade is therefore current, and so is an
 * uninstalled revision kept with `--keep-history`.
 *
 * Helm itself only ever looks at one driver, so it has no answer when both drivers hold the same
 * revision number: then the Secret wins (Helm's default driver, and the one `helm` reads unless told
 * otherwise), and between two objects of one driver, the greater object name (only possible when labels
 * contradict names), so the answer never depends on listing order.
 */
export interface ReleaseRevisionRef {
  namespace: string;
  release: string;
  revision: number;
  /** The storing object's kind (`Secret`, `ConfigMap`); '' when the input did not say. */
  storage: string;
  objectName: string;
  status?: string | undefined;
}

const OBJECT_NAME = /^sh\.helm\.release\.v1\.(.+)\.v(\d+)$/;

/**
 * Which release and revision a stored object is, from its labels (`name`, `version`) and, when a label
 * is missing, from the object name Helm gives it (`sh.helm.release.v1.<release>.v<revision>`).
 */
export function revisionRef(obj: StoredReleaseObject): ReleaseRevisionRef | undefined {
  const meta = obj.metadata;
  if (!meta?.name) return undefined;
  const fromName = OBJECT_NAME.exec(meta.name);
  const release = meta.labels?.['name'] ?? fromName?.[1];
  const revision = Number(meta.labels?.['version'] ?? fromName?.[2]);
  if (!release || !Number.isInteger(revision) || revision < 1) return undefined;
  return { namespace: meta.namespace ?? '', release, revision, storage: obj.kind ?? '', objectName: meta.name, status: meta.labels?.['status'] };
}

/** The identity of a release: namespace + name, never the storage driver. */
export function releaseKey(namespace: string, release: string): string {
  // One copy however often it is built (the controller's tables key by it: 3 copies a release before).
  return intern(`${namespace}/${release}`);
}

const STORAGE_RANK: Readonly<Record<string, number>> = { Secret: 2, ConfigMap: 1 };

/** Whether `a` replaces `b` as its release's current revision (the rule above). */
export function supersedes(a: Pick<ReleaseRevisionRef, 'revision' | 'storage' | 'objectName'>, b: Pick<ReleaseRevisionRef, 'revision' | 'storage' | 'objectName'>): boolean {
  if (a.revision !== b.revision) return a.revision > b.revision;
  const ra = STORAGE_RANK[a.storage] ?? 0;
  const rb = STORAGE_RANK[b.storage] ?? 0;
  if (ra !== rb) return ra > rb;
  return a.objectName > b.objectName;
}

/** The current revision of every release, by `releaseKey`. */
export function currentRevisions<R extends ReleaseRevisionRef>(refs: Iterable<R>): Map<string, R> {
  const out = new Map<string, R>();
  for (const ref of refs) {
    const key = releaseKey(ref.namespace, ref.release);
    const prev = out.get(key);
    if (!prev || supersedes(ref, prev)) out.set(key, ref);
  }
  return out;
}

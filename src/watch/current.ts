import type { StoredReleaseObject } from '../model/release.ts';

export interface ReleaseRevisionRef {
  namespace: string;
  release: string;
  revision: number;
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
  return { namespace: meta.namespace ?? '', release, revision, objectName: meta.name, status: meta.labels?.['status'] };
}

export function releaseKey(namespace: string, release: string): string {
  return `${namespace}/${release}`;
}

/** The current revision of every release: the highest revision per (namespace, release). */
export function currentRevisions(refs: Iterable<ReleaseRevisionRef>): Map<string, ReleaseRevisionRef> {
  const out = new Map<string, ReleaseRevisionRef>();
  for (const ref of refs) {
    const key = releaseKey(ref.namespace, ref.release);
    const prev = out.get(key);
    if (!prev || ref.revision > prev.revision) out.set(key, ref);
  }
  return out;
}

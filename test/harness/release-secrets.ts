/**
 * Release revisions written to the API exactly as Helm's Secret driver writes them: the release JSON,
 * gzip (best) and base64 (Helm's own), then the API's base64; labels name, owner=helm, status, version.
 * Create is a POST of a new revision, Update a PUT of the same object with a new status, Delete removes one
 * revision (what `helm uninstall` does for each, and the history-max pruning for the oldest).
 */
import { kubeRequest } from '../../src/kube/raw-client.ts';
import type { KubeConfig } from '../../src/kube/kubeconfig.ts';
import { encodeHelmString } from '../../src/decode/encode.ts';

function secretBody(ns: string, name: string, rev: number, status: string, json: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.${name}.v${rev}`, namespace: ns, labels: { name, owner: 'helm', status, version: String(rev) } },
    data: { release: Buffer.from(encodeHelmString(json)).toString('base64') },
  };
}

/** A new revision (Helm's storage Create). */
export async function createReleaseSecret(kc: KubeConfig, ns: string, name: string, rev: number, status: string, json: string): Promise<void> {
  await kubeRequest(kc, { method: 'POST', path: `/api/v1/namespaces/${ns}/secrets`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(secretBody(ns, name, rev, status, json)) });
}

/** The same revision with a new status (Helm's storage Update replaces the whole object). */
export async function updateReleaseSecret(kc: KubeConfig, ns: string, name: string, rev: number, status: string, json: string): Promise<void> {
  await kubeRequest(kc, {
    method: 'PUT',
    path: `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.${name}.v${rev}`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(secretBody(ns, name, rev, status, json)),
  });
}

/** One revision removed (Helm's storage Delete). */
export async function deleteReleaseSecret(kc: KubeConfig, ns: string, name: string, rev: number): Promise<void> {
  await kubeRequest(kc, { method: 'DELETE', path: `/api/v1/namespaces/${ns}/secrets/sh.helm.release.v1.${name}.v${rev}` });
}

import { getObject, replaceObject } from '../kube/core-objects.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { KubeApiError } from '../kube/raw-client.ts';
import type { Logger } from 'pino';
import type { OriginReport } from '../model/report.ts';
import { encodeHelmString, parseLossless } from '../decode/encode.ts';
import { DEFAULT_DECODE_LIMITS, describeObject, unwrapHelmString } from '../decode/decode.ts';
import { isObject } from '../util/guards.ts';
import type { CurrentRevision } from '../watch/release-index.ts';

export type WriteBackMode = 'none' | 'annotations' | 'release';

const REPO_URL_ANNOTATION = 'chartorigin.io/repo-url';
const DIGEST_ANNOTATION = 'chartorigin.io/tarball-digest';

/**
 * Adds HIP-0018's `repoURL` and `tarballDigest` to `chart.metadata` of release JSON. Numbers keep their
 * original text; everything else is untouched. Returns undefined when the fields are already there.
 */
export function addProvenanceToReleaseJson(json: string, repoURL: string, tarballDigest: string): string | undefined {
  const doc = parseLossless(json);
  if (!isObject(doc) || !isObject(doc['chart']) || !isObject(doc['chart']['metadata'])) throw new Error('release JSON has no chart.metadata');
  const meta = doc['chart']['metadata'];
  if (meta['repoURL'] === repoURL && meta['tarballDigest'] === tarballDigest) return undefined;
  meta['repoURL'] = repoURL;
  meta['tarballDigest'] = tarballDigest;
  return JSON.stringify(doc);
}

/**
 * The opt-in write-back (product.md): only for Verified origins, only on the current revision's object,
 * always conditional on the resourceVersion that was read, so a concurrent `helm upgrade` wins and the
 * next reconcile simply sees a new revision.
 */
export class WriteBack {
  readonly #mode: WriteBackMode;
  readonly #kc: KubeConfig;
  readonly #log: Logger;
  /** Releases already logged as GitOps-managed (once per release, not once per reconcile). */
  readonly #refused = new Set<string>();

  constructor(kc: KubeConfig, mode: WriteBackMode, logger: Logger) {
    this.#mode = mode;
    this.#kc = kc;
    this.#log = logger;
  }

  async apply(current: CurrentRevision, report: OriginReport): Promise<void> {
    if (this.#mode === 'none' || report.origin.match !== 'Verified') return;
    if (report.managedBy === 'Flux' || report.managedBy === 'ArgoCD') {
      // helm-controller identifies its release by a digest of the observed release (chart metadata
      // included) kept in HelmRelease .status.history: any write here makes Flux see a drifted release and
      // upgrade it. Argo CD owns the desired state the same way. So never, whatever --write-back says.
      const key = `${current.namespace}/${current.release}`;
      if (!this.#refused.has(key)) {
        this.#refused.add(key);
        this.#log.info({ namespace: current.namespace, release: current.release, managedBy: report.managedBy }, `release is managed by ${report.managedBy}; write-back skipped`);
      }
      return;
    }
    const { repoURL, tarballDigest } = report.origin;
    if (!repoURL || !tarballDigest) return;
    const { namespace, objectName: name } = current;
    const obj = await getObject(this.#kc, current.storage, namespace, name);
    if (!obj) return; // gone: its delete event follows
    const ann = obj.metadata?.annotations ?? {};
    const needAnnotations = ann[REPO_URL_ANNOTATION] !== repoURL || ann[DIGEST_ANNOTATION] !== tarballDigest;
    let data: Record<string, string> | undefined;
    if (this.#mode === 'release') {
      const stored = obj.data?.['release'];
      if (!stored) return;
      const what = describeObject({ kind: current.storage, metadata: { name, namespace } });
      const helmString = current.storage === 'Secret' ? Buffer.from(stored, 'base64').toString('latin1') : stored;
      const json = unwrapHelmString(helmString, what, DEFAULT_DECODE_LIMITS).toString('utf8');
      const updated = addProvenanceToReleaseJson(json, repoURL, tarballDigest);
      if (updated !== undefined) {
        const encoded = encodeHelmString(updated);
        data = { ...obj.data, release: current.storage === 'Secret' ? Buffer.from(encoded, 'latin1').toString('base64') : encoded };
      }
    }
    if (!needAnnotations && data === undefined) return;
    obj.metadata = { ...obj.metadata, annotations: { ...ann, [REPO_URL_ANNOTATION]: repoURL, [DIGEST_ANNOTATION]: tarballDigest } };
    if (data) obj.data = data;
    try {
      // replace carries metadata.resourceVersion: the API server refuses it (409) if Helm wrote in between.
      const body = { apiVersion: 'v1', metadata: obj.metadata, data: obj.data };
      await replaceObject(this.#kc, current.storage, namespace, name, current.storage === 'Secret' ? { ...body, type: obj.type } : body);
      this.#log.info({ namespace, release: current.release, revision: current.revision, mode: this.#mode }, 'wrote provenance back into the release');
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) {
        this.#log.info({ namespace, release: current.release }, 'release changed while writing provenance back; skipped');
        return;
      }
      throw err;
    }
  }
}

import { redactUrl } from '../sources/url.ts';
import { registryRequestHost } from '../sources/oci/registry-host.ts';
import type { FluxSourceHint } from '../chart/flux-build.ts';

/*
 * When two repository URLs name the same repository, and when a candidate repository is the Flux source a
 * HelmRelease builds from. Pure: no I/O.
 */

/**
 * A URL as compared: credentials, query and fragment removed (redactUrl), trailing slashes removed (as Flux
 * source discovery and the HTTP sources' repoURL remove them), lower-cased, and `docker.io` written as the
 * host that serves it (oci://docker.io/x and oci://registry-1.docker.io/x are one repository: oras-go
 * requests the first from the second).
 */
export function comparableUrl(u: string): string {
  const url = redactUrl(u).replace(/\/+$/, '').toLowerCase();
  const oci = /^oci:\/\/([^/]+)(.*)$/.exec(url);
  return oci ? `oci://${registryRequestHost(oci[1] ?? '')}${oci[2] ?? ''}` : url;
}

/** e.g. "HelmRelease apps/web's sourceRef HelmRepository flux-system/charts" (no URL: it is named separately). */
export function describeSource(s: FluxSourceHint): string {
  return `${s.via} ${s.kind} ${s.namespace}/${s.name}`;
}

/**
 * Whether a candidate whose repoURL is `repoURL` is served by the Flux source `s`: its URL after the same
 * normalisation on both sides (comparableUrl). A candidate's repoURL is the repository URL for an HTTP
 * repository and the chart's full reference `oci://host/path/<chart>` for an OCI one (sources/url.ts
 * ociRepoURL), so:
 *  - HelmRepository with an http(s) URL: the URLs are equal;
 *  - HelmRepository of type oci: its URL is the prefix (oci://host/path), equal to the candidate's reference
 *    without its last segment (the chart name);
 *  - OCIRepository: its URL names the artifact (oci://host/path/<chart>), equal to the candidate's reference.
 * A GitRepository or Bucket is no chart repository (source-controller packages the chart from its files), and a
 * source whose URL could not be read matches nothing: without the URL, a name alone proves nothing.
 */
export function servesSource(s: FluxSourceHint, repoURL: string): boolean {
  if (s.url === undefined || (s.kind !== 'HelmRepository' && s.kind !== 'OCIRepository')) return false;
  const declared = comparableUrl(s.url);
  const candidate = comparableUrl(repoURL);
  if (s.kind === 'HelmRepository' && declared.startsWith('oci://')) {
    return candidate.startsWith('oci://') && candidate.slice(0, candidate.lastIndexOf('/')) === declared;
  }
  return candidate === declared;
}

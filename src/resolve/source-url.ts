import { redactUrl } from '../sources/url.ts';
import type { FluxSourceHint } from '../chart/flux-build.ts';

/*
 * When two repository URLs name the same repository, and when a candidate repository is the Flux source a
 * HelmRelease builds from. Pure: no I/O.
 */

/** Docker Hub's names: oras-go requests docker.io from registry-1.docker.io; go-containerregistry (Flux) writes index.docker.io. */
const DOCKER_HUB = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);

/**
 * A URL as compared: credentials, query and fragment removed (redactUrl), trailing slashes removed (as Flux
 * source discovery and the HTTP sources' repoURL remove them), scheme and host lower-cased (paths are
 * case-sensitive on HTTP servers), an OCI registry's default port `:443` dropped, and Docker Hub written as one
 * host (oci://docker.io/x, oci://index.docker.io/x and oci://registry-1.docker.io/x are one repository).
 */
export function comparableUrl(u: string): string {
  const url = redactUrl(u).replace(/\/+$/, '');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/]*)(.*)$/.exec(url);
  if (!m) return url.toLowerCase();
  const scheme = (m[1] ?? '').toLowerCase();
  let host = (m[2] ?? '').toLowerCase();
  if (scheme === 'oci://') {
    host = host.replace(/:443$/, '');
    if (DOCKER_HUB.has(host)) host = 'registry-1.docker.io';
  }
  return `${scheme}${host}${m[3] ?? ''}`;
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

/** URL helpers shared by the repository clients. Pure: no I/O. */

const REDACTED = 'REDACTED';

/**
 * A URL safe for logs, status, metrics and error messages: userinfo removed, every query value replaced
 * (keys stay: they say what kind of URL it is, values may be signatures or tokens), fragment dropped.
 * Unparseable input is cut down by hand rather than returned as is, since it may still hold a secret.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const noQuery = url.split(/[?#]/, 1)[0] ?? '';
    return noQuery.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, '$1');
  }
  u.username = '';
  u.password = '';
  u.hash = '';
  if (u.search) {
    const keys: string[] = [];
    for (const part of u.search.slice(1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      keys.push(eq < 0 ? part : `${part.slice(0, eq)}=${REDACTED}`);
    }
    u.search = keys.length ? `?${keys.join('&')}` : '';
  }
  return u.toString();
}

/**
 * Helm's repo.ResolveReferenceURL: an absolute chart URL is returned unchanged; a relative one is resolved
 * against the repository URL with a trailing `/` forced onto its path, and the result carries the
 * repository URL's query string (Helm sets RawQuery from the base even when the reference had its own).
 */
export function resolveChartUrl(repoUrl: string, chartUrl: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(chartUrl)) return chartUrl;
  const base = new URL(repoUrl);
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  const resolved = new URL(chartUrl, base);
  resolved.search = base.search;
  resolved.hash = '';
  return resolved.toString();
}

/** `oci://host/prefix` + chart → `oci://host/prefix/chart`, credentials removed (HIP-0018 repoURL of an OCI chart). */
export function ociRepoURL(prefix: string, chart: string): string {
  const clean = redactUrl(prefix).replace(/\?.*$/, '').replace(/\/+$/, '');
  return `${clean}/${chart}`;
}

/**
 * Why an `oci://` repository URL is not a registry reference Helm or Flux would take, or undefined: user info,
 * a query, a fragment or a backslash (go-containerregistry's name.ParseReference, which Flux uses, and
 * oras-go's registry.ParseReference, Helm's, refuse them). WHATWG URL parsing reads them in ways a reader of
 * the string does not expect (`oci://evil.example#x.gcr.io` is a request to evil.example), so a declaration
 * holding one is refused instead of being read. The URL itself is not quoted: its user info may be a password.
 */
export function ociUrlProblem(url: string): string | undefined {
  if (!url.startsWith('oci://')) return undefined;
  const authority = url.slice('oci://'.length).split('/', 1)[0] ?? '';
  if (authority.includes('@')) return 'an oci:// URL cannot carry user info (user:password@): give credentials in a Secret or the config file';
  if (/[?#\\]/.test(url)) return 'an oci:// URL cannot hold ?, # or a backslash (not a registry reference Helm or Flux accepts)';
  return undefined;
}

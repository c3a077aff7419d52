/**
 * helm-controller (Flux v2, checked against v1.6) marks what it installs through its post-renderer
 * (internal/postrender/common_renderer.go, `NewOriginLabels`): every rendered object gets the labels
 * `helm.toolkit.fluxcd.io/name` and `helm.toolkit.fluxcd.io/namespace` naming the HelmRelease. The release
 * Secret itself carries no Flux label, and helm-controller recognises "its" release by the snapshot in
 * HelmRelease `.status.history` (name, namespace, version and a digest of the observed release, chart
 * metadata included) — which is why chartorigin must never rewrite such a release (publish/write-back.ts).
 * Only the two label values are taken from the manifest; the manifest itself is never kept.
 */
const NAME = /^\s*helm\.toolkit\.fluxcd\.io\/name:\s*["']?([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)["']?\s*$/m;
const NAMESPACE = /^\s*helm\.toolkit\.fluxcd\.io\/namespace:\s*["']?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)["']?\s*$/m;

export function fluxOwnerOf(manifest: string | undefined): { namespace: string; name: string } | undefined {
  if (!manifest || !manifest.includes('helm.toolkit.fluxcd.io/')) return undefined;
  const name = NAME.exec(manifest)?.[1];
  const namespace = NAMESPACE.exec(manifest)?.[1];
  return name && namespace ? { namespace, name } : undefined;
}

/**
 * Whether a release's stored manifest holds an object: a document, as Helm's releaseutil.SplitManifests cuts the
 * manifest, with a line that is not whitespace only (Go's unicode.IsSpace, Helm's TrimSpace), a comment, a
 * directive or a document marker. Helm writes each rendered template as `---\n# Source: <path>\n<content>` and
 * leaves out templates that render to whitespace only; one that renders comments only stays, with nothing in it,
 * and hooks are stored apart from the manifest.
 *
 * A separator is what Helm's regular expression says (`(?m)^---[ \t]*` at HEAD, pkg/release/v1/util/manifest.go;
 * `(?:^|\s*\n)---\s*` in v3.12.3, v3.17.2 and v3.22.0 (pkg/releaseutil/manifest.go) and v4.1.4 (pkg/release/v1/util)): `---` at the
 * start of a line, the rest of that line belonging to the next document — `--- # end` holds nothing,
 * `---apiVersion: v1` holds an object. Not an object either:
 * - a directive line (`%YAML 1.1`, `%TAG …`): helm 3.22.0 installs a post-renderer's
 *   `---\n# Source: c/templates/cm.yaml\n%YAML 1.1\n` and stores it as it is, with nothing in it;
 * - an indented `---` or `...` line: Helm trims the space before a document, so `  ---` opening one is a document
 *   start (stored as `---`); anywhere else YAML reads a string, which Helm refuses (helm 3.22.0 and 4.3.2 render
 *   no such template; helm 3.22.0 installs no such post-renderer output), so it never stands alone in a release.
 * One regular-expression pass, however large the manifest.
 */
export function manifestHasObject(manifest: string | undefined): boolean {
  return !!manifest && OBJECT_LINE.test(manifest);
}
/** Go's unicode.IsSpace without the newline: what Helm's TrimSpace removes around a document. */
const SPACE = String.raw`[\t\v\f\r \u0085\p{Z}]`;
/**
 * A line (after a `\n` only, as Go's (?m)^ — not after a lone `\r` or U+2028, where JavaScript's m flag would
 * start one) that is Helm's separator followed by, or else does not start with `---` and holds, after space, a
 * character that starts content: not `#` (a comment), not `%` (a directive), not a `---`/`...` marker alone on
 * its line. Space is matched once (the separator's own `[ \t]*` included), so the pass stays linear.
 */
const OBJECT_LINE = new RegExp(String.raw`(?<![^\n])(?:---|(?!---))${SPACE}*(?![#%]|(?:---|\.\.\.)${SPACE}*(?:#[^\n]*)?(?:\n|$))[^\n\t\v\f\r \u0085\p{Z}]`, 'u');

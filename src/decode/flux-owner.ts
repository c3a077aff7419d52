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
 * Whether a release's stored manifest holds an object: a line that is neither blank, a comment nor a document
 * marker. Helm writes each rendered template as `---\n# Source: <path>\n<content>` and leaves out templates that
 * render to whitespace only (releaseutil.SplitManifests); one that renders comments only stays, with nothing in
 * it, and hooks are stored apart from the manifest. One regular-expression pass, however large the manifest.
 */
export function manifestHasObject(manifest: string | undefined): boolean {
  return !!manifest && OBJECT_LINE.test(manifest);
}
const OBJECT_LINE = /^(?![ \t]*#)(?!(?:---|\.\.\.)[ \t]*(?:#.*)?$)[ \t]*\S/m;

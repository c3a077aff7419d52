import { fingerprintChart, fingerprintDifferences } from '../chart/fingerprint.ts';
import { fluxBuild, fluxTransformations, FluxBuildError, type FluxHint } from '../chart/flux-build.ts';
import { ChartContentError, type ChartContent } from '../chart/content.ts';
import type { ChartFingerprint } from '../model/chart.ts';

/** Of a published chart, what a Flux build can change: metadata, values and the values files (small). */
export type FluxBuildInput = Pick<ChartContent, 'metadata' | 'values' | 'files'>;

/** Values files are public chart content but can be large: keep at most this much per published chart. */
const MAX_KEPT_BYTES = 1 << 20;

/** The part of a published chart kept in the chart cache for Flux proofs (templates are not needed). */
export function fluxBuildInput(content: ChartContent): FluxBuildInput {
  let kept = 0;
  const files = content.files.filter((f) => {
    if (!/\.ya?ml$/i.test(f.name) || kept + f.data.length > MAX_KEPT_BYTES) return false;
    kept += f.data.length;
    return true;
  });
  return { metadata: content.metadata, values: content.values, files };
}

export interface ContentProof {
  /** [] when proven equal (as published or after the named transformation). */
  differences: string[];
  /** The legitimate transformation that accounts for the difference, for `origin.message`. */
  transformation?: string | undefined;
}

/**
 * Tries the published content as it is, then (for a Flux-managed release) each build Flux could have made
 * of it (chart/flux-build.ts). Flux changes only values and the version, so a difference anywhere else
 * (a template, a file, the schema) is never explained away.
 */
export function proveContent(
  installed: { version: string; fingerprint: ChartFingerprint; flux?: unknown },
  published: { fingerprint: ChartFingerprint; manifestDigest?: string | undefined; fluxInput?: FluxBuildInput | undefined },
  hint?: FluxHint,
): ContentProof {
  const asIs = fingerprintDifferences(installed.fingerprint, published.fingerprint);
  const input = published.fluxInput;
  if (!installed.flux || !input || !installed.version.includes('+')) return { differences: asIs };
  if (!asIs.every((d) => d === 'values' || d === 'metadata')) return { differences: asIs };
  const chart: ChartContent = { ...input, schema: undefined, templates: [] };
  for (const t of fluxTransformations(chart, installed.version, published.manifestDigest, hint)) {
    let built: ChartContent;
    try {
      built = fluxBuild(chart, t.options);
    } catch (err) {
      // A missing or unparsable values file: Flux would not have built this either.
      if (err instanceof FluxBuildError || err instanceof ChartContentError) continue;
      throw err;
    }
    const fp = fingerprintChart(built);
    const candidate: ChartFingerprint = { ...published.fingerprint, metadata: fp.metadata, values: fp.values };
    delete candidate.metadataWithoutBuild;
    if (fingerprintDifferences(installed.fingerprint, candidate).length === 0) return { differences: [], transformation: t.description };
  }
  return { differences: asIs };
}

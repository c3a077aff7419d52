import { fluxBuild, fluxTransformations, FluxBuildError, type FluxHint } from '../chart/flux-build.ts';
import { ChartContentError, type ChartContent } from '../chart/content.ts';
import type { HelmChart } from '../chart/helm-install.ts';
import { isTable } from '../chart/coalesce.ts';
import type { ChartTransformation } from './proof.ts';
import type { ReleaseRecord } from '../model/release.ts';

/** The parent chart as source-controller's builder sees it: Chart.yaml, values.yaml and its other YAML files. */
function builderInput(tree: HelmChart): ChartContent {
  const files = Object.entries(tree.yamlFiles ?? {}).map(([name, text]) => ({ name, data: Buffer.from(text, 'utf8') }));
  return { metadata: tree.metadata, values: tree.values ?? {}, schema: undefined, templates: [], files };
}

/**
 * Whether the installed version's build metadata was written by the tool that built the chart from a
 * published one rather than by its publisher: helm-controller installs Flux's build, which sets it whenever it
 * changes the chart. The one condition for the Flux transformation and the version lookup (candidates.ts).
 */
export function versionRebuilt(record: Pick<ReleaseRecord, 'flux' | 'chart'>): boolean {
  return record.flux !== undefined && record.chart.version.includes('+');
}

/**
 * Flux's chart build (chart/flux-build.ts) as a proof transformation: each build source-controller could
 * have made of the published chart for this release (values files merged into values.yaml, build metadata
 * on the version), which Helm then processes like any chart (dependencies, values coalescing: proof.ts).
 * Only for releases helm-controller installed, and only when the installed version carries build metadata
 * (Flux adds it whenever it changes the chart). Flux changes values and the version only, so templates,
 * files and the schema must still equal the published ones.
 */
export function fluxTransformation(hint?: FluxHint): ChartTransformation {
  return {
    variants(published, installed, candidate) {
      if (!versionRebuilt(installed)) return [];
      const input = builderInput(published);
      const out: { name: string; tree: HelmChart }[] = [];
      for (const t of fluxTransformations(input, installed.chart.version, candidate.manifestDigest, hint)) {
        let built: ChartContent;
        try {
          built = fluxBuild(input, t.options);
        } catch (err) {
          // A missing or unparsable values file: Flux would not have built this either.
          if (err instanceof FluxBuildError || err instanceof ChartContentError) continue;
          throw err;
        }
        const version = String(built.metadata['version'] ?? published.metadata.version);
        // Values files merged: the built chart's values.yaml is one document, which every Helm reads alike.
        const merged = built.values !== input.values;
        out.push({ name: t.description, tree: { ...published, metadata: { ...published.metadata, version }, values: isTable(built.values) ? built.values : null, ...(merged ? { helm4Values: undefined } : {}) } });
      }
      return out;
    },
    unreproducible(published, installed) {
      const files = hint?.valuesFiles;
      if (!versionRebuilt(installed) || !files?.length) return undefined;
      try {
        fluxBuild(builderInput(published), { valuesFiles: files, ignoreMissingValuesFiles: hint?.ignoreMissingValuesFiles });
        return undefined;
      } catch (err) {
        if (!(err instanceof FluxBuildError) || err.reason !== 'values_file_missing') return undefined;
        return `Flux merged values files the published chart does not hold (${files.join(', ')}, ${hint?.from ?? 'HelmRelease'}): ${err.message}; the build cannot be reproduced`;
      }
    },
  };
}

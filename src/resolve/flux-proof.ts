import { posix } from 'node:path';
import { fluxBuild, fluxTransformations, FluxBuildError, type FluxHint } from '../chart/flux-build.ts';
import { ChartContentError, type ChartContent } from '../chart/content.ts';
import type { HelmChart } from '../chart/helm-install.ts';
import { isTable } from '../chart/coalesce.ts';
import type { ChartTransformation } from './proof.ts';
import type { ReleaseRecord } from '../model/release.ts';

/**
 * The parent chart as source-controller's builder sees it: Chart.yaml, values.yaml and its other YAML files.
 * `helm4`: values.yaml as Helm 4's loader reads it (all its YAML documents merged), which is how
 * source-controller 1.8+ (Flux 2.8+, "The HelmChart controller now uses Helm v4") loads the chart it merges
 * values files into; before 1.8 it used Helm 3's loader, which reads the first document only.
 */
function builderInput(tree: HelmChart, helm4 = false): ChartContent {
  const files = Object.entries(tree.yamlFiles ?? {}).map(([name, text]) => ({ name, data: Buffer.from(text, 'utf8') }));
  return { metadata: tree.metadata, values: (helm4 ? tree.helm4Values : undefined) ?? tree.values ?? {}, schema: undefined, templates: [], files };
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
      const out: { name: string; tree: HelmChart }[] = [];
      // A values.yaml of several YAML documents: Flux 2.8+ merged them all before merging the values files,
      // older Flux took the first (found by running the real source-controller v1.9.0,
      // test/e2e/flux-source-controller.test.ts). Both builds are tried, the current Flux's first.
      const readings: [ChartContent, string][] = published.helm4Values !== undefined ? [[builderInput(published, true), "; values.yaml's YAML documents merged, as source-controller 1.8+ (Helm 4) loads it"], [builderInput(published), '']] : [[builderInput(published), '']];
      for (const [input, reading] of readings) {
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
          // Without a merge, or one that leaves values.yaml out, the reading changes nothing: one variant is enough.
          if (reading && (!merged || !(t.options.valuesFiles ?? []).some((f) => posix.normalize(f) === 'values.yaml'))) continue;
          out.push({ name: merged ? `${t.description}${reading}` : t.description, tree: { ...published, metadata: { ...published.metadata, version }, values: isTable(built.values) ? built.values : null, ...(merged ? { helm4Values: undefined } : {}) } });
        }
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

/**
 * Captures what each tested helm stores for a chart that aliases one subchart three times, where that subchart
 * imports values from its own subchart (and that one from its own): the shape of helm's testdata chart
 * chart-with-import-from-aliased-dependencies, made here with the harness (test/harness/umbrella.ts). Helm 3
 * shares the dependency objects between the alias copies and loses the import-values of all but the first alias
 * (src/chart/helm-install.ts RewrittenImports); Helm 4 copies them. For test/unit/chart/aliased-import-captures.test.ts.
 *
 * Starts the harness control plane, packages the chart with helm 4, really installs it with every helm of
 * HELM_PROOF_BINARIES (scripts/tools.sh), and writes each stored release (`chart` and `config` as Helm encoded
 * them; manifest, hooks and notes dropped) to test/fixtures/aliased-imports/ with the tarball and manifest.json.
 * No user values are set.
 *
 *   node scripts/capture-aliased-import-fixtures.ts
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { majorOf } from '../test/harness/helm-proof.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { HELM_PROOF_BINARIES, REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { packageDir, writeChart, type UmbrellaSpec } from '../test/harness/umbrella.ts';
import { chartOnly, helmVersion, readStoredRelease, runHelm, withControlPlane, writeCapture } from './helm-capture.ts';

const OUT = join(REPO_ROOT, 'test', 'fixtures', 'aliased-imports');

/** One entry of test/fixtures/aliased-imports/manifest.json; the unit test reads the same shape. */
export interface AliasedImportCapture {
  file: string;
  /** `helm version --short` of the binary that installed it. */
  helm: string;
  /** The .tgz (relative to the fixture folder) it was installed from. */
  chart: string;
}

const leaf = { name: 'leaf', version: '1.0.0', library: true, values: { exports: { leafdata: { l: 1 } }, leafcfg: { k: 'v' } } };
const mid = { name: 'mid', version: '1.0.0', library: true, values: { defaults: { defaultValue: '42' }, exports: { middata: { m: 2 } } }, dependencies: [{ chart: leaf, importValues: ['leafdata', { child: 'leafcfg', parent: 'fromLeaf' }] }] };
const child = { name: 'child', version: '1.0.0', values: { own: 1 }, dependencies: [{ chart: mid, importValues: [{ child: 'defaults', parent: 'defaults' }, 'middata'], form: 'tgz' as const }] };
/** `child` three times: each alias imports what only child's own imports (from mid, and mid's from leaf) put there; mid and leaf are library charts, so that the three copies render no object twice. */
export const ALIASED_IMPORTS_CHART: UmbrellaSpec = {
  name: 'aliased',
  version: '1.0.0',
  values: { top: true },
  dependencies: [
    { chart: child, alias: 'foo', importValues: [{ child: 'defaults', parent: 'foo-defaults' }] },
    { chart: child, alias: 'bar', importValues: [{ child: 'defaults', parent: 'bar-defaults' }, { child: 'mid', parent: 'bar-mid' }] },
    { chart: child, alias: 'baz', importValues: [{ child: 'mid', parent: 'baz-mid' }] },
  ],
};

async function main(): Promise<void> {
  await withControlPlane(async (cp) => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const pkg = await packageDir(await writeChart(scratchDir('aliased-src'), ALIASED_IMPORTS_CHART), scratchDir('aliased-out'));
    const chart = `${ALIASED_IMPORTS_CHART.name}-${ALIASED_IMPORTS_CHART.version}.tgz`;
    copyFileSync(pkg.path, join(OUT, chart));
    const captures: AliasedImportCapture[] = [];
    for (const name of HELM_PROOF_BINARIES) {
      const helm = toolPath(name);
      const { version, tag = name } = helmVersion(helm);
      const ns = `aliased-${tag.replaceAll('.', '-')}`;
      await ensureNamespace(cp, ns);
      await runHelm(helm, ['install', 'aliased', join(OUT, chart), '--namespace', ns], helmEnv(cp, majorOf(name)));
      const file = `${tag}-aliased.v1.json`;
      writeCapture(OUT, file, chartOnly((await readStoredRelease(cp, ns, 'aliased', 1)).release));
      captures.push({ file, helm: version, chart });
    }
    writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-aliased-import-fixtures.ts', captures }, null, 2)}\n`);
  });
}

if (import.meta.main) await main();

/**
 * Captures what each tested helm stores for a chart that depends on one subchart in two versions under two aliases
 * (test/harness/dup-subchart.ts): packaged by real `helm package` in both orders it writes the duplicate
 * `charts/db/` entries in, and tarred as built (`charts/db-1.0.0.tgz` and `charts/db-2.0.0.tgz`). For
 * test/unit/chart/dup-subchart-captures.test.ts.
 *
 * Starts the harness control plane, packages with helm 4 (chartutil.Save writes dependencies the same way in Helm
 * 3), really installs each tarball with every helm of HELM_PROOF_BINARIES, and writes each stored release (`chart`
 * and `config` as Helm encoded them; manifest, hooks and notes dropped) to test/fixtures/dup-subchart/ with the
 * tarballs and manifest.json. No user values are set.
 *
 *   node scripts/capture-dup-subchart-fixtures.ts
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { majorOf } from '../test/harness/helm-proof.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { packageBothOrders, tarredAsBuilt } from '../test/harness/dup-subchart.ts';
import { tgz } from '../test/unit/chart/tar-writer.ts';
import { HELM_PROOF_BINARIES, REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { chartOnly, helmVersion, readStoredRelease, runHelm, withControlPlane, writeCapture } from './helm-capture.ts';

const OUT = join(REPO_ROOT, 'test', 'fixtures', 'dup-subchart');

/** One entry of test/fixtures/dup-subchart/manifest.json; the unit test reads the same shape. */
export interface DupSubchartCapture {
  file: string;
  /** `helm version --short` of the binary that installed it. */
  helm: string;
  /** The .tgz (relative to the fixture folder) it was installed from. */
  chart: string;
}

/** The tarballs: `helm package` output in each order of the two db versions, and the chart tarred as built. */
export const DUP_SUBCHART_TARBALLS = ['packaged-1.0.0-2.0.0.tgz', 'packaged-2.0.0-1.0.0.tgz', 'as-built.tgz'] as const;

async function main(): Promise<void> {
  await withControlPlane(async (cp) => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const work = scratchDir('dupsub-src');
    const packaged = await packageBothOrders(toolPath('helm4-latest'), helmEnv(cp, 4), work, scratchDir('dupsub-out'));
    copyFileSync(packaged['1.0.0-2.0.0'], join(OUT, 'packaged-1.0.0-2.0.0.tgz'));
    copyFileSync(packaged['2.0.0-1.0.0'], join(OUT, 'packaged-2.0.0-1.0.0.tgz'));
    writeFileSync(join(OUT, 'as-built.tgz'), tarredAsBuilt(work, tgz));
    const captures: DupSubchartCapture[] = [];
    for (const name of HELM_PROOF_BINARIES) {
      const helm = toolPath(name);
      const { version, tag = name } = helmVersion(helm);
      for (const [i, chart] of DUP_SUBCHART_TARBALLS.entries()) {
        const ns = `dupsub-${tag.replaceAll('.', '-')}-${i}`;
        await ensureNamespace(cp, ns);
        await runHelm(helm, ['install', 'dupsub', join(OUT, chart), '--namespace', ns], helmEnv(cp, majorOf(name)));
        const file = `${tag}-${chart.replace(/\.tgz$/, '')}.v1.json`;
        writeCapture(OUT, file, chartOnly((await readStoredRelease(cp, ns, 'dupsub', 1)).release));
        captures.push({ file, helm: version, chart });
      }
    }
    writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-dup-subchart-fixtures.ts', captures }, null, 2)}\n`);
  });
}

if (import.meta.main) await main();

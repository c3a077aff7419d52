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
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace, kubectl, startControlPlane } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { onInterrupt, stopAll } from '../test/harness/processes.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { packageBothOrders, tarredAsBuilt } from '../test/harness/dup-subchart.ts';
import { tgz } from '../test/unit/chart/tar-writer.ts';
import { HELM_PROOF_BINARIES, REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { isObject } from '../src/util/guards.ts';
import { unwrapHelmString } from '../src/decode/decode.ts';

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

function run(helm: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(helm, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

async function main(): Promise<void> {
  const cp = await startControlPlane();
  onInterrupt(async () => {
    await cp.stop();
    await stopAll();
  });
  try {
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
      const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
      const tag = /^v\d+\.\d+\.\d+/.exec(version)?.[0] ?? name;
      for (const [i, chart] of DUP_SUBCHART_TARBALLS.entries()) {
        const ns = `dupsub-${tag.replaceAll('.', '-')}-${i}`;
        await ensureNamespace(cp, ns);
        await run(helm, ['install', 'dupsub', join(OUT, chart), '--namespace', ns], helmEnv(cp, name.startsWith('helm4') ? 4 : 3));
        const obj = JSON.parse(await kubectl(cp, ['get', 'secret', 'sh.helm.release.v1.dupsub.v1', '-n', ns, '-o', 'json'])) as { data?: { release?: string } };
        const rel = JSON.parse(unwrapHelmString(Buffer.from(obj.data?.release ?? '', 'base64').toString('latin1'), `release in ${ns}`).toString('utf8')) as Record<string, unknown>;
        // What the proof reads; the rendered manifest, hooks and notes are not part of the chart.
        delete rel['manifest'];
        delete rel['hooks'];
        if (isObject(rel['info'])) delete rel['info']['notes'];
        const file = `${tag}-${chart.replace(/\.tgz$/, '')}.v1.json`;
        writeFileSync(join(OUT, file), `${JSON.stringify(rel, null, 1)}\n`);
        captures.push({ file, helm: version, chart });
        process.stderr.write(`captured ${file}\n`);
      }
    }
    writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-dup-subchart-fixtures.ts', captures }, null, 2)}\n`);
  } finally {
    await cp.stop();
  }
}

if (import.meta.main) await main();

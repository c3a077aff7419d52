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
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace, kubectl, startControlPlane } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { onInterrupt, stopAll } from '../test/harness/processes.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { HELM_PROOF_BINARIES, REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { packageDir, writeChart, type UmbrellaSpec } from '../test/harness/umbrella.ts';
import { isObject } from '../src/util/guards.ts';
import { unwrapHelmString } from '../src/decode/decode.ts';

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
    const pkg = await packageDir(await writeChart(scratchDir('aliased-src'), ALIASED_IMPORTS_CHART), scratchDir('aliased-out'));
    const chart = `${ALIASED_IMPORTS_CHART.name}-${ALIASED_IMPORTS_CHART.version}.tgz`;
    copyFileSync(pkg.path, join(OUT, chart));
    const captures: AliasedImportCapture[] = [];
    for (const name of HELM_PROOF_BINARIES) {
      const helm = toolPath(name);
      const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
      const tag = /^v\d+\.\d+\.\d+/.exec(version)?.[0] ?? name;
      const ns = `aliased-${tag.replaceAll('.', '-')}`;
      await ensureNamespace(cp, ns);
      await run(helm, ['install', 'aliased', join(OUT, chart), '--namespace', ns], helmEnv(cp, name.startsWith('helm4') ? 4 : 3));
      const obj = JSON.parse(await kubectl(cp, ['get', 'secret', 'sh.helm.release.v1.aliased.v1', '-n', ns, '-o', 'json'])) as { data?: { release?: string } };
      const rel = JSON.parse(unwrapHelmString(Buffer.from(obj.data?.release ?? '', 'base64').toString('latin1'), `release in ${ns}`).toString('utf8')) as Record<string, unknown>;
      // What the proof reads; the rendered manifest, hooks and notes are not part of the chart.
      delete rel['manifest'];
      delete rel['hooks'];
      if (isObject(rel['info'])) delete rel['info']['notes'];
      const file = `${tag}-aliased.v1.json`;
      writeFileSync(join(OUT, file), `${JSON.stringify(rel, null, 1)}\n`);
      captures.push({ file, helm: version, chart });
      process.stderr.write(`captured ${file}\n`);
    }
    writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-aliased-import-fixtures.ts', captures }, null, 2)}\n`);
  } finally {
    await cp.stop();
  }
}

if (import.meta.main) await main();

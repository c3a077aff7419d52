/**
 * Captures real Helm release objects for unit tests: starts the harness control plane, installs the
 * committed chart test/fixtures/repo/webapp-1.2.0.tgz with helm 3 and helm 4 (Secret and ConfigMap
 * drivers; upgrade, failure and uninstall-with-history too), and writes each stored object as the API
 * returns it (`kubectl get -o json`, managedFields dropped) to test/fixtures/releases/, plus an index
 * (manifest.json). Only dummy values go in (`fixture-dummy-…`); the script checks that the captured
 * release `config` holds nothing else and that no credential of the throw-away cluster leaked in.
 *
 *   npx node scripts/capture-release-fixtures.ts
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace, kubectl, type ControlPlane } from '../test/harness/controlplane.ts';
import { helmInstall, helmUninstall, helmUpgrade, type HelmDriver, type HelmVersion } from '../test/harness/helm.ts';
import { REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { isObject } from '../src/util/guards.ts';
import { checkConfig } from './fixture-values.ts';
import { helmVersion, readStoredRelease, withControlPlane, writeCapture } from './helm-capture.ts';

const OUT = join(REPO_ROOT, 'test', 'fixtures', 'releases');
const CHART = join(REPO_ROOT, 'test', 'fixtures', 'repo', 'webapp-1.2.0.tgz');

/** One entry of test/fixtures/releases/manifest.json; the unit tests read the same shape. */
export interface Capture {
  file: string;
  helm: HelmVersion;
  driver: HelmDriver;
  namespace: string;
  release: string;
  revision: number;
  status: string;
  chart: string;
  /** The .tgz (relative to test/fixtures/) whose content the stored chart equals. */
  installedFrom: string;
}

type Step = (cp: ControlPlane, ns: string, v: HelmVersion, driver: HelmDriver) => Promise<{ release: string; expect: { revision: number; status: string }[] }>;

const dummy = (n: string): Record<string, string> => ({ 'image.tag': `fixture-dummy-${n}` });

const scenarios: { name: string; helm: HelmVersion[]; driver: HelmDriver[]; run: Step }[] = [
  {
    name: 'installed-upgraded',
    helm: [3, 4],
    driver: ['secret', 'configmap'],
    async run(cp, ns, v, driver) {
      await helmInstall(cp, v, 'web', CHART, { namespace: ns, driver, set: dummy('one') });
      await helmUpgrade(cp, v, 'web', CHART, { namespace: ns, driver, set: dummy('two') });
      return { release: 'web', expect: [{ revision: 1, status: 'superseded' }, { revision: 2, status: 'deployed' }] };
    },
  },
  {
    name: 'failed',
    helm: [3, 4],
    driver: ['secret'],
    async run(cp, ns, v, driver) {
      // The API server refuses the Service (invalid type): helm stores the revision as failed.
      await helmInstall(cp, v, 'broken', CHART, { namespace: ns, driver, set: { 'service.type': 'fixture-dummy-invalid' } }).then(
        () => {
          throw new Error('install unexpectedly succeeded');
        },
        () => undefined,
      );
      return { release: 'broken', expect: [{ revision: 1, status: 'failed' }] };
    },
  },
  {
    name: 'uninstalled',
    helm: [3, 4],
    driver: ['secret'],
    async run(cp, ns, v, driver) {
      await helmInstall(cp, v, 'gone', CHART, { namespace: ns, driver, set: dummy('gone') });
      await helmUninstall(cp, v, 'gone', { namespace: ns, driver, keepHistory: true });
      return { release: 'gone', expect: [{ revision: 1, status: 'uninstalled' }] };
    },
  },
];

async function main(): Promise<void> {
  await withControlPlane(async (cp) => {
    const secretsOfCluster = [cp.certs.admin.key, cp.certs.ca.key, cp.certs.serviceAccountKey].map((p) => readFileSync(p, 'utf8').split('\n')[1] ?? '');
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const captures: Capture[] = [];
    for (const s of scenarios) {
      for (const v of s.helm) {
        for (const driver of s.driver) {
          const ns = `fixtures-${s.name}-helm${v}-${driver}`;
          await ensureNamespace(cp, ns);
          const { release, expect } = await s.run(cp, ns, v, driver);
          for (const e of expect) {
            const name = `sh.helm.release.v1.${release}.v${e.revision}`;
            const { object: obj, release: rel } = await readStoredRelease(cp, ns, release, e.revision, driver);
            const meta = obj['metadata'];
            if (isObject(meta)) delete meta['managedFields'];
            checkConfig(rel['config'] ?? {}, name);
            const info = rel['info'];
            const status = isObject(info) ? info['status'] : undefined;
            if (status !== e.status || rel['version'] !== e.revision) throw new Error(`${ns}/${name}: expected ${e.status} r${e.revision}, got ${String(status)} r${String(rel['version'])}`);
            const text = `${JSON.stringify(obj, null, 2)}\n`;
            for (const line of secretsOfCluster) if (line && text.includes(line)) throw new Error(`${name}: a cluster key leaked into the capture`);
            const file = `helm${v}-${driver}-${s.name}-${release}.v${e.revision}.json`;
            writeCapture(OUT, file, obj, 2);
            captures.push({ file, helm: v, driver, namespace: ns, release, revision: e.revision, status: e.status, chart: 'webapp-1.2.0', installedFrom: 'repo/webapp-1.2.0.tgz' });
          }
        }
      }
    }
    const helm = { 3: helmVersion(toolPath('helm3')).version, 4: helmVersion(toolPath('helm4')).version };
    const kube = (await kubectl(cp, ['version', '-o', 'json']).then((o) => (JSON.parse(o) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion)) ?? 'unknown';
    writeFileSync(
      join(OUT, 'manifest.json'),
      `${JSON.stringify({ generatedBy: 'scripts/capture-release-fixtures.ts', helm, kubeApiServer: kube, captures }, null, 2)}\n`,
    );
    process.stderr.write(`${captures.length} captures and manifest.json in ${OUT} (${readdirSync(OUT).length} files)\n`);
  });
}

await main();

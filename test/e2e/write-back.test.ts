import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { ensureNamespace } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { adminKubeConfig, testEnv, uniqueNamespace } from '../harness/env.ts';
import { helm, helmHistory, helmInstall, helmRollback, helmUpgrade, type HelmDriver, type HelmVersion } from '../harness/helm.ts';
import { unwrapHelmString } from '../../src/decode/decode.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-wb');
let controller: ControllerProcess;
const core = adminKubeConfig().makeApiClient(CoreV1Api);

interface Stored {
  annotations: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** The current revision's object as Helm stored it, decoded here without dropping anything. */
async function stored(release: string, revision: number, driver: HelmDriver): Promise<Stored> {
  const name = `sh.helm.release.v1.${release}.v${revision}`;
  const obj = driver === 'secret' ? await core.readNamespacedSecret({ name, namespace: ns }) : await core.readNamespacedConfigMap({ name, namespace: ns });
  const raw = obj.data?.['release'] ?? '';
  const helmString = driver === 'secret' ? Buffer.from(raw, 'base64').toString('latin1') : raw;
  const json = JSON.parse(unwrapHelmString(helmString, name).toString('utf8')) as { chart: { metadata: Record<string, unknown> } };
  return { annotations: obj.metadata?.annotations ?? {}, metadata: json.chart.metadata };
}

before(async () => {
  await installCrds(cluster);
  await ensureNamespace(cluster, ns);
  const config = join(cluster.dir, `${ns}-repos.yaml`);
  writeFileSync(config, `repositories:\n  - name: main\n    url: ${env.chartRepo.repos.main.url}\n`);
  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns, '--watch-chart-repositories=false', '--config', config, '--write-back=release'], 'write-back');
});

after(async () => {
  await controller?.stop();
});

const cases: [HelmVersion, HelmVersion, HelmDriver][] = [
  [3, 4, 'secret'],
  [4, 3, 'configmap'],
];

describe('write-back=release', () => {
  for (const [writer, other, driver] of cases) {
    it(`adds repoURL/tarballDigest to a helm ${writer} release (${driver}); helm 3 and 4 still list, get, upgrade and roll back`, async () => {
      const main = env.chartRepo.repos.main;
      const release = `wb-h${writer}-${driver}`;
      await helmInstall(cluster, writer, release, 'webapp', { namespace: ns, repo: main.url, version: '1.0.0', driver, set: { replicaCount: '2' } });
      const written = await eventually('provenance written back', async () => {
        const s = await stored(release, 1, driver);
        return s.metadata['tarballDigest'] ? s : undefined;
      });
      assert.equal(written.metadata['repoURL'], main.url);
      assert.equal(written.metadata['tarballDigest'], main.charts['webapp-1.0.0']?.digest);
      assert.equal(written.annotations['chartorigin.io/repo-url'], main.url);
      assert.equal(written.annotations['chartorigin.io/tarball-digest'], main.charts['webapp-1.0.0']?.digest);

      for (const v of [3, 4] as const) {
        const list = JSON.parse((await helm(cluster, v, ['list', '-o', 'json'], { namespace: ns, driver })).stdout) as { name: string; status: string; chart: string }[];
        const entry = list.find((r) => r.name === release);
        assert.equal(entry?.status, 'deployed', `helm ${v} list`);
        assert.equal(entry?.chart, 'webapp-1.0.0');
        const values = JSON.parse((await helm(cluster, v, ['get', 'values', release, '-o', 'json'], { namespace: ns, driver })).stdout) as Record<string, unknown>;
        assert.equal(values['replicaCount'], 2, `helm ${v} get values`);
        assert.match((await helm(cluster, v, ['get', 'manifest', release], { namespace: ns, driver })).stdout, /kind: Deployment/);
      }
      await helmUpgrade(cluster, other, release, 'webapp', { namespace: ns, repo: main.url, version: '1.1.0', driver, extraArgs: ['--reuse-values'] });
      await helmRollback(cluster, writer, release, 1, { namespace: ns, driver });
      const history = await helmHistory(cluster, other, release, { namespace: ns, driver });
      assert.deepEqual(history.map((h) => [h.revision, h.status, h.chart]), [
        [1, 'superseded', 'webapp-1.0.0'],
        [2, 'superseded', 'webapp-1.1.0'],
        [3, 'deployed', 'webapp-1.0.0'],
      ]);
      // The rolled-back revision is a new object: the controller proves and writes it again.
      const rolledBack = await eventually('write-back on the new revision', async () => {
        const s = await stored(release, 3, driver);
        return s.metadata['tarballDigest'] ? s : undefined;
      });
      assert.equal(rolledBack.metadata['tarballDigest'], main.charts['webapp-1.0.0']?.digest);
    });
  }
});

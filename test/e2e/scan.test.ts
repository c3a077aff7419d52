import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmHistory, helmInstall, helmRollback, helmUpgrade } from '../harness/helm.ts';
import { REPO_ROOT } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A namespace of its own and a config naming the main repository. */
async function scanSetup(prefix: string): Promise<{ ns: string; config: string; main: typeof env.chartRepo.repos.main }> {
  const ns = uniqueNamespace(prefix);
  await ensureNamespace(cluster, ns);
  const main = env.chartRepo.repos.main;
  const config = join(cluster.dir, `${ns}.yaml`);
  writeFileSync(config, `repositories:\n  - name: main\n    url: ${main.url}\n`);
  return { ns, config, main };
}

describe('chartorigin scan', () => {
  it('reports the current revision of every release in a namespace, Secret and ConfigMap storage alike', async () => {
    const { ns, config, main } = await scanSetup('e2e-scan');
    await helmInstall(cluster, 3, 'one', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmUpgrade(cluster, 3, 'one', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0' });
    await helmInstall(cluster, 4, 'two', 'legacy', { namespace: ns, repo: main.url, version: '1.0.0', driver: 'configmap' });

    const json = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const results = JSON.parse(json.stdout) as { name: string; release: { revision: number; storage: string }; chart: { version: string; deprecated: boolean }; origin: { match: string; tarballDigest?: string }; upgrade?: string }[];
    assert.deepEqual(results.map((r) => r.name), ['one', 'two']);
    const [one, two] = results;
    assert.equal(one?.release.revision, 2);
    assert.equal(one?.chart.version, '1.1.0');
    assert.equal(one?.origin.match, 'Verified');
    assert.equal(one?.origin.tarballDigest, main.charts['webapp-1.1.0']?.digest);
    assert.equal(one?.upgrade, 'Major');
    assert.equal(two?.release.storage, 'ConfigMap');
    assert.equal(two?.chart.deprecated, true);

    const table = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-A', '--config', config]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAMESPACE\s+NAME\s+CHART\s+VERSION\s+LATEST\s+UPGRADE\s+BEHIND\s+MATCH\s+REPO\n/);
    assert.match(table.stdout, new RegExp(`${ns}\\s+one\\s+webapp\\s+1\\.1\\.0\\s+2\\.0\\.0\\s+Major\\s+2\\s+Verified\\s+main`));
    assert.match(table.stdout, new RegExp(`${ns}\\s+two\\s+legacy \\(deprecated\\)\\s+1\\.0\\.0`));
  });

  it('takes the highest revision that is not superseded: after a rollback, and after a failed upgrade', async () => {
    const { ns, config, main } = await scanSetup('e2e-scan-rev');
    // back: 1.0.0 → 1.1.0 → rollback to 1 (revision 3 deploys 1.0.0 again; 1 and 2 superseded).
    await helmInstall(cluster, 4, 'back', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmUpgrade(cluster, 4, 'back', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0' });
    await helmRollback(cluster, 4, 'back', 1, { namespace: ns });
    // broken: 1.0.0 deployed, then an upgrade the API server refuses (revision 2 failed, 1 stays deployed).
    await helmInstall(cluster, 3, 'broken', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await assert.rejects(helmUpgrade(cluster, 3, 'broken', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0', set: { 'service.type': 'NoSuchType' } }));
    assert.deepEqual((await helmHistory(cluster, 4, 'back', { namespace: ns })).map((h) => h.status), ['superseded', 'superseded', 'deployed']);
    assert.deepEqual((await helmHistory(cluster, 3, 'broken', { namespace: ns })).map((h) => h.status), ['deployed', 'failed']);

    const json = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const results = JSON.parse(json.stdout) as { name: string; release: { revision: number; status: string }; chart: { version: string }; origin: { match: string } }[];
    const byName = new Map(results.map((r) => [r.name, r]));
    assert.deepEqual([...byName.keys()].sort(), ['back', 'broken']);
    assert.deepEqual(byName.get('back')?.release, { ...byName.get('back')?.release, revision: 3, status: 'deployed' });
    assert.equal(byName.get('back')?.chart.version, '1.0.0');
    assert.equal(byName.get('back')?.origin.match, 'Verified');
    // The failed revision is the current one, as in `helm status`: it is what the cluster last tried.
    assert.deepEqual(byName.get('broken')?.release, { ...byName.get('broken')?.release, revision: 2, status: 'failed' });
    assert.equal(byName.get('broken')?.chart.version, '1.1.0');
  });
  it('reports a release stored in both drivers once, as its highest revision, like inspect', async () => {
    const { ns, config, main } = await scanSetup('e2e-scan-mixed');
    // `web` in Secrets at revision 2 (helm 3, default driver) and in ConfigMaps at revision 3 (helm 4,
    // HELM_DRIVER=configmap): each helm sees only its own driver, so each thinks it owns the release.
    await helmInstall(cluster, 3, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmUpgrade(cluster, 3, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0' });
    await helmInstall(cluster, 4, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0', driver: 'configmap' });
    await helmUpgrade(cluster, 4, 'web', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0', driver: 'configmap' });
    await helmUpgrade(cluster, 4, 'web', 'webapp', { namespace: ns, repo: main.url, version: '2.0.0', driver: 'configmap' });
    assert.equal((await helmHistory(cluster, 3, 'web', { namespace: ns })).length, 2);
    assert.equal((await helmHistory(cluster, 4, 'web', { namespace: ns, driver: 'configmap' })).length, 3);

    type Row = { name: string; release: { revision: number; storage: string; status: string }; chart: { version: string } };
    const summary = (rows: Row[]): string[] => rows.map((r) => `${r.name} ${r.release.storage} v${r.release.revision} ${r.release.status} ${r.chart.version}`);
    const scanned = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config, '-o', 'json']);
    assert.equal(scanned.code, 0, scanned.stderr);
    assert.deepEqual(summary(JSON.parse(scanned.stdout) as Row[]), ['web ConfigMap v3 deployed 2.0.0']);

    // inspect reads every revision (superseded ones too) from kubectl's output and must agree.
    const file = join(cluster.dir, `${ns}-objects.json`);
    writeFileSync(file, await kubectl(cluster, ['get', 'secrets,configmaps', '-n', ns, '-l', 'owner=helm', '-o', 'json']));
    const inspected = await cli(['inspect', file, '--config', config, '-o', 'json']);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.deepEqual(summary(JSON.parse(inspected.stdout) as Row[]), ['web ConfigMap v3 deployed 2.0.0']);

    // Secrets only: the ConfigMaps are out of sight and the Secret's revision 2 is current.
    const secretsOnly = await cli(['scan', '--kubeconfig', cluster.kubeconfig, '-n', ns, '--config', config, '--storage', 'secrets', '-o', 'json']);
    assert.equal(secretsOnly.code, 0, secretsOnly.stderr);
    assert.deepEqual(summary(JSON.parse(secretsOnly.stdout) as Row[]), ['web Secret v2 deployed 1.1.0']);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureNamespace } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall, helmUpgrade } from '../harness/helm.ts';
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

describe('chartorigin scan', () => {
  it('reports the current revision of every release in a namespace, Secret and ConfigMap storage alike', async () => {
    const ns = uniqueNamespace('e2e-scan');
    await ensureNamespace(cluster, ns);
    const main = env.chartRepo.repos.main;
    await helmInstall(cluster, 3, 'one', 'webapp', { namespace: ns, repo: main.url, version: '1.0.0' });
    await helmUpgrade(cluster, 3, 'one', 'webapp', { namespace: ns, repo: main.url, version: '1.1.0' });
    await helmInstall(cluster, 4, 'two', 'legacy', { namespace: ns, repo: main.url, version: '1.0.0', driver: 'configmap' });
    const config = join(cluster.dir, `${ns}.yaml`);
    writeFileSync(config, `repositories:\n  - name: main\n    url: ${main.url}\n`);

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
});

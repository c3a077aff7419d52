import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import YAML from 'yaml';
import { ensureNamespace, kubectl, serviceAccountKubeconfig } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { helmInstall } from '../harness/helm.ts';
import { REPO_ROOT, toolPath } from '../harness/tools.ts';
import { installGitOpsCrds } from '../harness/gitops.ts';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { serviceAccountName?: string; containers?: { args?: string[] }[] } } };
}

const env = testEnv();
const cluster = env.cluster;
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
const running: ControllerProcess[] = [];

after(async () => {
  for (const c of running) await c.stop();
});

function render(release: string, namespace: string, sets: string[]): Promise<K8sObject[]> {
  const args = ['template', release, join(REPO_ROOT, 'charts/chartorigin'), '--namespace', namespace, ...sets.flatMap((s) => ['--set', s])];
  return new Promise((resolve, reject) => {
    execFile(toolPath('helm4'), args, { maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr || err.message));
      else resolve(YAML.parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject).filter((o) => o && o.kind));
    });
  });
}

/** Applies the chart's ServiceAccount and RBAC exactly as rendered and returns the controller's arguments. */
async function installRbac(release: string, namespace: string, sets: string[]): Promise<{ sa: string; args: string[] }> {
  const objects = await render(release, namespace, sets);
  const rbac = objects.filter((o) => RBAC_KINDS.has(o.kind));
  for (const o of rbac) if (o.metadata.namespace) await ensureNamespace(cluster, o.metadata.namespace);
  await kubectl(cluster, ['apply', '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n') });
  const deployment = objects.find((o) => o.kind === 'Deployment');
  const podSpec = deployment?.spec?.template?.spec;
  const args = (podSpec?.containers?.[0]?.args ?? []).filter((a) => a !== 'controller' && !a.startsWith('--metrics-bind-address'));
  assert.ok(podSpec?.serviceAccountName, 'the Deployment names its ServiceAccount');
  return { sa: podSpec.serviceAccountName, args };
}

async function can(kubeconfig: string, verb: string, resource: string, namespace?: string): Promise<boolean> {
  const out = await kubectl({ kubeconfig }, ['auth', 'can-i', verb, resource, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])]).catch((err: Error) => err.message);
  return /^yes/m.test(out);
}

describe('least privilege, with the chart’s own RBAC and a ServiceAccount token', () => {
  it('cluster mode: the controller works as its ServiceAccount and cannot write Secrets', async () => {
    await installCrds(cluster);
    const ns = uniqueNamespace('co-sys');
    const apps = uniqueNamespace('co-apps');
    await ensureNamespace(cluster, ns);
    await ensureNamespace(cluster, apps);
    const { sa, args } = await installRbac('co', ns, []);
    const kc = await serviceAccountKubeconfig(cluster, ns, sa, { create: false });
    const repo = `rbac-${ns}`.slice(0, 63);
    await kubectl(cluster, ['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: repo }, spec: { url: env.chartRepo.repos.main.url } }),
    });
    const c = await startControllerProcess(cluster, [...args, '--leader-election-namespace', ns], 'rbac-cluster', { kubeconfig: kc, namespace: ns });
    running.push(c);
    await helmInstall(cluster, 4, 'least', env.chartRepo.repos.main.charts['webapp-1.1.0']!.path, { namespace: apps });
    const status = await eventually('ChartOrigin Verified, written by the ServiceAccount', async () => {
      const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', 'least', '-n', apps, '-o', 'json'])) as { status?: { origin?: { match?: string; repository?: string } } };
      return o.status?.origin?.match === 'Verified' ? o.status : undefined;
    }, 60_000);
    assert.equal(status.origin?.repository, repo);
    await eventually('ChartRepository status written', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', repo, '-o', 'json'])) as { status?: { conditions?: { status: string }[] } };
      return r.status?.conditions?.[0]?.status === 'True' ? true : undefined;
    });
    assert.equal(await can(kc, 'list', 'secrets', apps), true);
    assert.equal(await can(kc, 'update', 'secrets', apps), false, 'no Secret writes without write-back');
    assert.equal(await can(kc, 'patch', 'secrets', apps), false);
    assert.equal(await can(kc, 'delete', 'secrets', apps), false);
    assert.equal(await can(kc, 'create', 'chartorigins.chartorigin.io', apps), true);
    assert.equal(await can(kc, 'update', 'chartrepositories.chartorigin.io'), false, 'never writes ChartRepository spec');
    assert.equal(await can(kc, 'create', 'pods', apps), false);
    await kubectl(cluster, ['delete', 'chartrepository', repo]);
  });

  it('write-back grants Secret updates only when enabled', async () => {
    const ns = uniqueNamespace('co-wb');
    const { sa } = await installRbac('cowb', ns, ['controller.writeBack=annotations']);
    const kc = await serviceAccountKubeconfig(cluster, ns, sa, { create: false });
    assert.equal(await can(kc, 'update', 'secrets', 'default'), true);
  });

  it('GitOps kinds: read-only access to Flux and Argo CD objects only while the features are on', async () => {
    // kubectl resolves a resource name through discovery; the controller itself never needs the CRDs (the
    // first case above ran it with every GitOps feature on and none of them installed).
    await installGitOpsCrds(cluster);
    const on = uniqueNamespace('co-gitops');
    const { sa, args } = await installRbac('cogo', on, []);
    assert.ok(args.includes('--flux=true') && args.includes('--discover-flux-sources=true') && args.includes('--argocd=true'));
    const kc = await serviceAccountKubeconfig(cluster, on, sa, { create: false });
    for (const r of ['helmreleases.helm.toolkit.fluxcd.io', 'helmcharts.source.toolkit.fluxcd.io', 'helmrepositories.source.toolkit.fluxcd.io', 'ocirepositories.source.toolkit.fluxcd.io', 'applications.argoproj.io']) {
      assert.equal(await can(kc, 'list', r), true, `list ${r}`);
      assert.equal(await can(kc, 'watch', r), true, `watch ${r}`);
      for (const v of ['create', 'update', 'patch', 'delete']) assert.equal(await can(kc, v, r), false, `${v} ${r}: read-only`);
    }
    assert.equal(await can(kc, 'create', 'chartrepositories.chartorigin.io'), true, 'discovery creates ChartRepositories');
    const off = uniqueNamespace('co-nogitops');
    const offRbac = await installRbac('conogo', off, ['flux.enabled=false', 'argocd.enabled=false']);
    assert.ok(offRbac.args.includes('--flux=false') && offRbac.args.includes('--discover-flux-sources=false') && offRbac.args.includes('--argocd=false'));
    const kcOff = await serviceAccountKubeconfig(cluster, off, offRbac.sa, { create: false });
    for (const r of ['helmreleases.helm.toolkit.fluxcd.io', 'helmrepositories.source.toolkit.fluxcd.io', 'ocirepositories.source.toolkit.fluxcd.io', 'applications.argoproj.io']) {
      assert.equal(await can(kcOff, 'list', r), false, `no list ${r} when off`);
    }
    assert.equal(await can(kcOff, 'create', 'chartrepositories.chartorigin.io'), false, 'no ChartRepository writes without discovery');
  });

  it('namespaced mode: no access outside the listed namespaces', async () => {
    const ns = uniqueNamespace('co-ns');
    const watched = uniqueNamespace('co-watched');
    const other = uniqueNamespace('co-other');
    await ensureNamespace(cluster, watched);
    await ensureNamespace(cluster, other);
    const { sa } = await installRbac('cons', ns, [`watchNamespaces={${watched}}`]);
    const kc = await serviceAccountKubeconfig(cluster, ns, sa, { create: false });
    assert.equal(await can(kc, 'list', 'secrets', watched), true);
    assert.equal(await can(kc, 'list', 'secrets', other), false);
    assert.equal(await can(kc, 'list', 'secrets'), false, 'no cluster-wide Secret access');
    assert.equal(await can(kc, 'create', 'chartorigins.chartorigin.io', other), false);
  });
});

/**
 * What we ship, against the real kube-apiserver of the shared harness: the chart's CRDs are installed for
 * real, then every feature set of the chart and every file of manifests/ goes through
 * `kubectl apply --dry-run=server` (schema, admission and Pod Security "restricted" of the namespace), and a
 * ChartRepository and a ChartOrigin round-trip to show the CRDs' defaults, validation, status subresource,
 * printer columns and `kubectl explain`.
 * ServiceMonitor and PrometheusRule are checked against stand-in CRDs that accept any spec (the Prometheus
 * operator's own CRDs are not vendored here): the API server checks their apiVersion, kind and metadata.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { FEATURE_SETS, helmTemplate, MANIFESTS_DIR, parseObjects, RELEASE_NAMESPACE } from '../../scripts/render-manifests.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { installCrds } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace, type TestEnv } from '../harness/env.ts';
import { toolPath } from '../harness/tools.ts';

let env: TestEnv;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl with stdout and stderr (Pod Security speaks in warnings on stderr); never throws. */
function kubectl(args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      toolPath('kubectl'),
      ['--kubeconfig', env.cluster.kubeconfig, ...args],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir() } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}
async function ok(args: readonly string[], input?: string): Promise<Run> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** Stand-ins for the Prometheus operator's CRDs: right group, kinds and scope; any spec. */
function monitoringCrd(kind: string, plural: string): string {
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
    },
  });
}

/** A namespace that enforces Pod Security "restricted", as manifests/install.yaml's does. */
async function restrictedNamespace(name: string): Promise<void> {
  await ensureNamespace(env.cluster, name);
  await ok(['label', '--overwrite', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
}

/** Dry-runs a rendering; returns the objects and kubectl's output. */
async function dryRun(yaml: string): Promise<{ objects: number; run: Run }> {
  const objects = parseObjects(yaml).length;
  const run = await kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], yaml);
  return { objects, run };
}

before(async () => {
  env = testEnv();
  await installCrds(env.cluster);
  for (const [kind, plural] of [['ServiceMonitor', 'servicemonitors'], ['PrometheusRule', 'prometheusrules']] as const) {
    await ok(['apply', '--server-side', '-f', '-'], monitoringCrd(kind, plural));
  }
  await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
});

describe('kubectl apply --dry-run=server of the chart', () => {
  for (const [name, args] of Object.entries(FEATURE_SETS)) {
    test(`feature set ${name}: every object accepted, Pod Security restricted holds`, async () => {
      const ns = uniqueNamespace('ship');
      await restrictedNamespace(ns);
      let extra: string[] = [];
      if (name === 'namespaced') {
        const watched = [uniqueNamespace('ship-a'), uniqueNamespace('ship-b')];
        for (const w of watched) await ensureNamespace(env.cluster, w);
        extra = ['--set', `watchNamespaces={${watched.join(',')}}`];
      }
      const yaml = helmTemplate([...args, ...extra], { namespace: ns });
      const { objects, run } = await dryRun(yaml);
      assert.equal(run.code, 0, `${name}: ${run.stderr}`);
      const lines = run.stdout.trim().split('\n').filter((l) => l.endsWith('(server dry run)'));
      assert.equal(lines.length, objects, `${name}: one "(server dry run)" line per object\n${run.stdout}`);
      assert.doesNotMatch(run.stderr, /would violate PodSecurity/, `${name}: ${run.stderr}`);
    });
  }

  test('the Pod Security check is live: a pod that may run as root is flagged in the same kind of namespace', async () => {
    const ns = uniqueNamespace('ship-psa');
    await restrictedNamespace(ns);
    const yaml = helmTemplate(['--set', 'podSecurityContext.runAsNonRoot=false', '--set', 'securityContext.runAsNonRoot=false', '--set', 'securityContext.capabilities=null'], { namespace: ns });
    const { run } = await dryRun(yaml);
    assert.match(run.stderr, /would violate PodSecurity "restricted:latest"/);
  });

  test('a typo in a rendered object is refused by strict server-side validation (the dry-run checks fields)', async () => {
    const ns = uniqueNamespace('ship-bad');
    await ensureNamespace(env.cluster, ns);
    const yaml = helmTemplate([], { namespace: ns }).replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecond:');
    const { run } = await dryRun(yaml);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /unknown field "spec.template.spec.terminationGracePeriodSecond"/);
  });
});

describe('kubectl apply --dry-run=server of manifests/', () => {
  test('install.yaml, alerts/prometheusrule.yaml and dashboard/grafana-dashboard.yaml are accepted as they are', async () => {
    await restrictedNamespace(RELEASE_NAMESPACE);
    for (const f of ['install.yaml', 'alerts/prometheusrule.yaml', 'dashboard/grafana-dashboard.yaml']) {
      const { objects, run } = await dryRun(readFileSync(join(MANIFESTS_DIR, f), 'utf8'));
      assert.equal(run.code, 0, `${f}: ${run.stderr}`);
      assert.equal(run.stdout.trim().split('\n').filter((l) => l.endsWith('(server dry run)')).length, objects, `${f}: ${run.stdout}`);
      assert.doesNotMatch(run.stderr, /would violate PodSecurity/);
    }
  });
});

describe('the CRDs on a real API server', () => {
  test('ChartRepository: defaults applied, bad url refused, status subresource, printer columns', async (t) => {
    const name = uniqueNamespace('ship-repo');
    // Cluster-scoped: controllers started by later test files would see it. The URL is a closed loopback port.
    t.after(async () => {
      await kubectl(['delete', 'chartrepository', name, '--ignore-not-found', '--wait=false']);
    });
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name }, spec: { url: 'https://127.0.0.1:1/charts' } }));
    const got = JSON.parse((await ok(['get', 'chartrepository', name, '-o', 'json'])).stdout) as { spec: Record<string, unknown> };
    assert.deepEqual(got.spec, { url: 'https://127.0.0.1:1/charts', interval: '1h', timeout: '60s', priority: 0, insecureSkipTLSVerify: false, plainHTTP: false, provider: 'generic', requireSignature: false });
    const bad = await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartRepository', metadata: { name: `${name}-bad` }, spec: { url: 'ftp://x', interval: 'soon' } }));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.url/);
    assert.match(bad.stderr, /spec\.interval/);
    const status = { conditions: [{ type: 'Ready', status: 'True', reason: 'Fetched', message: '12 charts', lastTransitionTime: '2026-01-01T00:00:00Z' }], charts: 12, lastFetched: '2026-01-01T00:00:00Z', observedGeneration: 1 };
    await ok(['patch', 'chartrepository', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    const after = JSON.parse((await ok(['get', 'chartrepo', name, '-o', 'json'])).stdout) as { status: unknown };
    assert.deepEqual(after.status, status);
    const table = (await ok(['get', 'chartrepo', name])).stdout.split('\n');
    assert.match(table[0] ?? '', /^NAME\s+URL\s+SOURCE\s+READY\s+CHARTS\s+LAST FETCHED\s+AGE$/);
    // Declared by hand: SOURCE (status.source.kind of a discovered repository) is empty.
    assert.match(table[1] ?? '', new RegExp(`^${name}\\s+https://127\\.0\\.0\\.1:1/charts\\s+True\\s+12\\s+`));
  });

  test('ChartOrigin: the full status survives the round trip (no pruning), spec is kept apart, printer columns, category helm', async (t) => {
    const ns = uniqueNamespace('ship-co');
    t.after(async () => {
      await kubectl(['delete', 'chartorigin', 'web', '-n', ns, '--ignore-not-found', '--wait=false']);
    });
    await ensureNamespace(env.cluster, ns);
    const digest = `sha256:${'b'.repeat(64)}`;
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'chartorigin.io/v1alpha1', kind: 'ChartOrigin', metadata: { name: 'web', namespace: ns }, spec: { versionConstraint: '~6.5' } }));
    const status = {
      release: { name: 'web', namespace: ns, revision: 2, status: 'deployed', firstDeployed: '2026-01-01T00:00:00Z', lastDeployed: '2026-01-02T00:00:00Z', storage: 'Secret' },
      chart: { name: 'podinfo', version: '6.5.0', appVersion: '6.5.0', deprecated: false },
      origin: {
        repoURL: 'https://stefanprodan.github.io/podinfo', tarballDigest: digest, repository: 'podinfo', match: 'Verified', message: 'content equal',
        candidates: [{ repository: 'podinfo', repoURL: 'https://stefanprodan.github.io/podinfo', tarballDigest: digest }],
        signature: { type: 'prov', verified: true, keyID: 'ABCDEF', signer: 'Stefan', message: 'good signature' },
        referrers: [{ artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest }],
      },
      latest: { version: '6.5.4', appVersion: '6.5.4', created: '2026-01-03T00:00:00Z', deprecated: false },
      sameMajor: { version: '6.5.4' },
      upgrade: 'Patch',
      versionsBehind: 4,
      lastChecked: '2026-01-04T00:00:00Z',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Resolved', message: 'ok', lastTransitionTime: '2026-01-04T00:00:00Z', observedGeneration: 1 }],
      observedGeneration: 1,
    };
    await ok(['patch', 'chartorigin', 'web', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    const got = JSON.parse((await ok(['get', 'co', 'web', '-n', ns, '-o', 'json'])).stdout) as { spec: unknown; status: unknown };
    assert.deepEqual(got.status, status);
    assert.deepEqual(got.spec, { versionConstraint: '~6.5', allowPrerelease: false });
    const bad = await kubectl(['patch', 'chartorigin', 'web', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { origin: { match: 'Probably' } } })]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unsupported value: "Probably"/);
    const table = (await ok(['get', 'chartorigins', '-n', ns])).stdout.split('\n');
    assert.match(table[0] ?? '', /^NAME\s+CHART\s+VERSION\s+LATEST\s+UPGRADE\s+MATCH\s+REPO\s+AGE$/);
    assert.match(table[1] ?? '', /^web\s+podinfo\s+6\.5\.0\s+6\.5\.4\s+Patch\s+Verified\s+podinfo\s+\S+$/);
    const helm = (await ok(['get', 'helm', '-n', ns, '-o', 'name'])).stdout;
    assert.match(helm, /chartorigin\.chartorigin\.io\/web/, '`kubectl get helm` lists ChartOrigins');
  });

  test('kubectl explain shows the field descriptions', async () => {
    let out = '';
    for (let i = 0; i < 30; i++) {
      const r = await kubectl(['explain', 'chartorigins.status.origin.match']);
      out = r.stdout;
      if (r.code === 0 && /Mismatch/.test(out)) break;
      await new Promise((res) => setTimeout(res, 1000)); // the API server publishes new OpenAPI a little later
    }
    assert.match(out, /DESCRIPTION:[\s\S]*a\s+security\s+signal/);
    const repo = await ok(['explain', 'chartrepositories.spec.keyringSecretRef']);
    assert.match(repo.stdout, /armored\s+OpenPGP\s+public\s+keys/);
  });
});

/**
 * charts/chartorigin with the pinned helm 3 and helm 4: lint for the default and every optional feature,
 * then properties of the rendered objects: pod hardening, least-privilege RBAC (and how it follows
 * writeBack, storage and namespaced mode), the alerts of product.md on the metrics the controller really
 * registers, the dashboard, the NetworkPolicy, ChartRepositories from values.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CHART_DIR, FEATURE_SETS, helmTemplate, parseObjects, RELEASE_NAMESPACE, type KubeObject } from '../../../scripts/render-manifests.ts';
import { CONTROLLER_USAGE } from '../../../src/cli/controller.ts';
import { REPO_ROOT, toolPath } from '../../harness/tools.ts';

type Rule = { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] };
type Container = {
  name: string;
  image: string;
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] }; seccompProfile?: { type: string } };
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = { serviceAccountName: string; securityContext: Record<string, unknown> & { seccompProfile?: { type: string } }; containers: Container[]; hostNetwork?: boolean; hostPID?: boolean };

const FEATURES = FEATURE_SETS;

function render(args: readonly string[], helm?: string): KubeObject[] {
  return parseObjects(helmTemplate(args, { helm }));
}
function only(objs: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''} (found ${found.length})`);
  return found[0] as KubeObject;
}
function podSpec(objs: readonly KubeObject[]): PodSpec {
  return (only(objs, 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}
function rulesOf(o: KubeObject): Rule[] {
  return (o as unknown as { rules: Rule[] }).rules;
}
/** Verbs granted on a resource by a set of rules. */
function verbs(rules: readonly Rule[], group: string, resource: string): Set<string> {
  const out = new Set<string>();
  for (const r of rules) if ((r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource)) for (const v of r.verbs) out.add(v);
  return out;
}
function roles(objs: readonly KubeObject[]): KubeObject[] {
  return objs.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
}
function lint(helm: 'helm3' | 'helm4', args: readonly string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(toolPath(helm), ['lint', '--strict', CHART_DIR, ...args], { encoding: 'utf8', stdio: 'pipe', env: { PATH: process.env['PATH'] ?? '', HOME: '/tmp' } }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const values = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
// The user-facing reference of the public names (it follows the product contract): in the repository, so a clone is self-contained.
const product = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
const metricsSource = readFileSync(join(REPO_ROOT, 'src', 'publish', 'metrics.ts'), 'utf8');

describe('helm lint', () => {
  for (const helm of ['helm3', 'helm4'] as const) {
    test(`${helm} lint --strict passes for the default and every optional feature`, () => {
      for (const [name, args] of Object.entries(FEATURES)) {
        const r = lint(helm, args);
        assert.ok(r.ok, `${helm} lint ${name}: ${r.out}`);
        assert.match(r.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    });
    test(`${helm} lint rejects values the schema does not allow`, () => {
      for (const args of [['--set', 'bogus=1'], ['--set', 'controller.writeBack=always'], ['--set', 'controller.storage={sql}'], ['--set', 'repositories[0].name=x'], ['--set', 'repositories[0].name=x', '--set', 'repositories[0].url=ftp://x'], ['--set', 'prometheusRule.alerts.HelmChartMajorVersionBehind.threshold=0']]) {
        const r = lint(helm, args);
        assert.equal(r.ok, false, `${helm} lint ${args.join(' ')} must fail`);
        assert.match(r.out, /schema/i);
      }
    });
  }
});

describe('helm template: default', () => {
  const objs = render([]);

  test('helm 3 and helm 4 render the same objects', () => {
    assert.deepEqual(render([], toolPath('helm4')), objs);
  });

  test('objects: ServiceAccount, RBAC, Service, Deployment; nothing optional', () => {
    const kinds = objs.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const o of objs) if (!o.kind.startsWith('Cluster')) assert.equal(o.metadata.namespace, RELEASE_NAMESPACE, `${o.kind} ${o.metadata.name} is in the release namespace`);
  });

  test('the pod is hardened: non-root, read-only root filesystem, no capabilities, seccomp RuntimeDefault (Pod Security "restricted")', () => {
    const pod = podSpec(objs);
    assert.equal(pod.securityContext['runAsNonRoot'], true);
    assert.ok(Number(pod.securityContext['runAsUser']) > 0, 'runAsUser is not root');
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
    assert.ok(!pod.hostNetwork && !pod.hostPID);
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0] as Container;
    assert.equal(c.securityContext['readOnlyRootFilesystem'], true);
    assert.equal(c.securityContext['allowPrivilegeEscalation'], false);
    assert.equal(c.securityContext['runAsNonRoot'], true);
    assert.notEqual(c.securityContext['privileged'], true);
    assert.deepEqual(c.securityContext.capabilities?.drop, ['ALL']);
    assert.equal(c.securityContext.capabilities?.add, undefined);
    assert.equal(c.securityContext.seccompProfile?.type, 'RuntimeDefault');
    assert.ok(c.resources.requests?.['cpu'] && c.resources.requests['memory'] && c.resources.limits?.['memory'], 'requests and a memory limit');
    assert.deepEqual(c.volumeMounts.map((m) => m.mountPath), ['/tmp'], 'only /tmp is writable');
  });

  test('the container runs `chartorigin controller` with flags the controller knows, POD_NAMESPACE, probes on the metrics port', () => {
    const c = podSpec(objs).containers[0] as Container;
    const chart = readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8');
    assert.equal(c.image, `ghcr.io/chartorigin/chartorigin:${/appVersion: "?([^"\n]+)/.exec(chart)?.[1]}`, 'image tag defaults to appVersion');
    assert.equal(c.args[0], 'controller');
    for (const a of c.args.slice(1)) {
      const flag = /^(--[a-z-]+)/.exec(a)?.[1];
      assert.ok(flag && (CONTROLLER_USAGE.includes(`${flag} `) || CONTROLLER_USAGE.includes(`${flag}=`)), `${a}: ${flag} is a flag of chartorigin controller`);
    }
    assert.ok(c.args.includes('--metrics-bind-address=:8080'));
    assert.ok(c.args.includes('--write-back=none'));
    assert.ok(c.args.includes('--leader-elect=true'));
    assert.ok(c.args.includes('--leader-election-id=chartorigin'));
    assert.ok(c.args.includes('--storage=secrets,configmaps'));
    assert.ok(!c.args.some((a) => a.startsWith('--namespaces')), 'all namespaces by default');
    assert.equal(c.env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    const svc = only(objs, 'Service') as unknown as { spec: { selector: Record<string, string>; ports: { targetPort: string; name: string }[] } };
    assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.targetPort]), [['metrics', 'metrics']]);
    const podLabels = (only(objs, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v, `Service selects the pod by ${k}`);
  });

  test('RBAC is least privilege: Helm objects read-only, ChartOrigins managed, ChartRepositories read + status, leases and credentials in its own namespace', () => {
    const cr = rulesOf(only(objs, 'ClusterRole'));
    for (const res of ['secrets', 'configmaps']) assert.deepEqual([...verbs(cr, '', res)].sort(), ['get', 'list', 'watch'], `${res}: read only without write-back`);
    assert.deepEqual([...verbs(cr, 'chartorigin.io', 'chartorigins')].sort(), ['create', 'delete', 'get', 'list', 'patch', 'watch']);
    assert.deepEqual([...verbs(cr, 'chartorigin.io', 'chartorigins/status')].sort(), ['get', 'patch', 'update']);
    assert.deepEqual([...verbs(cr, 'chartorigin.io', 'chartrepositories')].sort(), ['create', 'delete', 'get', 'list', 'patch', 'watch'], 'ChartRepositories are written only to keep those discovered from Flux');
    assert.deepEqual([...verbs(cr, 'chartorigin.io', 'chartrepositories/status')].sort(), ['get', 'patch', 'update']);
    assert.deepEqual([...verbs(cr, '', 'events')].sort(), ['create', 'patch']);
    const lease = rulesOf(only(objs, 'Role', 'chartorigin-leader-election'));
    assert.deepEqual(lease, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    const creds = rulesOf(only(objs, 'Role', 'chartorigin-credentials'));
    assert.deepEqual(creds, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
    const bindings = objs.filter((o) => o.kind.endsWith('Binding')) as unknown as { metadata: { name: string }; roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] }[];
    for (const b of bindings) {
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'chartorigin', namespace: RELEASE_NAMESPACE }]);
      assert.ok(objs.some((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name), `${b.metadata.name} refers to a rendered ${b.roleRef.kind}`);
    }
  });

  test('no rule anywhere grants wildcards, escalation or unrelated resources', () => {
    for (const features of Object.values(FEATURES)) {
      for (const role of roles(render(features))) {
        for (const r of rulesOf(role)) {
          for (const f of [r.apiGroups ?? [], r.resources ?? [], r.verbs]) assert.ok(!f.includes('*'), `${role.kind} ${role.metadata.name}: no *`);
          for (const v of ['escalate', 'bind', 'impersonate', 'deletecollection']) assert.ok(!r.verbs.includes(v), `${role.kind} ${role.metadata.name}: no ${v}`);
          for (const res of r.resources ?? []) assert.ok(['secrets', 'configmaps', 'events', 'leases', 'chartorigins', 'chartorigins/status', 'chartrepositories', 'chartrepositories/status', 'helmreleases', 'helmcharts', 'helmrepositories', 'ocirepositories', 'applications'].includes(res), `${res} is a resource the controller uses`);
        }
      }
    }
  });
});

describe('helm template: RBAC follows write-back, storage and namespaced mode', () => {
  test('writeBack=annotations (or release) grants patch/update on Helm release objects, nothing else changes', () => {
    for (const mode of ['annotations', 'release']) {
      const objs = render(['--set', `controller.writeBack=${mode}`]);
      const cr = rulesOf(only(objs, 'ClusterRole'));
      for (const res of ['secrets', 'configmaps']) assert.deepEqual([...verbs(cr, '', res)].sort(), ['get', 'list', 'patch', 'update', 'watch']);
      assert.ok((podSpec(objs).containers[0] as Container).args.includes(`--write-back=${mode}`));
    }
  });

  test('storage=[secrets] drops ConfigMaps entirely; storage=[configmaps] reads no Secrets cluster-wide', () => {
    const s = rulesOf(only(render(['--set', 'controller.storage={secrets}', '--set', 'controller.writeBack=release']), 'ClusterRole'));
    assert.deepEqual([...verbs(s, '', 'configmaps')], []);
    assert.deepEqual([...verbs(s, '', 'secrets')].sort(), ['get', 'list', 'patch', 'update', 'watch']);
    const objs = render(['--set', 'controller.storage={configmaps}']);
    assert.deepEqual([...verbs(rulesOf(only(objs, 'ClusterRole')), '', 'secrets')], []);
    assert.ok((podSpec(objs).containers[0] as Container).args.includes('--storage=configmaps'));
  });

  test('without write-back no role in any feature set can write a Secret or ConfigMap', () => {
    for (const [name, features] of Object.entries(FEATURES)) {
      if (name === 'writeBackAnnotations') continue;
      for (const role of roles(render(features))) {
        for (const res of ['secrets', 'configmaps']) {
          const w = [...verbs(rulesOf(role), '', res)].filter((v) => WRITE.includes(v));
          assert.deepEqual(w, [], `${name}: ${role.kind} ${role.metadata.name} writes ${res}`);
        }
      }
    }
  });

  test('namespaced mode: Roles in each listed namespace instead of a ClusterRole; only ChartRepositories stay cluster-wide', () => {
    const objs = render([...(FEATURES['namespaced'] ?? []), '--set', 'controller.writeBack=annotations']);
    const clusterRoles = objs.filter((o) => o.kind === 'ClusterRole');
    assert.equal(clusterRoles.length, 1);
    const cr = rulesOf(clusterRoles[0] as KubeObject);
    assert.deepEqual([...new Set(cr.flatMap((r) => r.resources ?? []))].sort(), ['applications', 'chartrepositories', 'chartrepositories/status', 'helmcharts', 'helmreleases', 'helmrepositories', 'ocirepositories']);
    for (const ns of ['team-a', 'team-b']) {
      const role = objs.find((o) => o.kind === 'Role' && o.metadata.namespace === ns);
      assert.ok(role, `a Role in ${ns}`);
      const rules = rulesOf(role);
      assert.deepEqual([...verbs(rules, '', 'secrets')].sort(), ['get', 'list', 'patch', 'update', 'watch']);
      assert.deepEqual([...verbs(rules, 'chartorigin.io', 'chartorigins')].sort(), ['create', 'delete', 'get', 'list', 'patch', 'watch']);
      const rb = objs.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === ns) as unknown as { roleRef: { kind: string; name: string }; subjects: { namespace: string }[] };
      assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
      assert.equal(rb.subjects[0]?.namespace, RELEASE_NAMESPACE, 'bound to the ServiceAccount in the release namespace');
    }
    assert.ok(!objs.some((o) => o.kind === 'Role' && o.metadata.namespace === RELEASE_NAMESPACE && verbs(rulesOf(o), '', 'secrets').has('list')), 'no list on Secrets in the release namespace unless it is watched');
    assert.ok((podSpec(objs).containers[0] as Container).args.includes('--namespaces=team-a,team-b'));
  });

  test('flux.enabled grants read-only access to Flux kinds, flux.discoverSources writes ChartRepositories; both off grant nothing', () => {
    const fluxRules = (objs: KubeObject[]) => rulesOf(only(objs, 'ClusterRole')).filter((r) => (r.apiGroups ?? []).some((g) => g.endsWith('.toolkit.fluxcd.io')));
    const on = render([]);
    assert.deepEqual(fluxRules(on).map((r) => [r.apiGroups, r.resources, r.verbs]), [
      [['helm.toolkit.fluxcd.io'], ['helmreleases'], ['get', 'list', 'watch']],
      [['source.toolkit.fluxcd.io'], ['helmcharts', 'helmrepositories', 'ocirepositories'], ['get', 'list', 'watch']],
    ]);
    const args = (podSpec(on).containers[0] as Container).args;
    assert.ok(args.includes('--flux=true') && args.includes('--discover-flux-sources=true'));
    const noDiscovery = render(['--set', 'flux.discoverSources=false']);
    assert.deepEqual([...verbs(rulesOf(only(noDiscovery, 'ClusterRole')), 'chartorigin.io', 'chartrepositories')].sort(), ['get', 'list', 'watch']);
    assert.ok((podSpec(noDiscovery).containers[0] as Container).args.includes('--discover-flux-sources=false'));
    const off = render(['--set', 'flux.enabled=false']);
    assert.deepEqual(fluxRules(off), []);
    assert.deepEqual([...verbs(rulesOf(only(off, 'ClusterRole')), 'chartorigin.io', 'chartrepositories')].sort(), ['get', 'list', 'watch']);
    assert.ok((podSpec(off).containers[0] as Container).args.includes('--flux=false'));
    assert.ok((podSpec(off).containers[0] as Container).args.includes('--discover-flux-sources=false'));
  });

  test('argocd.enabled grants read-only access to Applications; off grants nothing', () => {
    const argoRules = (objs: KubeObject[]) => rulesOf(only(objs, 'ClusterRole')).filter((r) => (r.apiGroups ?? []).includes('argoproj.io'));
    assert.deepEqual(argoRules(render([])).map((r) => [r.resources, r.verbs]), [[['applications'], ['get', 'list', 'watch']]]);
    const off = render(['--set', 'argocd.enabled=false']);
    assert.deepEqual(argoRules(off), []);
    assert.ok((podSpec(off).containers[0] as Container).args.includes('--argocd=false'));
  });

  test('leader election off: no Lease Role and --leader-elect=false', () => {
    const objs = render(['--set', 'controller.leaderElection.enabled=false']);
    assert.ok(!objs.some((o) => o.metadata.name.endsWith('-leader-election')));
    const args = (podSpec(objs).containers[0] as Container).args;
    assert.ok(args.includes('--leader-elect=false'));
    assert.ok(!args.some((a) => a.startsWith('--leader-election-id')));
  });

  test('credentialSecretNames narrows the credentials Role to those Secrets', () => {
    const objs = render(['--set', 'rbac.credentialSecretNames={repo-creds,repo-ca}']);
    assert.deepEqual(rulesOf(only(objs, 'Role', 'chartorigin-credentials')), [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['repo-creds', 'repo-ca'], verbs: ['get'] }]);
  });

  test('image by digest', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const c = podSpec(render(['--set', `image.digest=${digest}`, '--set', 'image.tag=1.2.3'])).containers[0] as Container;
    assert.equal(c.image, `ghcr.io/chartorigin/chartorigin:1.2.3@${digest}`);
  });
});

describe('helm template: monitoring', () => {
  const ALERTS = ['HelmChartOutdated', 'HelmChartMajorVersionBehind', 'HelmChartDeprecated', 'HelmChartSecurityUpdateAvailable', 'HelmChartUpstreamStale', 'HelmChartOriginMismatch', 'HelmChartSignatureInvalid', 'HelmChartOriginUnknown', 'ChartRepositoryDown', 'ChartOriginControllerDown'];
  /** HelmChartUpstreamStale is off by default (many stable charts release rarely on purpose). */
  const DEFAULT_ALERTS = ALERTS.filter((a) => a !== 'HelmChartUpstreamStale');
  type AlertRule = { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> };
  const alertRules = (args: readonly string[]): AlertRule[] =>
    (only(render([...FEATURES['prometheusRule'] ?? [], ...args]), 'PrometheusRule') as unknown as { spec: { groups: { rules: AlertRule[] }[] } }).spec.groups.flatMap((g) => g.rules);
  /** Metric names the controller registers (src/publish/metrics.ts) and the contract names (product.md). */
  const registered = new Set([...metricsSource.matchAll(/'(chartorigin_[a-z_]+)'/g)].map((m) => m[1] as string));

  test('the PrometheusRule ships exactly the alerts of product.md, on metrics the controller registers', () => {
    assert.deepEqual(alertRules([]).map((r) => r.alert), DEFAULT_ALERTS);
    const rules = alertRules(['--set', 'prometheusRule.alerts.HelmChartUpstreamStale.enabled=true']);
    assert.deepEqual(rules.map((r) => r.alert), ALERTS);
    for (const a of ALERTS) assert.ok(product.includes(`\`${a}\``), `${a} is documented in docs/operations.md`);
    for (const r of rules) {
      assert.ok(r.labels['severity'], `${r.alert} has a severity`);
      assert.match(r.for, /^\d+[smhd]$/);
      assert.ok(r.annotations['summary'] && r.annotations['description']);
      for (const m of r.expr.matchAll(/\bchartorigin_[a-z_]+/g)) {
        assert.ok(registered.has(m[0]), `${r.alert}: ${m[0]} is registered by src/publish/metrics.ts`);
        assert.ok(product.includes(m[0]), `${r.alert}: ${m[0]} is a contract metric`);
      }
    }
    const by = new Map(rules.map((r) => [r.alert, r.expr.replace(/\s+/g, ' ')]));
    // Identity: every release alert aggregates to namespace, release, chart (versions are not labels).
    const id = 'max by (namespace, release, chart)';
    assert.equal(by.get('HelmChartOutdated'), `${id} (chartorigin_release_outdated) == 1 and on (namespace, release, chart) ${id} (chartorigin_release_versions_behind) >= 1`);
    assert.equal(by.get('HelmChartMajorVersionBehind'), `${id} (chartorigin_release_major_versions_behind) >= 1`);
    assert.equal(by.get('HelmChartDeprecated'), `${id} (chartorigin_release_deprecated) == 1`);
    assert.equal(by.get('HelmChartSecurityUpdateAvailable'), `${id} (chartorigin_release_security_update_available) == 1`);
    assert.equal(by.get('HelmChartUpstreamStale'), `${id} (chartorigin_release_upstream_stale) == 1`);
    assert.equal(by.get('HelmChartOriginMismatch'), `${id} (chartorigin_release_info{match="Mismatch"}) == 1`);
    assert.equal(by.get('HelmChartSignatureInvalid'), `${id} (chartorigin_release_signature_verified{required="true"}) == 0`);
    assert.equal(by.get('HelmChartOriginUnknown'), `${id} (chartorigin_release_info{match=~"NotFound|Ambiguous"}) == 1`);
    assert.equal(by.get('ChartRepositoryDown'), 'max by (repository) (chartorigin_repository_up) == 0');
    // Only `job`: a plain scrape config has no namespace label (promtool tests cover each scrape set-up).
    assert.equal(by.get('ChartOriginControllerDown'), 'max by (job) (up{job="chartorigin"}) == 0 or absent(up{job="chartorigin"})');
    for (const r of rules) {
      for (const [k, v] of Object.entries(r.annotations)) assert.doesNotMatch(v, /\$labels\.(version|latest_version|match|reason|url)\b/, `${r.alert} ${k} reads versions and details by query, not from labels the expression drops`);
    }
  });

  test('the ServiceMonitor job label is what ChartOriginControllerDown watches', () => {
    const objs = render([...FEATURES['serviceMonitor'] ?? [], ...FEATURES['prometheusRule'] ?? []]);
    const sm = only(objs, 'ServiceMonitor') as unknown as { spec: { jobLabel?: string; selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[]; namespaceSelector: { matchNames: string[] } } };
    const svc = only(objs, 'Service');
    assert.equal(sm.spec.jobLabel, undefined, 'job = Service name');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels?.[k], v, `ServiceMonitor selects the Service by ${k}`);
    assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.path]), [['metrics', '/metrics']]);
    assert.deepEqual(sm.spec.namespaceSelector.matchNames, [RELEASE_NAMESPACE]);
    // The operator's target label `namespace` (the controller's) must not replace the release namespace.
    assert.deepEqual(sm.spec.endpoints.map((e) => (e as { honorLabels?: boolean }).honorLabels), [true]);
    const down = alertRules([]).find((r) => r.alert === 'ChartOriginControllerDown');
    assert.ok(down?.expr.includes(`job="${svc.metadata.name}"`));
  });

  test('thresholds, durations and severities are values; an alert can be turned off', () => {
    const rules = alertRules([
      '--set', 'prometheusRule.alerts.HelmChartMajorVersionBehind.threshold=2',
      '--set', 'prometheusRule.alerts.HelmChartOutdated.minVersionsBehind=3',
      '--set', 'prometheusRule.alerts.HelmChartOutdated.for=72h',
      '--set', 'prometheusRule.alerts.ChartRepositoryDown.severity=critical',
      '--set', 'prometheusRule.alerts.HelmChartDeprecated.enabled=false',
      '--set', 'prometheusRule.additionalAlertLabels.team=platform',
      '--set', 'prometheusRule.controllerJob=kubernetes-pods',
    ]);
    const by = new Map(rules.map((r) => [r.alert, r]));
    assert.equal(by.get('HelmChartMajorVersionBehind')?.expr, 'max by (namespace, release, chart) (chartorigin_release_major_versions_behind) >= 2');
    assert.match(by.get('HelmChartOutdated')?.expr ?? '', />= 3$/);
    assert.equal(by.get('HelmChartOutdated')?.for, '72h');
    assert.equal(by.get('ChartRepositoryDown')?.labels['severity'], 'critical');
    assert.equal(by.has('HelmChartDeprecated'), false);
    assert.ok(rules.every((r) => r.labels['team'] === 'platform'));
    assert.match(by.get('ChartOriginControllerDown')?.expr ?? '', /job="kubernetes-pods"/);
  });

  test('the default values document every alert threshold (values.yaml names each alert)', () => {
    assert.match(values, /^    HelmChartUpstreamStale:\n      enabled: false$/m);
    for (const a of ALERTS) assert.match(values, new RegExp(`^    ${a}:$`, 'm'));
  });

  test('the Grafana dashboard ConfigMap carries the sidecar label and queries only contract metrics', () => {
    const cm = only(render(FEATURES['dashboard'] ?? []), 'ConfigMap') as unknown as KubeObject & { data: Record<string, string> };
    assert.equal(cm.metadata.labels?.['grafana_dashboard'], '1');
    const json = cm.data['chartorigin.json'];
    assert.ok(json);
    const dash = JSON.parse(json) as { uid: string; panels: { title: string; targets: { expr: string }[] }[] };
    assert.equal(dash.uid, 'chartorigin');
    assert.ok(dash.panels.length >= 8);
    const used = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(p.targets.length > 0, `panel ${p.title} has a query`);
      for (const t of p.targets) for (const m of t.expr.matchAll(/\bchartorigin_[a-z_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''));
    }
    for (const m of used) assert.ok(registered.has(m) && product.includes(m), `dashboard metric ${m} is registered and in the contract`);
    for (const m of ['chartorigin_release_info', 'chartorigin_release_outdated', 'chartorigin_repository_up', 'chartorigin_reconcile_total']) assert.ok(used.has(m), `dashboard shows ${m}`);
    // A stat panel over an empty result says "No data"; these counts are 0 then (issue #17).
    for (const p of dash.panels as { type?: string; title: string; targets: { expr: string }[] }[]) {
      if (p.type === 'stat') for (const t of p.targets) assert.match(t.expr, / or vector\(0\)$/, `stat panel ${p.title} shows 0, not No data`);
    }
    for (const m of ['chartorigin_release_security_update_available', 'chartorigin_release_upstream_stale']) assert.ok(used.has(m), `dashboard shows ${m}`);
  });
});

describe('helm template: NetworkPolicy and ChartRepositories', () => {
  test('NetworkPolicy: ingress to the metrics port only from the configured peers; egress DNS, API server, repository ports', () => {
    const np = only(render(FEATURES['networkPolicy'] ?? []), 'NetworkPolicy') as unknown as {
      spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: unknown[]; ports: { port: string | number; protocol: string }[] }[]; egress: { to?: { ipBlock: { cidr: string } }[]; ports: { port: number; protocol: string }[] }[] };
    };
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(np.spec.podSelector.matchLabels['app.kubernetes.io/name'], 'chartorigin');
    assert.equal(np.spec.ingress.length, 1);
    assert.deepEqual(np.spec.ingress[0]?.ports, [{ port: 'metrics', protocol: 'TCP' }]);
    assert.deepEqual(np.spec.ingress[0]?.from, [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }]);
    const egress = np.spec.egress.map((e) => ({ to: e.to?.map((t) => t.ipBlock.cidr), ports: e.ports.map((p) => `${p.port}/${p.protocol}`) }));
    assert.deepEqual(egress, [
      { to: undefined, ports: ['53/UDP', '53/TCP'] },
      { to: ['10.0.0.1/32'], ports: ['443/TCP', '6443/TCP'] },
      { to: undefined, ports: ['443/TCP', '80/TCP', '5000/TCP'] },
    ]);
    const none = only(render([...FEATURES['networkPolicy'] ?? [], '--set', 'networkPolicy.metricsFrom=null']), 'NetworkPolicy') as unknown as { spec: { ingress: unknown[] } };
    assert.deepEqual(none.spec.ingress, [], 'no metricsFrom: no ingress at all');
  });

  test('repositories from values become cluster-scoped ChartRepository objects with exactly the given spec', () => {
    const repos = render(FEATURES['repositories'] ?? []).filter((o) => o.kind === 'ChartRepository') as unknown as (KubeObject & { spec: Record<string, unknown> })[];
    assert.deepEqual(repos.map((r) => [r.apiVersion, r.metadata.name, r.metadata.namespace]), [['chartorigin.io/v1alpha1', 'podinfo', undefined], ['chartorigin.io/v1alpha1', 'private', undefined]]);
    assert.deepEqual(repos[0]?.spec, { url: 'https://stefanprodan.github.io/podinfo' });
    assert.deepEqual(repos[1]?.spec, { url: 'oci://registry.example.com/charts', secretRef: { name: 'creds' }, interval: '30m' });
  });
});

describe('helm template: shards', () => {
  type Deployment = KubeObject & { spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
  const argOf = (d: Deployment, flag: string): string | undefined => {
    const a = (d.spec.template.spec.containers[0] as Container).args.find((x) => x.startsWith(`${flag}=`));
    return a?.slice(flag.length + 1);
  };

  test('shards=3: one Deployment per shard, each with its index, its own selector and the replicas of a shard', () => {
    const objs = render(FEATURES['sharded'] ?? []);
    const deployments = objs.filter((o) => o.kind === 'Deployment') as Deployment[];
    assert.deepEqual(deployments.map((d) => d.metadata.name), ['chartorigin-shard-0', 'chartorigin-shard-1', 'chartorigin-shard-2']);
    deployments.forEach((d, i) => {
      assert.equal(argOf(d, '--shards'), '3');
      assert.equal(argOf(d, '--shard-index'), String(i));
      assert.equal(argOf(d, '--leader-election-id'), 'chartorigin', 'the controller appends -shard-<i> to the Lease name itself');
      assert.equal(d.spec.replicas, 2);
      assert.equal(d.spec.selector.matchLabels['chartorigin.io/shard'], String(i));
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v, `pod label ${k} matches the selector`);
    });
    // The Service (metrics) selects the pods of every shard: one ServiceMonitor scrapes them all.
    const service = only(objs, 'Service') as unknown as { spec: { selector: Record<string, string> } };
    assert.equal(service.spec.selector['chartorigin.io/shard'], undefined);
    for (const d of deployments) for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(d.spec.template.metadata.labels[k], v);
  });

  test('shards=1 (default) renders the unsharded Deployment: same name, selector without a shard, no shard flags', () => {
    const d = only(render([]), 'Deployment') as Deployment;
    assert.equal(d.metadata.name, 'chartorigin');
    assert.equal(d.spec.selector.matchLabels['chartorigin.io/shard'], undefined);
    assert.equal(argOf(d, '--shards'), undefined);
    assert.equal(argOf(d, '--shard-index'), undefined);
  });

  test('the schema rejects shards=0', () => {
    assert.equal(lint('helm3', ['--set', 'shards=0']).ok, false);
  });
});

/**
 * The CRDs in charts/chartorigin/crds/ (the one copy; manifests/ and the e2e harness use it): names,
 * printer columns and fields as product.md promises, a description on every field for `kubectl explain`,
 * and a schema that keeps every status field the controller writes (a structural schema prunes the rest).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CRD_SOURCE_DIR, parseObjects } from '../../../scripts/render-manifests.ts';
import type { PublishedStatus } from '../../../src/publish/chart-origins.ts';
import { parseRepositorySpec } from '../../../src/sources/chart-repository.ts';
import { parseDuration } from '../../../src/util/duration.ts';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}
interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: { name: string; served: boolean; storage: boolean; subresources?: { status?: object }; additionalPrinterColumns: { name: string; type: string; jsonPath: string }[]; schema: { openAPIV3Schema: Schema } }[];
  };
}

function load(file: string): Crd {
  const objs = parseObjects(readFileSync(join(CRD_SOURCE_DIR, file), 'utf8'));
  assert.equal(objs.length, 1);
  const o = objs[0];
  assert.equal(o?.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(o?.kind, 'CustomResourceDefinition');
  return o as unknown as Crd;
}
function at(s: Schema, path: string): Schema {
  let cur: Schema | undefined = s;
  for (const p of path.split('.')) cur = p === '[]' ? cur?.items : cur?.properties?.[p];
  assert.ok(cur, `schema has ${path}`);
  return cur;
}
/** Paths of fields without a description (apiVersion/kind/metadata are described by Kubernetes itself). */
function undescribed(s: Schema, path = ''): string[] {
  const out: string[] = [];
  if (path && path !== 'metadata' && !s.description?.trim()) out.push(path);
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...undescribed(v, path ? `${path}.${k}` : k));
  if (s.items?.properties) for (const [k, v] of Object.entries(s.items.properties)) out.push(...undescribed(v, `${path}[].${k}`));
  return out;
}
/** Paths of a value that the schema would prune (not declared), i.e. that would never reach the API. */
function pruned(value: unknown, s: Schema, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => (s.items ? pruned(v, s.items, `${path}[${i}]`) : [`${path}[${i}]`]));
  if (value === null || typeof value !== 'object') return [];
  if (s['x-kubernetes-preserve-unknown-fields']) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const child = s.properties?.[k];
    if (!child) out.push(path ? `${path}.${k}` : k);
    else out.push(...pruned(v, child, path ? `${path}.${k}` : k));
  }
  return out;
}
function regex(p: string | undefined): RegExp {
  assert.ok(p);
  return new RegExp(p);
}

const origin = load('chartorigin.io_chartorigins.yaml');
const repo = load('chartorigin.io_chartrepositories.yaml');
const originSchema = origin.spec.versions[0]?.schema.openAPIV3Schema as Schema;
const repoSchema = repo.spec.versions[0]?.schema.openAPIV3Schema as Schema;

describe('ChartOrigin CRD', () => {
  test('names: chartorigins.chartorigin.io, namespaced, short name co, category helm, v1alpha1 with a status subresource', () => {
    assert.equal(origin.metadata.name, 'chartorigins.chartorigin.io');
    assert.equal(origin.spec.group, 'chartorigin.io');
    assert.equal(origin.spec.scope, 'Namespaced');
    assert.deepEqual(origin.spec.names, { kind: 'ChartOrigin', listKind: 'ChartOriginList', plural: 'chartorigins', singular: 'chartorigin', shortNames: ['co'], categories: ['helm'] });
    assert.equal(origin.spec.versions.length, 1);
    const v = origin.spec.versions[0];
    assert.deepEqual([v?.name, v?.served, v?.storage], ['v1alpha1', true, true]);
    assert.deepEqual(v?.subresources, { status: {} });
  });

  test('printer columns are exactly NAME, CHART, VERSION, LATEST, UPGRADE, MATCH, REPO, AGE', () => {
    const cols = origin.spec.versions[0]?.additionalPrinterColumns ?? [];
    assert.deepEqual(['NAME', ...cols.map((c) => c.name.toUpperCase())], ['NAME', 'CHART', 'VERSION', 'LATEST', 'UPGRADE', 'MATCH', 'REPO', 'AGE']);
    assert.deepEqual(cols.map((c) => c.jsonPath), ['.status.chart.name', '.status.chart.version', '.status.latest.version', '.status.upgrade', '.status.origin.match', '.status.origin.repository', '.metadata.creationTimestamp']);
    assert.equal(cols.at(-1)?.type, 'date');
    for (const c of cols) at(originSchema, c.jsonPath.slice(1).replace(/^metadata\..*/, 'metadata'));
  });

  test('status has exactly the fields of product.md', () => {
    const status = at(originSchema, 'status');
    assert.deepEqual(Object.keys(status.properties ?? {}).sort(), ['chart', 'conditions', 'lastChecked', 'latest', 'managedBy', 'observedGeneration', 'origin', 'release', 'sameMajor', 'upgrade', 'versionsBehind', 'upstreamStale'].sort());
    assert.deepEqual(at(status, 'managedBy').enum, ['Helm', 'Flux', 'ArgoCD']);
    assert.deepEqual(Object.keys(at(status, 'release').properties ?? {}), ['name', 'namespace', 'revision', 'status', 'firstDeployed', 'lastDeployed', 'storage']);
    assert.deepEqual(Object.keys(at(status, 'chart').properties ?? {}), ['name', 'version', 'appVersion', 'deprecated', 'deprecationMessage']);
    assert.deepEqual(Object.keys(at(status, 'origin').properties ?? {}), ['repoURL', 'tarballDigest', 'manifestDigest', 'repository', 'match', 'candidates', 'message', 'signature', 'referrers', 'referrersMessage', 'claim']);
    assert.deepEqual(Object.keys(at(status, 'origin.claim').properties ?? {}), ['field', 'repoURL', 'agrees']);
    assert.deepEqual(Object.keys(at(status, 'origin.signature').properties ?? {}), ['type', 'verified', 'reason', 'required', 'keyID', 'signer', 'message']);
    assert.deepEqual(Object.keys(at(status, 'origin.referrers.[]').properties ?? {}), ['kind', 'artifactType', 'digest', 'mediaType', 'source', 'verified']);
    assert.deepEqual(Object.keys(at(status, 'origin.candidates.[]').properties ?? {}), ['repository', 'repoURL', 'tarballDigest']);
    assert.deepEqual(Object.keys(at(status, 'latest').properties ?? {}), ['version', 'appVersion', 'created', 'deprecated', 'changes', 'securityUpdates', 'home']);
    assert.deepEqual(Object.keys(at(status, 'latest.changes.[]').properties ?? {}), ['kind', 'description', 'links']);
    assert.deepEqual(Object.keys(at(status, 'sameMajor').properties ?? {}), ['version']);
    assert.deepEqual(at(status, 'origin.match').enum, ['Verified', 'Unverified', 'Mismatch', 'Ambiguous', 'NotFound', 'Unreachable']);
    assert.deepEqual(at(status, 'upgrade').enum, ['None', 'Patch', 'Minor', 'Major']);
    assert.deepEqual(at(status, 'release.storage').enum, ['Secret', 'ConfigMap', 'Application']);
    assert.deepEqual(at(status, 'conditions.[]').required, ['type', 'status']);
  });

  test('spec: repository, versionConstraint, allowPrerelease (default false)', () => {
    const spec = at(originSchema, 'spec');
    assert.deepEqual(Object.keys(spec.properties ?? {}), ['repository', 'versionConstraint', 'allowPrerelease']);
    assert.equal(at(spec, 'allowPrerelease').default, false);
  });

  test('a fully populated status as the controller publishes it loses no field to pruning', () => {
    const t = '2026-01-01T00:00:00Z';
    const digest = `sha256:${'a'.repeat(64)}`;
    const status: Required<PublishedStatus> = {
      release: { name: 'web', namespace: 'apps', revision: 3, status: 'deployed', firstDeployed: t, lastDeployed: t, storage: 'Secret' },
      managedBy: 'Flux',
      chart: { name: 'podinfo', version: '6.5.0', appVersion: '6.5.0', deprecated: true, deprecationMessage: 'chart podinfo is deprecated upstream' },
      origin: { repoURL: 'oci://ghcr.io/stefanprodan/charts/podinfo', tarballDigest: digest, manifestDigest: digest, repository: 'podinfo', match: 'Verified', candidates: [{ repository: 'a', repoURL: 'https://a', tarballDigest: digest }], message: 'm', claim: { field: 'chart.metadata.repoURL', repoURL: 'https://a', agrees: false } },
      latest: { version: '6.7.0', appVersion: '6.7.0', created: t, deprecated: false, changes: [{ kind: 'fixed', description: 'd', links: [{ name: 'PR', url: 'https://example.com/pr/1' }] }], securityUpdates: true, home: 'https://example.com' },
      sameMajor: { version: '6.7.0' },
      upgrade: 'Minor',
      versionsBehind: 4,
      upstreamStale: false,
      lastChecked: t,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Resolved', message: 'ok', lastTransitionTime: t, observedGeneration: 1 }],
      observedGeneration: 1,
    };
    const withFuture = { ...status, origin: { ...status.origin, signature: { type: 'helm-prov', verified: true, reason: 'Verified', required: false, keyID: 'ABC', signer: 'me', message: 'ok' }, referrers: [{ kind: 'signature', artifactType: 'application/vnd.dev.sigstore.bundle+json', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', source: 'referrers-api' }], referrersMessage: 'm' } };
    assert.deepEqual(pruned(withFuture, at(originSchema, 'status')), []);
    assert.deepEqual(pruned({ ...status, surprise: 1 }, at(originSchema, 'status')), ['surprise'], 'the pruning check itself sees undeclared fields');
  });

  test('every field has a description (kubectl explain)', () => {
    assert.ok(originSchema.description && originSchema.description.length > 40);
    assert.deepEqual(undescribed(originSchema), []);
  });
});

describe('ChartRepository CRD', () => {
  test('names: chartrepositories.chartorigin.io, cluster-scoped, short name chartrepo, category helm, status subresource', () => {
    assert.equal(repo.metadata.name, 'chartrepositories.chartorigin.io');
    assert.equal(repo.spec.scope, 'Cluster');
    assert.deepEqual(repo.spec.names, { kind: 'ChartRepository', listKind: 'ChartRepositoryList', plural: 'chartrepositories', singular: 'chartrepository', shortNames: ['chartrepo'], categories: ['helm'] });
    assert.deepEqual(repo.spec.versions[0]?.subresources, { status: {} });
  });

  test('printer columns: URL, SOURCE, READY, CHARTS, LAST FETCHED, AGE', () => {
    const cols = repo.spec.versions[0]?.additionalPrinterColumns ?? [];
    assert.deepEqual(cols.map((c) => c.name.toUpperCase()), ['URL', 'SOURCE', 'READY', 'CHARTS', 'LAST FETCHED', 'AGE']);
    assert.deepEqual(cols.map((c) => c.jsonPath), ['.spec.url', '.status.source.kind', '.status.conditions[?(@.type=="Ready")].status', '.status.charts', '.status.lastFetched', '.metadata.creationTimestamp']);
  });

  test('spec fields, defaults and required url', () => {
    const spec = at(repoSchema, 'spec');
    assert.deepEqual(Object.keys(spec.properties ?? {}), ['url', 'interval', 'timeout', 'priority', 'secretRef', 'caSecretRef', 'insecureSkipTLSVerify', 'plainHTTP', 'provider', 'requireSignature', 'keyringSecretRef', 'cosignKeySecretRef', 'keyless']);
    assert.deepEqual(spec.required, ['url']);
    // Flux's enum (source-controller api/v1 OCIRepository and HelmRepository spec.provider), all of which the controller takes.
    assert.deepEqual(at(spec, 'provider').enum, ['generic', 'aws', 'azure', 'gcp']);
    assert.equal(at(spec, 'provider').default, 'generic');
    for (const p of ['generic', 'aws', 'azure', 'gcp']) {
      const url = { generic: 'oci://ghcr.io/x', aws: 'oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/x', azure: 'oci://r.azurecr.io/x', gcp: 'oci://gcr.io/x' }[p];
      assert.doesNotThrow(() => parseRepositorySpec({ url, provider: p }, 'ns'), p);
    }
    assert.equal(at(spec, 'interval').default, '1h');
    assert.equal(at(spec, 'timeout').default, '60s');
    assert.equal(at(spec, 'priority').default, 0);
    assert.equal(at(spec, 'requireSignature').default, false);
    for (const r of ['secretRef', 'caSecretRef', 'keyringSecretRef', 'cosignKeySecretRef']) {
      assert.deepEqual(Object.keys(at(spec, r).properties ?? {}), ['name', 'namespace']);
      assert.deepEqual(at(spec, r).required, ['name']);
    }
    assert.deepEqual(at(spec, 'keyless').required, ['matchOIDCIdentity']);
    assert.deepEqual(Object.keys(at(spec, 'keyless.matchOIDCIdentity.[]').properties ?? {}), ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp']);
    assert.deepEqual(Object.keys(at(spec, 'keyless.trustedRootSecretRef').properties ?? {}), ['name', 'namespace', 'key']);
    assert.deepEqual(Object.keys(at(repoSchema, 'status').properties ?? {}), ['conditions', 'charts', 'lastFetched', 'observedGeneration', 'source']);
  });

  test('the url and interval patterns accept exactly what the controller accepts', () => {
    const url = regex(at(repoSchema, 'spec.url').pattern);
    const interval = regex(at(repoSchema, 'spec.interval').pattern);
    const controllerTakes = (spec: object): boolean => {
      try {
        parseRepositorySpec(spec, 'ns');
        return true;
      } catch {
        return false;
      }
    };
    for (const u of ['https://charts.example.com', 'http://127.0.0.1:8080/charts', 'oci://ghcr.io/org/charts', 'ftp://x', 'https://', 'oci:/x', 'ghcr.io/org', ' https://x']) {
      assert.equal(url.test(u), controllerTakes({ url: u }), `url ${JSON.stringify(u)}`);
    }
    for (const d of ['1h', '30m', '1h30m', '90s', '500ms', '1.5h', '1d', 'h', '', '10', '-1h']) {
      assert.equal(interval.test(d), parseDuration(d) !== undefined, `interval ${JSON.stringify(d)}`);
    }
    // timeout: the schema takes any duration; the controller also bounds it (1s to 10m) and says so in Ready.
    const timeout = regex(at(repoSchema, 'spec.timeout').pattern);
    for (const d of ['1s', '30s', '2m', '10m', '1m30s']) assert.ok(timeout.test(d) && controllerTakes({ url: 'https://x', timeout: d }), `timeout ${d}`);
    for (const d of ['soon', '', '10']) assert.ok(!timeout.test(d) && !controllerTakes({ url: 'https://x', timeout: d }), `timeout ${JSON.stringify(d)}`);
    for (const d of ['500ms', '11m', '1h']) {
      assert.ok(timeout.test(d), `timeout ${d} passes the schema`);
      assert.throws(() => parseRepositorySpec({ url: 'https://x', timeout: d }, 'ns'), new RegExp(`spec\\.timeout: "${d}" must be between 1s and 10m`));
    }
  });

  test('every field has a description (kubectl explain)', () => {
    assert.deepEqual(undescribed(repoSchema), []);
  });
});

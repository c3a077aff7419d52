/**
 * When a release's owner must come from a list of HelmReleases that began after it was deployed
 * (fluxListNeeded), and how the controller's FluxOwners serves every release waiting with one list — against a
 * loopback API server that counts the lists it answers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { readFileSync } from 'node:fs';
import { deployedAtOf, FLUX_LIST_SKEW_MS, fluxListNeeded, fluxOwnershipCandidate } from '../../../../src/sources/discovery/flux.ts';
import { decodeStoredRelease } from '../../../../src/decode/decode.ts';
import { listReleasePages } from '../../../../src/watch/list-releases.ts';
import { decodeCurrentReleases } from '../../../../src/watch/decode-current.ts';
import type { ReleaseRecord, StoredReleaseObject } from '../../../../src/model/release.ts';
import { FIXTURES } from '../../helpers.ts';
import { FluxOwners } from '../../../../src/controller/flux-owners.ts';
import { kubeConfigFromText } from '../../../../src/kube/kubeconfig.ts';
import { manifestHasObject } from '../../../../src/decode/flux-owner.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const MIN = 60_000;

describe('fluxListNeeded: which HelmReleases decide who owns a release', () => {
  const listed = { startedAt: NOW - 10 * MIN, visible: true };
  const hooksOnly = (deployedAt: number | undefined): { manifestObjects: boolean; deployedAt: number | undefined } => ({ manifestObjects: false, deployedAt });

  it('no object in the manifest, deployed after the last list began: only a list begun a minute after the deploy, or now if that is sooner', () => {
    assert.equal(fluxListNeeded(hooksOnly(NOW - 5 * MIN), listed, NOW), NOW - 5 * MIN + FLUX_LIST_SKEW_MS);
    assert.equal(fluxListNeeded(hooksOnly(NOW - 5_000), listed, NOW), NOW, 'a list started now sees every HelmRelease there is');
    assert.equal(fluxListNeeded(hooksOnly(NOW + 5 * MIN), listed, NOW), NOW, 'a deploy stamped in the future: now');
  });

  it('deployed a minute or more before the last list began: that list decides (a controller restart lists nothing more for old releases)', () => {
    assert.equal(fluxListNeeded(hooksOnly(listed.startedAt - FLUX_LIST_SKEW_MS), listed, NOW), undefined);
    assert.equal(fluxListNeeded(hooksOnly(listed.startedAt - 30 * 24 * 60 * MIN), listed, NOW), undefined);
    // Within the minute the clocks may disagree by: not proven older than the list.
    assert.equal(fluxListNeeded(hooksOnly(listed.startedAt - 30_000), listed, NOW), listed.startedAt + 30_000);
  });

  it('a deploy time not known, or no list completed yet: a list begun now', () => {
    assert.equal(fluxListNeeded(hooksOnly(undefined), listed, NOW), NOW);
    assert.equal(fluxListNeeded(hooksOnly(NOW - 30 * 24 * 60 * MIN), undefined, NOW), NOW - 30 * 24 * 60 * MIN + FLUX_LIST_SKEW_MS);
    assert.equal(fluxListNeeded({ deployedAt: NOW - 5 * MIN }, listed, NOW), NOW - 4 * MIN, 'whether the manifest holds an object is not known');
  });

  it('never waits: origin labels name the owner; an object in the manifest without them (plain Helm\'s); the last list saw no HelmRelease API or was forbidden', () => {
    assert.equal(fluxListNeeded({ flux: { namespace: 'apps', name: 'web' }, manifestObjects: true, deployedAt: NOW }, listed, NOW), undefined);
    assert.equal(fluxListNeeded({ manifestObjects: true, deployedAt: NOW }, listed, NOW), undefined);
    assert.equal(fluxListNeeded({ manifestObjects: true, deployedAt: NOW }, undefined, NOW), undefined);
    assert.equal(fluxListNeeded(hooksOnly(NOW), { ...listed, visible: false }, NOW), undefined);
  });

  it('everyLabelless (before a write into the release): objects or not, whatever the last list saw; labels still decide', () => {
    assert.equal(fluxListNeeded({ manifestObjects: true, deployedAt: NOW - 5 * MIN }, listed, NOW, { everyLabelless: true }), NOW - 4 * MIN);
    assert.equal(fluxListNeeded(hooksOnly(NOW), { ...listed, visible: false }, NOW, { everyLabelless: true }), NOW);
    assert.equal(fluxListNeeded({ manifestObjects: true, deployedAt: listed.startedAt - 2 * MIN }, listed, NOW, { everyLabelless: true }), undefined);
    assert.equal(fluxListNeeded({ flux: { namespace: 'apps', name: 'web' }, deployedAt: NOW }, listed, NOW, { everyLabelless: true }), undefined);
  });

  it('deployedAtOf: the later of info.last_deployed and the object\'s creation; unparsable and absent ones left out', () => {
    assert.equal(deployedAtOf('2026-12-01T11:00:00.5Z', '2026-12-01T11:00:01Z'), Date.parse('2026-12-01T11:00:01Z'));
    assert.equal(deployedAtOf('2026-12-01T11:00:02Z', undefined, 'garbage'), Date.parse('2026-12-01T11:00:02Z'));
    assert.equal(deployedAtOf(undefined, ''), undefined);
  });
});

describe('fluxOwnershipCandidate: the deploy time `scan` and the controller read alike', () => {
  // A Secret real helm 3 wrote (test/fixtures/releases), as the API server returns it; its creation is set five
  // minutes after info.last_deployed: the helm client's clock lagged the API server's.
  const captured = JSON.parse(readFileSync(`${FIXTURES}releases/helm3-secret-installed-upgraded-web.v2.json`, 'utf8')) as StoredReleaseObject & { metadata: Record<string, unknown> };
  const lastDeployed = decodeStoredRelease(captured).release.lastDeployed ?? '';
  const created = new Date(Date.parse(lastDeployed) + 5 * MIN).toISOString().replace(/\.\d+Z$/, 'Z');
  const secret = { ...captured, metadata: { ...captured.metadata, creationTimestamp: created } };

  it('the later of info.last_deployed and the Secret\'s creation, from scan\'s list (a loopback API server) and from the controller\'s read alike', async () => {
    const api = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(path.endsWith('/secrets') ? { kind: 'SecretList', metadata: {}, items: [secret] } : { kind: 'ConfigMapList', metadata: {}, items: [] }));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
      const kc = kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
      const seen: ReleaseRecord[] = [];
      const { records } = await decodeCurrentReleases(listReleasePages(kc, { namespace: 'fixtures', storage: { secrets: true, configMaps: true } }), (r) => seen.push(r));
      assert.equal(records.length, 1);
      const scanned = records[0] as ReleaseRecord;
      assert.equal(scanned.storedAt, created, 'scan\'s list keeps the creation time');
      // The controller's read (reconciler #read): the object with its creationTimestamp, a Date from client-node's types too.
      const reconciled = decodeStoredRelease({ kind: 'Secret', type: secret.type, metadata: { name: 'sh.helm.release.v1.web.v2', namespace: 'fixtures', creationTimestamp: created }, data: secret.data });
      const typed = decodeStoredRelease({ kind: 'Secret', type: secret.type, metadata: { name: 'sh.helm.release.v1.web.v2', namespace: 'fixtures', creationTimestamp: new Date(created) }, data: secret.data });
      const expected = { flux: undefined, manifestObjects: true, deployedAt: Date.parse(created) };
      assert.deepEqual(fluxOwnershipCandidate(scanned), expected);
      assert.deepEqual(fluxOwnershipCandidate(reconciled), expected);
      assert.equal(fluxOwnershipCandidate(typed).deployedAt, Date.parse(created));
      // What it decides: a hooks-only release whose HelmReleases were listed between the two times waits for a
      // list begun after its Secret was created (with info.last_deployed alone, scan took that list as enough).
      const listed = { startedAt: Date.parse(lastDeployed) + 3 * MIN, visible: true };
      const hooksOnly = { ...scanned, manifestObjects: false };
      const now = Date.parse(created) + 10 * MIN;
      assert.equal(fluxListNeeded(fluxOwnershipCandidate(hooksOnly), listed, now), Date.parse(created) + FLUX_LIST_SKEW_MS);
      assert.equal(fluxListNeeded({ manifestObjects: false, deployedAt: deployedAtOf(lastDeployed) }, listed, now), undefined, 'info.last_deployed alone');
      // A creation before the deploy (a clock ahead): info.last_deployed, the later one.
      assert.equal(fluxOwnershipCandidate({ ...scanned, storedAt: '2020-01-01T00:00:00Z' }).deployedAt, Date.parse(lastDeployed));
      assert.equal(fluxOwnershipCandidate({ ...scanned, storedAt: undefined }).deployedAt, Date.parse(lastDeployed));
    } finally {
      api.close();
    }
  });
});

describe('manifestHasObject: a rendered object, or only what Helm writes around none', () => {
  it('Helm\'s `# Source:` headers, blank lines, comments and document markers are no object', () => {
    assert.equal(manifestHasObject(undefined), false);
    assert.equal(manifestHasObject(''), false);
    assert.equal(manifestHasObject('---\n# Source: hookapp/templates/notes.yaml\n# rendered to a comment only\n\n'), false);
    assert.equal(manifestHasObject('---\r\n# Source: x\r\n   \r\n--- # end\r\n...\r\n'), false);
  });
  it('any other line is an object (YAML or JSON, after a document marker on its line too)', () => {
    assert.equal(manifestHasObject('---\n# Source: a/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n'), true);
    assert.equal(manifestHasObject('---\n# Source: a/templates/cm.json\n{"apiVersion":"v1","kind":"ConfigMap"}\n'), true);
    assert.equal(manifestHasObject('--- {apiVersion: v1, kind: ConfigMap}\n'), true);
    assert.equal(manifestHasObject('  # indented comment\n  kind: x\n'), true);
  });
  // Manifests as real helm stored or rendered them (helm 3.22.0 `helm get manifest` of releases installed with a
  // --post-renderer printing the text; helm 3.22.0 and 4.3.2 `helm template` of a chart with such templates).
  it('a directive line is no object: a release helm 3.22.0 installed and stored with `%YAML 1.1` or `%TAG` and nothing else', () => {
    assert.equal(manifestHasObject('---\n# Source: c/templates/cm.yaml\n%YAML 1.1\n\n'), false);
    assert.equal(manifestHasObject('---\n# Source: c/templates/cm.yaml\n%TAG ! tag:example.com,2000:\n\n'), false);
    assert.equal(manifestHasObject('--- %YAML 1.1\n'), false, 'after a separator on its line');
    assert.equal(manifestHasObject('%YAML 1.1\n---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n'), true);
  });
  it('separators as Helm\'s SplitManifests cuts them; document markers and space Helm trims hold no object', () => {
    // helm 3.22.0 stored these as they are: a separator with a comment, and a document end marker.
    assert.equal(manifestHasObject('--- # hello\n\n'), false);
    assert.equal(manifestHasObject('---\n# Source: c/templates/cm.yaml\n...\n\n'), false);
    // helm template of `a: 1\n---\n  ---\n` and of a comment-only template: the indented `---` opened a
    // document and was trimmed to a document start; the object is `a: 1`.
    const rendered = '---\n# Source: gapchart/templates/comment.yaml\n# only a comment\n---\n# Source: gapchart/templates/multi.yaml\na: 1\n---\n# Source: gapchart/templates/multi.yaml\n---\n';
    assert.equal(manifestHasObject(rendered), true);
    assert.equal(manifestHasObject(rendered.replace('a: 1\n', '')), false);
    // An indented marker (which Helm trims before a document, and refuses anywhere else), a separator followed by
    // a document start (`------`), space Go's unicode.IsSpace counts (NBSP, U+2028): no object.
    assert.equal(manifestHasObject('---\n# Source: x\n  ---\n   ...  # end\n------\n--- \u00a0---\n\u00a0\u2028\n'), false);
    // A separator is `---` at the start of a line only: `----` leaves `-` (content), `---x` leaves `x`.
    assert.equal(manifestHasObject('----\n'), true);
    assert.equal(manifestHasObject('# c\n---kind: x\n'), true);
    // Lines start after `\n` only (Go's (?m)^): `\r` alone does not start one, so `---` after it is content.
    assert.equal(manifestHasObject('# c\r---\n'), false, 'one comment line');
    assert.equal(manifestHasObject('# c\u2028kind: x\n'), false, 'one comment line');
  });
  it('stays one linear pass on a separator followed by much space', () => {
    const t = Date.now();
    assert.equal(manifestHasObject(`---${' '.repeat(200_000)}# c\n${'  \t'.repeat(100_000)}\n`), false);
    assert.ok(Date.now() - t < 1000, `${Date.now() - t} ms`);
  });
});

describe('FluxOwners.ownerFor: one list serves every release waiting', () => {
  let lists = 0;
  let discoveries = 0;
  let served = true;
  let status = 200;
  let items: unknown[] = [];
  /** Each list answers after this long, so that callers pile up behind it. */
  let delayMs = 50;
  let api: Server;
  before(async () => {
    api = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path === '/apis/helm.toolkit.fluxcd.io') {
        discoveries++;
        res.writeHead(served ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(served ? { kind: 'APIGroup', versions: [{ groupVersion: 'helm.toolkit.fluxcd.io/v2', version: 'v2' }] } : { kind: 'Status', code: 404 }));
        return;
      }
      lists++;
      const snapshot = items;
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status === 200 ? { kind: 'HelmReleaseList', metadata: {}, items: snapshot } : { kind: 'Status', status: 'Failure', code: status }));
      }, delayMs);
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  });
  after(() => api.close());
  const owners = (): FluxOwners =>
    new FluxOwners({
      kubeConfig: kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(api.address() as AddressInfo).port}` } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config'),
      logger: pino({ level: 'silent' }),
      changed: () => undefined,
    });
  const hr = (name: string): unknown => ({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { namespace: 'apps', name }, spec: { interval: '10m', chart: { spec: { chart: name, sourceRef: { kind: 'HelmRepository', name: 'charts' } } } } });

  it('a HelmRelease applied after the last list, its hooks-only release deployed now: the owner comes from a new list, one for 200 such releases at once', async () => {
    served = true;
    status = 200;
    items = [];
    const o = owners();
    await o.refresh(performance.now());
    assert.equal(lists, 1);
    items = [hr('hooks')];
    const deployedAt = Date.now();
    const now = Date.now();
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => o.ownerFor(i === 0 ? 'apps/hooks' : `apps/other-${i}`, { manifestObjects: false, deployedAt }, now)));
    assert.deepEqual(got[0], { namespace: 'apps', name: 'hooks' });
    assert.equal(lists, 2, 'one list for all of them');
    // Decided again at once (a requeue): that list began late enough.
    assert.deepEqual(await o.ownerFor('apps/hooks', { manifestObjects: false, deployedAt }, now), { namespace: 'apps', name: 'hooks' });
    assert.equal(lists, 2);
  });

  it('a release with an object and no label, or with labels, never lists: 10,000 plain Helm releases deployed after the last list cost nothing', async () => {
    items = [];
    const o = owners();
    await o.refresh(performance.now());
    const before = lists;
    const now = Date.now();
    for (let i = 0; i < 10_000; i++) assert.equal(await o.ownerFor(`apps/plain-${i}`, { manifestObjects: true, deployedAt: now }, now), undefined);
    assert.equal(await o.ownerFor('apps/labelled', { flux: { namespace: 'apps', name: 'x' }, manifestObjects: true, deployedAt: now }, now), undefined);
    assert.equal(lists, before);
  });

  it('a list in flight that began late enough is shared; one that began before the deploy is waited for, then one more list serves everyone behind it', async () => {
    items = [];
    delayMs = 200;
    const o = owners();
    await o.refresh(performance.now());
    const before = lists;
    const early = o.refresh(performance.now()); // a periodic list, begun before the HelmRelease is applied
    await new Promise((r) => setTimeout(r, 20));
    items = [hr('late')];
    const deployedAt = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    const now = Date.now();
    const waiting = Array.from({ length: 50 }, () => o.ownerFor('apps/late', { manifestObjects: false, deployedAt }, now));
    await early;
    assert.ok((await Promise.all(waiting)).every((w) => w?.name === 'late'), 'not decided by the list that began before the deploy');
    assert.equal(lists - before, 2, 'the early list and one more');
    delayMs = 50;
  });

  it('the HelmRelease API not served, or the list forbidden everywhere, at the last list: no list for a hooks-only release (nothing to see)', async () => {
    served = false;
    const o = owners();
    await o.refresh(performance.now());
    const [l0, d0] = [lists, discoveries];
    assert.equal(await o.ownerFor('apps/hooks', { manifestObjects: false, deployedAt: Date.now() }, Date.now()), undefined);
    assert.deepEqual([lists, discoveries], [l0, d0], 'not even the discovery request');
    // Before a write into it, the release is checked all the same (one discovery request here).
    assert.equal(await o.ownerFor('apps/hooks', { manifestObjects: false, deployedAt: Date.now() }, Date.now(), { everyLabelless: true }), undefined);
    assert.equal(discoveries, d0 + 1);
    served = true;
    status = 403;
    const f = owners();
    await f.refresh(performance.now());
    const l1 = lists;
    assert.equal(await f.ownerFor('apps/hooks', { manifestObjects: false, deployedAt: Date.now() }, Date.now()), undefined);
    assert.equal(lists, l1);
    status = 200;
  });

  it('a list that fails otherwise fails the decision (the reconcile retries with back-off): nothing is published blind', async () => {
    const o = owners();
    await o.refresh(performance.now());
    status = 500;
    await assert.rejects(o.ownerFor('apps/hooks', { manifestObjects: false, deployedAt: Date.now() }, Date.now()));
    status = 200;
  });
});

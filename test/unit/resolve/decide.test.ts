import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideOrigin, type CandidateEvidence } from '../../../src/resolve/decide.ts';
import { servesSource } from '../../../src/resolve/source-url.ts';
import type { FluxSourceHint } from '../../../src/chart/flux-build.ts';

const c = (repository: string, differences: string[] | undefined, priority = 0): CandidateEvidence => ({
  repository,
  repoURL: `https://${repository}.example/charts`,
  priority,
  tarballDigest: `sha256:${repository.padEnd(64, '0')}`,
  differences,
  notCompared: differences === undefined ? 'download failed' : undefined,
});

describe('decideOrigin', () => {
  it('NotFound when nobody publishes it; Unreachable, naming them, when some repository could not be searched', () => {
    assert.equal(decideOrigin([]).match, 'NotFound');
    const down = decideOrigin([], ['down']);
    assert.equal(down.match, 'Unreachable', 'an unreachable repository is no evidence that the chart is unpublished');
    assert.match(down.message ?? '', /not searched \(repository error\): down/);
  });

  it('Verified when content equals exactly one candidate, even if a fork has the same name+version', () => {
    const o = decideOrigin([c('fork', ['templates/deployment.yaml']), c('main', [])]);
    assert.equal(o.match, 'Verified');
    assert.equal(o.repository, 'main');
    assert.equal(o.repoURL, 'https://main.example/charts');
    assert.equal(o.candidates?.length, 2);
  });

  it('content beats priority', () => {
    const o = decideOrigin([c('fork', ['values'], 100), c('main', [], 0)]);
    assert.equal(o.repository, 'main');
  });

  it('identical mirrors: priority breaks the tie, else Ambiguous', () => {
    assert.equal(decideOrigin([c('a', [], 1), c('b', [], 0)]).repository, 'a');
    const amb = decideOrigin([c('a', []), c('b', [])]);
    assert.equal(amb.match, 'Ambiguous');
    assert.equal(amb.repository, undefined);
  });

  it('Mismatch when every candidate differs, naming the parts', () => {
    const o = decideOrigin([c('main', ['templates/deployment.yaml'])]);
    assert.equal(o.match, 'Mismatch');
    assert.equal(o.repository, 'main');
    assert.match(o.message ?? '', /templates\/deployment\.yaml/);
  });

  it('Unverified when one uncompared candidate remains, Ambiguous when several', () => {
    assert.equal(decideOrigin([c('main', undefined)]).match, 'Unverified');
    const one = decideOrigin([c('main', undefined), c('fork', ['values'])]);
    assert.equal(one.match, 'Unverified');
    assert.equal(one.repository, 'main');
    assert.equal(decideOrigin([c('a', undefined), c('b', undefined)]).match, 'Ambiguous');
    assert.equal(decideOrigin([c('a', undefined, 5), c('b', undefined)]).repository, 'a');
  });

  describe('the HelmRelease\'s Flux source among repositories serving the same content', () => {
    // The same chart over HTTP and OCI (podinfo's https://stefanprodan.github.io/podinfo and oci://ghcr.io/stefanprodan/charts/podinfo).
    const http: CandidateEvidence = { repository: 'flux-apps-podinfo', repoURL: 'https://stefanprodan.github.io/podinfo', priority: 0, tarballDigest: `sha256:${'a'.repeat(64)}`, differences: [] };
    const oci: CandidateEvidence = { repository: 'flux-apps-podinfo-oci', repoURL: 'oci://ghcr.io/stefanprodan/charts/podinfo', priority: 0, tarballDigest: `sha256:${'a'.repeat(64)}`, manifestDigest: `sha256:${'b'.repeat(64)}`, differences: [] };
    const via = "HelmRelease apps/podinfo's sourceRef";
    const helmRepo = (url: string | undefined): FluxSourceHint => ({ kind: 'HelmRepository', namespace: 'apps', name: 'podinfo', url, via });

    it('the declared source picks the one repository: Verified with its repoURL and digests, every candidate still listed', () => {
      for (const [source, want] of [
        [helmRepo('https://stefanprodan.github.io/podinfo/'), http],
        [helmRepo('oci://ghcr.io/stefanprodan/charts'), oci],
        [{ kind: 'OCIRepository', namespace: 'apps', name: 'podinfo', url: 'oci://ghcr.io/stefanprodan/charts/podinfo', via: "HelmRelease apps/podinfo's chartRef" }, oci],
      ] as const) {
        const o = decideOrigin([http, oci], [], source);
        assert.equal(o.match, 'Verified', source.url);
        assert.equal(o.repository, want.repository);
        assert.equal(o.repoURL, want.repoURL);
        assert.equal(o.tarballDigest, want.tarballDigest);
        assert.equal(o.manifestDigest, want.manifestDigest);
        assert.deepEqual(o.candidates?.map((x) => x.repository), ['flux-apps-podinfo', 'flux-apps-podinfo-oci']);
        assert.equal(o.message, `identical to the published chart; chosen among flux-apps-podinfo, flux-apps-podinfo-oci by ${source.via} ${source.kind} apps/podinfo`);
      }
    });

    it('ahead of priority, which is a preference between repositories, not where this release came from', () => {
      const o = decideOrigin([{ ...http, priority: 10 }, oci], [], helmRepo('oci://ghcr.io/stefanprodan/charts'));
      assert.equal(o.repository, oci.repository);
    });

    it('a declared source that is none of the equal repositories (another URL, unreadable, a GitRepository) leaves it Ambiguous, saying why', () => {
      const other = decideOrigin([http, oci], [], helmRepo('https://mirror.example/podinfo'));
      assert.equal(other.match, 'Ambiguous');
      assert.equal(other.repository, undefined);
      assert.equal(other.message, "identical chart served by flux-apps-podinfo, flux-apps-podinfo-oci with equal priority; HelmRelease apps/podinfo's sourceRef HelmRepository apps/podinfo (https://mirror.example/podinfo) is none of them");
      assert.match(decideOrigin([http, oci], [], helmRepo(undefined)).message ?? '', /HelmRepository apps\/podinfo could not be read, so its URL picks none of them$/);
      const git = decideOrigin([http, oci], [], { kind: 'GitRepository', namespace: 'apps', name: 'repo', via });
      assert.equal(git.match, 'Ambiguous');
      assert.match(git.message ?? '', /GitRepository apps\/repo is no chart repository/);
    });

    it('without a HelmRelease (a Helm release, or one not readable): Ambiguous as before', () => {
      const o = decideOrigin([http, oci]);
      assert.equal(o.match, 'Ambiguous');
      assert.equal(o.message, 'identical chart served by flux-apps-podinfo, flux-apps-podinfo-oci with equal priority');
    });

    it('two repositories at the declared URL: priority between them, else Ambiguous', () => {
      const copy = { ...http, repository: 'podinfo' };
      assert.equal(decideOrigin([http, { ...copy, priority: 1 }, oci], [], helmRepo(http.repoURL)).repository, 'podinfo');
      const amb = decideOrigin([http, copy, oci], [], helmRepo(http.repoURL));
      assert.equal(amb.match, 'Ambiguous');
      assert.match(amb.message ?? '', /is each of flux-apps-podinfo, podinfo$/);
    });

    it('content is the proof: when the declared source serves a chart that differs, Verified from the equal one, naming the declared one', () => {
      const o = decideOrigin([{ ...http, differences: ['templates/deployment.yaml'] }, oci], [], helmRepo(http.repoURL));
      assert.equal(o.match, 'Verified');
      assert.equal(o.repository, oci.repository);
      assert.match(o.message ?? '', /^identical to the published chart; HelmRelease apps\/podinfo's sourceRef HelmRepository apps\/podinfo \(https:\/\/stefanprodan\.github\.io\/podinfo\) is flux-apps-podinfo, whose chart differs \(flux-apps-podinfo: differs in templates\/deployment\.yaml\)$/);
    });

    it('never instead of content: Mismatch and "content not compared" stay as they were', () => {
      const source = helmRepo(http.repoURL);
      const mismatch = decideOrigin([{ ...http, differences: ['values'] }, { ...oci, differences: ['values'] }], [], source);
      assert.equal(mismatch.match, 'Mismatch');
      assert.equal(mismatch.repository, undefined);
      const open = decideOrigin([{ ...http, differences: undefined, notCompared: 'verification disabled' }, { ...oci, differences: undefined, notCompared: 'verification disabled' }], [], source);
      assert.equal(open.match, 'Ambiguous');
    });

    it('matching rule: URLs after trailing slashes, the case of scheme and host, :443 and Docker Hub\'s names are normalised; an OCI HelmRepository is the reference\'s prefix, an OCIRepository the whole reference', () => {
      assert.ok(servesSource(helmRepo('HTTPS://Charts.Example/x//'), 'https://charts.example/x'));
      assert.ok(!servesSource(helmRepo('https://charts.example/x'), 'https://charts.example/x/y'));
      assert.ok(servesSource(helmRepo('oci://docker.io/org/'), 'oci://registry-1.docker.io/org/podinfo'));
      // go-containerregistry (Flux) writes Docker Hub as index.docker.io; :443 is an OCI registry's default port.
      assert.ok(servesSource(helmRepo('oci://index.docker.io/org'), 'oci://registry-1.docker.io/org/podinfo'));
      assert.ok(servesSource(helmRepo('oci://ghcr.io:443/org'), 'oci://ghcr.io/org/podinfo'));
      // HTTP paths are case-sensitive: another path is another repository.
      assert.ok(!servesSource(helmRepo('https://charts.example/Stable'), 'https://charts.example/stable'));
      assert.ok(!servesSource(helmRepo('oci://ghcr.io/org'), 'oci://ghcr.io/org/sub/podinfo'), 'a deeper path is another repository');
      assert.ok(!servesSource(helmRepo('oci://ghcr.io/org/podinfo'), 'oci://ghcr.io/org/podinfo'), 'a HelmRepository URL is a prefix, never the chart');
      const ociRepo: FluxSourceHint = { kind: 'OCIRepository', namespace: 'a', name: 'b', url: 'oci://ghcr.io/org/podinfo', via };
      assert.ok(servesSource(ociRepo, 'oci://ghcr.io/org/podinfo'));
      assert.ok(!servesSource(ociRepo, 'oci://ghcr.io/org/other'));
      assert.ok(!servesSource({ ...ociRepo, url: undefined }, 'oci://ghcr.io/org/podinfo'));
    });
  });
});

/**
 * Which registries `provider: aws | azure | gcp` serves: fluxcd/pkg's own test vectors (auth/aws, auth/azure,
 * auth/gcp provider_test.go, TestProvider_ParseArtifactRepository / ParseArtifactRegistry, fluxcd/pkg e2cfd1a)
 * through the one rule, and how a declaration with a provider is read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudRegistryInput, reuseFor, type CloudProvider } from '../../../../src/sources/oci/cloud-registry.ts';
import { ConfigError, parseConfigFile } from '../../../../src/sources/repository-config.ts';
import { parseRepositorySpec, toRepositoryConfig } from '../../../../src/sources/chart-repository.ts';
import { fluxSourceToSpec } from '../../../../src/sources/discovery/flux.ts';

const input = (p: CloudProvider, repo: string): string | undefined => {
  const r = cloudRegistryInput(p, repo);
  return 'input' in r ? r.input : undefined;
};

describe("fluxcd/pkg's registry patterns", () => {
  it('aws: the ECR region from the host (fips, China, isolated partitions, dual-stack), public.ecr.aws', () => {
    const valid: [string, string][] = [
      ['012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu/foo:v1', 'eusc-de-east-1'],
      ['012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu/foo', 'eusc-de-east-1'],
      ['012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu', 'eusc-de-east-1'],
      ['012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu/v2/part/part', 'eusc-de-east-1'],
      ['012345678901.dkr.ecr.us-east-1.amazonaws.com/foo:v1', 'us-east-1'],
      ['012345678901.dkr.ecr.us-east-1.amazonaws.com/foo', 'us-east-1'],
      ['012345678901.dkr.ecr.us-east-1.amazonaws.com', 'us-east-1'],
      ['012345678901.dkr.ecr.us-east-1.amazonaws.com/v2/part/part', 'us-east-1'],
      ['012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn/foo', 'cn-north-1'],
      ['012345678901.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
      ['012345678901.dkr.ecr.us-secret-region.sc2s.sgov.gov', 'us-secret-region'],
      ['012345678901.dkr.ecr-fips.us-ts-region.c2s.ic.gov', 'us-ts-region'],
      ['012345678901.dkr.ecr.uk-region.cloud.adc-e.uk', 'uk-region'],
      ['012345678901.dkr.ecr.us-ts-region.csp.hci.ic.gov', 'us-ts-region'],
      ['557238627320.dkr-ecr.us-west-2.on.aws/foo:v1', 'us-west-2'],
      ['557238627320.dkr-ecr.us-west-2.on.aws/foo', 'us-west-2'],
      ['557238627320.dkr-ecr.us-west-2.on.aws', 'us-west-2'],
      ['557238627320.dkr-ecr.eu-central-1.on.aws/v2/part/part', 'eu-central-1'],
      ['public.ecr.aws/foo/bar', 'public.ecr.aws'],
    ];
    for (const [repo, region] of valid) assert.equal(input('aws', repo), region, repo);
    const refused = cloudRegistryInput('aws', 'gcr.io/foo/bar:baz');
    assert.ok('error' in refused && refused.error.startsWith("invalid AWS registry: 'gcr.io'. must match ^([0-9]+)\\.dkr[.-]ecr"), JSON.stringify(refused));
  });

  it('azure: the registry host, in the four ACR clouds', () => {
    for (const tld of ['io', 'cn', 'de', 'us']) assert.equal(input('azure', `foo.azurecr.${tld}/repo`), `foo.azurecr.${tld}`);
    for (const repo of ['foo.azurecr.com/repo', '.azurecr.io/repo', '012345678901.dkr.ecr.us-east-1.amazonaws.com']) assert.equal(input('azure', repo), undefined, repo);
    const refused = cloudRegistryInput('azure', 'foo.azurecr.com/repo');
    assert.deepEqual(refused, { error: "invalid Azure registry: 'foo.azurecr.com'. must match ^.+\\.(azurecr\\.io|azurecr\\.cn|azurecr\\.de|azurecr\\.us)$" });
  });

  it('gcp: gcr.io and its subdomains, <location>-docker.pkg.dev, docker.s3nsregistry.fr', () => {
    const vectors: [string, boolean][] = [
      ['gcr.io', true],
      ['.gcr.io', false],
      ['a.gcr.io', true],
      ['-docker.pkg.dev', false],
      ['a-docker.pkg.dev', true],
      ['012345678901.dkr.ecr.us-east-1.amazonaws.com', false],
      ['docker.s3nsregistry.fr/s3ns/dsna-shared-registry-0/shared-registry', true],
      ['docker.s3nsregistry.fr', true],
      ['u-france-east1-docker.s3nsregistry.fr', false],
    ];
    for (const [repo, valid] of vectors) assert.equal(input('gcp', repo), valid ? 'gcp' : undefined, repo);
  });

  it('a port is part of the registry, as in Flux: anchored patterns no longer match', () => {
    assert.equal(input('gcp', 'europe-docker.pkg.dev:443/p/r'), undefined);
    assert.equal(input('azure', 'foo.azurecr.io:443/r'), undefined);
  });

  it('aws is anchored and its dots escaped (Flux\'s is not): only the whole host may be ECR\'s', () => {
    // Flux's unanchored pattern takes each of these; the ECR token would go to evil.example.
    for (const repo of [
      '1.dkr.ecr.us-east-1.amazonaws.com.evil.example/c',
      '1.dkr.ecr.us-east-1.amazonaws.com.cn.evil.example/c',
      'x1.dkr.ecr.us-east-1.amazonaws.com.evil.example',
      'evil.example#1.dkr.ecr.us-east-1.amazonaws.com/c',
      'evil.example?1.dkr.ecr.us-east-1.amazonaws.com/c',
      'x@1.dkr.ecr.us-east-1.amazonaws.com/c',
      'evil.example\\@1.dkr.ecr.us-east-1.amazonaws.com/c',
      '1xdkrxecr.us-east-1.amazonaws.com/c',
      '1.dkr.ecr.us-east-1xamazonaws.com/c',
      '1.dkr.ecr.us-east-1.amazonaws.comcn/c',
      'evil-1.dkr.ecr.us-east-1.amazonaws.com/c',
      '.dkr.ecr.us-east-1.amazonaws.com/c',
      '1.dkr.ecr.us-east-1.amazonaws.com:8443/c',
      '1.dkr.ecr.us-east-1.amazonaws.com:443/c',
    ]) {
      const r = cloudRegistryInput('aws', repo);
      assert.ok('error' in r, `${repo}: ${JSON.stringify(r)}`);
      assert.doesNotMatch(r.error, /x@|evil\.example\\/, 'user info is never quoted');
    }
    assert.equal(input('aws', '1.dkr.ecr.us-east-1.amazonaws.com/c'), 'us-east-1');
    // Names are compared as the client requests them (lower-cased by URL parsing).
    assert.equal(input('aws', '1.DKR.ECR.US-EAST-1.AMAZONAWS.COM/c'), 'us-east-1');
  });

  it('gcp and azure: matched against the parsed host, not a string that only ends like one', () => {
    for (const repo of ['evil.example#x.gcr.io', 'evil.example?x.gcr.io', 'x@gcr.io/p', 'evil.example\\x.gcr.io', 'gcr.io.evil.example/p', 'europe-docker.pkg.dev.evil.example/p']) assert.equal(input('gcp', repo), undefined, repo);
    for (const repo of ['evil.example?a.azurecr.io', 'evil.example#a.azurecr.io', 'u@a.azurecr.io/r', 'a.azurecr.io.evil.example/r']) assert.equal(input('azure', repo), undefined, repo);
  });

  it('an issued credential is reused for 80 % of its lifetime, at most an hour (Flux TokenCache)', () => {
    assert.equal(reuseFor(3_600_000), 2_880_000);
    assert.equal(reuseFor(12 * 3_600_000), 3_600_000);
    assert.equal(reuseFor(-5), 0);
  });
});

describe('a declared provider', () => {
  it('ChartRepository spec: kept for an oci:// registry it serves, used only without a secretRef', () => {
    const spec = parseRepositorySpec({ url: 'oci://europe-docker.pkg.dev/proj/charts', provider: 'gcp' }, 'ns');
    assert.equal(spec.provider, 'gcp');
    assert.equal(toRepositoryConfig('r', spec, undefined, {}).provider, 'gcp');
    const withSecret = parseRepositorySpec({ url: 'oci://europe-docker.pkg.dev/proj/charts', provider: 'gcp', secretRef: { name: 's' } }, 'ns');
    assert.equal(toRepositoryConfig('r', withSecret, undefined, {}).provider, undefined);
    assert.equal(parseRepositorySpec({ url: 'oci://ghcr.io/x', provider: 'generic' }, 'ns').provider, undefined);
  });

  it('refused: a host the provider does not serve (Flux\'s message), a classic repository, an unknown provider', () => {
    assert.throws(() => parseRepositorySpec({ url: 'oci://ghcr.io/x', provider: 'azure' }, 'ns'), (e: unknown) => e instanceof ConfigError && e.message === "spec.provider: invalid Azure registry: 'ghcr.io'. must match ^.+\\.(azurecr\\.io|azurecr\\.cn|azurecr\\.de|azurecr\\.us)$");
    assert.throws(() => parseRepositorySpec({ url: 'https://charts.example.com', provider: 'gcp' }, 'ns'), /spec\.provider: only for oci:\/\/ registries/);
    assert.throws(() => parseRepositorySpec({ url: 'oci://gcr.io/x', provider: 'GCP' }, 'ns'), /spec\.provider: must be generic, aws, azure or gcp/);
  });

  it('refused at parse time: an oci:// URL whose host is not what it looks like (user info, ?, #, backslash)', () => {
    assert.throws(() => parseRepositorySpec({ url: 'oci://evil.example#x.gcr.io', provider: 'gcp' }, 'ns'), (e: unknown) => e instanceof ConfigError && /^spec\.url: an oci:\/\/ URL cannot hold \?, # or a backslash/.test(e.message));
    assert.throws(() => parseRepositorySpec({ url: 'oci://evil.example?a.azurecr.io', provider: 'azure' }, 'ns'), /spec\.url: an oci:\/\/ URL cannot hold/);
    assert.throws(
      () => parseRepositorySpec({ url: 'oci://x:s3cret@1.dkr.ecr.us-east-1.amazonaws.com/c', provider: 'aws' }, 'ns'),
      (e: unknown) => e instanceof ConfigError && /cannot carry user info/.test(e.message) && !e.message.includes('s3cret'),
    );
    // Without a provider too: Flux and Helm refuse such references whatever the credentials.
    assert.throws(() => parseConfigFile('repositories:\n- name: x\n  url: oci://ghcr.io/charts?x=1\n', 'repos.yaml'), /repositories\[0\]\.url: an oci:\/\/ URL cannot hold/);
    // http(s) repositories keep their query (signed index URLs).
    assert.equal(parseRepositorySpec({ url: 'https://charts.example.com/index?sig=1' }, 'ns').url, 'https://charts.example.com/index?sig=1');
  });

  it('Flux sources: such a URL stays whole and fails its repository, never sending the cloud token', () => {
    const r = fluxSourceToSpec('OCIRepository', { metadata: { namespace: 'n', name: 'o' }, spec: { url: 'oci://evil.example#x.gcr.io/charts/app', provider: 'gcp' } });
    assert.ok('spec' in r, JSON.stringify(r));
    assert.equal(r.spec.url, 'oci://evil.example#x.gcr.io/charts/app');
    assert.throws(() => parseRepositorySpec({ url: r.spec.url, ...(r.spec.provider ? { provider: r.spec.provider } : {}) }, 'ns'), /spec\.url: an oci:\/\/ URL cannot hold/);
  });

  it('refused with plainHTTP or insecureSkipTLSVerify (Flux: insecure): a cloud token only over verified https', () => {
    assert.throws(() => parseRepositorySpec({ url: 'oci://myreg.azurecr.io/c', provider: 'azure', plainHTTP: true }, 'ns'), /spec\.provider: not with plainHTTP \(Flux: insecure\): a cloud credential is sent only over https to a verified registry$/);
    assert.throws(() => parseConfigFile('repositories:\n- name: x\n  url: oci://gcr.io/p\n  provider: gcp\n  insecureSkipTLSVerify: true\n', 'repos.yaml'), /repositories\[0\]\.provider: not with insecureSkipTLSVerify/);
    // A Flux source with insecure: true becomes plainHTTP, and so a spec error once it is a ChartRepository.
    const f = fluxSourceToSpec('OCIRepository', { metadata: { namespace: 'n', name: 'o' }, spec: { url: 'oci://gcr.io/p/app', provider: 'gcp', insecure: true } });
    assert.ok('spec' in f && f.spec.plainHTTP && f.spec.provider === 'gcp', JSON.stringify(f));
    assert.throws(() => parseRepositorySpec({ url: f.spec.url, provider: 'gcp', plainHTTP: true }, 'ns'), /spec\.provider: not with plainHTTP/);
  });

  it('the --config file takes it too', () => {
    const f = parseConfigFile('repositories:\n- name: ecr\n  url: oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts\n  provider: aws\n', 'repos.yaml');
    assert.equal(f.repositories[0]?.provider, 'aws');
    assert.throws(() => parseConfigFile('repositories:\n- name: x\n  url: oci://ghcr.io/charts\n  provider: aws\n', 'repos.yaml'), /repos\.yaml: repositories\[0\]\.provider: invalid AWS registry: 'ghcr\.io'/);
  });

  it('Flux sources: carried over for OCI sources without a secretRef, with a note otherwise', () => {
    const oci = (spec: Record<string, unknown>): ReturnType<typeof fluxSourceToSpec> => fluxSourceToSpec('OCIRepository', { metadata: { namespace: 'flux-system', name: 'app' }, spec: { url: 'oci://myreg.azurecr.io/charts/app', ...spec } });
    const a = oci({ provider: 'azure' });
    assert.ok('spec' in a && a.spec.provider === 'azure' && a.notes.length === 0, JSON.stringify(a));
    const b = oci({ provider: 'azure', secretRef: { name: 'pull' } });
    assert.ok('spec' in b && b.spec.provider === undefined && b.notes[0] === "provider azure is not used: the secretRef's credentials are (as in Flux)", JSON.stringify(b));
    const c = fluxSourceToSpec('HelmRepository', { metadata: { namespace: 'n', name: 'h' }, spec: { url: 'oci://gcr.io/p/charts', type: 'oci', provider: 'gcp' } });
    assert.ok('spec' in c && c.spec.provider === 'gcp', JSON.stringify(c));
    // serviceAccountName: Flux uses that ServiceAccount's identity or stalls; chartorigin's own is never lent.
    const e = oci({ provider: 'azure', serviceAccountName: 'tenant-sa' });
    assert.ok('spec' in e && e.spec.provider === undefined && /serviceAccountName .* anonymous access$/.test(e.notes[0] ?? ''), JSON.stringify(e));
    const d = fluxSourceToSpec('HelmRepository', { metadata: { namespace: 'n', name: 'h' }, spec: { url: 'https://charts.example.com', provider: 'gcp' } });
    assert.ok('spec' in d && d.spec.provider === undefined && d.notes.length === 0, JSON.stringify(d));
  });
});

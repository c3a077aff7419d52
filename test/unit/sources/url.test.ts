import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ociRepoURL, redactUrl, resolveChartUrl } from '../../../src/sources/url.ts';

describe('redactUrl', () => {
  it('removes userinfo', () => {
    assert.equal(redactUrl('https://user:s3cret@charts.example.com/repo'), 'https://charts.example.com/repo');
    assert.equal(redactUrl('oci://bot:tok@ghcr.io/org/charts'), 'oci://ghcr.io/org/charts');
  });
  it('keeps query keys but not their values, and drops the fragment', () => {
    const r = redactUrl('https://storage.example.com/repo/index.yaml?sig=abcd1234&se=2030&flag#frag');
    assert.equal(r, 'https://storage.example.com/repo/index.yaml?sig=REDACTED&se=REDACTED&flag');
    assert.doesNotMatch(r, /abcd1234|2030|frag/);
  });
  it('never returns the secret of an unparseable URL', () => {
    const r = redactUrl('https://user:pa ss@ho st/x?token=abc');
    assert.doesNotMatch(r, /pa ss|abc/);
  });
  it('leaves clean URLs alone', () => {
    assert.equal(redactUrl('https://charts.example.com/repo'), 'https://charts.example.com/repo');
  });
});

describe('resolveChartUrl (Helm ResolveReferenceURL)', () => {
  it('returns absolute URLs unchanged', () => {
    assert.equal(resolveChartUrl('https://a.example.com/repo', 'https://cdn.example.com/x-1.0.0.tgz?x=1'), 'https://cdn.example.com/x-1.0.0.tgz?x=1');
  });
  it('forces a trailing slash on the repository path', () => {
    assert.equal(resolveChartUrl('https://a.example.com/charts', 'x-1.0.0.tgz'), 'https://a.example.com/charts/x-1.0.0.tgz');
    assert.equal(resolveChartUrl('https://a.example.com/charts/', 'x-1.0.0.tgz'), 'https://a.example.com/charts/x-1.0.0.tgz');
    assert.equal(resolveChartUrl('https://a.example.com', 'x-1.0.0.tgz'), 'https://a.example.com/x-1.0.0.tgz');
  });
  it('resolves parent and root-relative references like url.ResolveReference', () => {
    assert.equal(resolveChartUrl('https://a.example.com/charts/stable', '../pkgs/x.tgz'), 'https://a.example.com/charts/pkgs/x.tgz');
    assert.equal(resolveChartUrl('https://a.example.com/charts/stable', '/pkgs/x.tgz'), 'https://a.example.com/pkgs/x.tgz');
  });
  it("keeps the repository URL's query string, replacing the reference's", () => {
    assert.equal(resolveChartUrl('https://a.example.com/charts?token=abc', 'x-1.0.0.tgz'), 'https://a.example.com/charts/x-1.0.0.tgz?token=abc');
    assert.equal(resolveChartUrl('https://a.example.com/charts?token=abc', 'x-1.0.0.tgz?v=2'), 'https://a.example.com/charts/x-1.0.0.tgz?token=abc');
    assert.equal(resolveChartUrl('https://a.example.com/charts', 'x-1.0.0.tgz?v=2'), 'https://a.example.com/charts/x-1.0.0.tgz');
  });
});

describe('ociRepoURL', () => {
  it('joins prefix and chart, without credentials or trailing slashes', () => {
    assert.equal(ociRepoURL('oci://ghcr.io/stefanprodan/charts', 'podinfo'), 'oci://ghcr.io/stefanprodan/charts/podinfo');
    assert.equal(ociRepoURL('oci://u:p@127.0.0.1:5000/charts/', 'webapp'), 'oci://127.0.0.1:5000/charts/webapp');
    assert.equal(ociRepoURL('oci://127.0.0.1:5000', 'webapp'), 'oci://127.0.0.1:5000/webapp');
  });
});

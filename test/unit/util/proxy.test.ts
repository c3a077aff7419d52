import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { describeProxy, ProxyAgents, ProxyEnvironment, ProxyError, proxiedAgentOptions, proxyForUrl } from '../../../src/util/proxy.ts';

// Every expectation below is what Go 1.26's http.ProxyFromEnvironment answers for the same environment and
// URL ('direct' = nil proxy, 'error' = an error; proxy URLs as Go prints them, without a trailing slash, with
// the host lower-cased as the WHATWG parser writes it). The table was checked case by case against a Go
// program calling http.ProxyFromEnvironment.
type Case = [env: Record<string, string>, url: string, want: string];
const P = { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://q:2' };

// cases:start
const CASES: Case[] = [
  // which variable: the URL's scheme picks it, no fallback between the two
  [{}, 'https://example.com', 'direct'],
  [{ HTTPS_PROXY: 'http://p:1' }, 'https://example.com', 'http://p:1'],
  [{ HTTPS_PROXY: 'http://p:1' }, 'http://example.com', 'direct'],
  [{ HTTP_PROXY: 'http://q:2' }, 'https://example.com', 'direct'],
  [{ HTTP_PROXY: 'http://q:2' }, 'http://example.com:8080', 'http://q:2'],
  // upper-case name first, then lower-case; an empty value counts as unset
  [{ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' }, 'https://example.com', 'http://upper:1'],
  [{ HTTPS_PROXY: '', https_proxy: 'http://lower:2' }, 'https://example.com', 'http://lower:2'],
  [{ https_proxy: 'http://lower:2' }, 'https://example.com', 'http://lower:2'],
  [{ HTTP_PROXY: '', http_proxy: 'lower:3' }, 'http://example.com', 'http://lower:3'],
  // values without a scheme (or without a host) are read as http://…
  [{ HTTPS_PROXY: 'proxy:3128' }, 'https://example.com', 'http://proxy:3128'],
  [{ HTTPS_PROXY: 'proxy.corp' }, 'https://example.com', 'http://proxy.corp'],
  [{ HTTPS_PROXY: '10.0.0.1:3128' }, 'https://example.com', 'http://10.0.0.1:3128'],
  [{ HTTPS_PROXY: '[::1]:3128' }, 'https://example.com', 'http://[::1]:3128'],
  [{ HTTPS_PROXY: 'localhost:3128' }, 'https://example.com', 'http://localhost:3128'],
  [{ HTTPS_PROXY: 'user:pa%40ss@proxy:3128' }, 'https://example.com', 'http://user:pa%40ss@proxy:3128'],
  [{ HTTPS_PROXY: 'https://u:p@proxy' }, 'https://example.com', 'https://u:p@proxy'],
  [{ HTTPS_PROXY: 'HTTP://Proxy:8080/path' }, 'https://example.com', 'http://proxy:8080/path'],
  // any scheme Go parses is kept (refused later, when an agent is made for it)
  [{ HTTPS_PROXY: 'socks5://s:1080' }, 'https://example.com', 'socks5://s:1080'],
  [{ HTTP_PROXY: 'socks5h://s:1080' }, 'http://example.com', 'socks5h://s:1080'],
  // a value that parses neither as is nor with http:// in front is ignored
  [{ HTTPS_PROXY: 'http://pro%zzxy' }, 'https://example.com', 'direct'],
  [{ HTTPS_PROXY: ' http://p:1' }, 'https://example.com', 'direct'],
  // CGI: HTTP_PROXY is refused for http URLs, before any bypass rule; https URLs are unaffected
  [{ ...P, REQUEST_METHOD: 'GET' }, 'http://example.com', 'error'],
  [{ ...P, REQUEST_METHOD: 'GET' }, 'http://localhost:8080', 'error'],
  [{ ...P, REQUEST_METHOD: 'GET' }, 'https://example.com', 'http://p:1'],
  [{ HTTPS_PROXY: 'http://p:1', REQUEST_METHOD: 'GET' }, 'http://example.com', 'direct'],
  // localhost and loopback literals never use a proxy; other names for them do
  [P, 'https://localhost', 'direct'],
  [P, 'http://localhost:8080', 'direct'],
  [P, 'https://127.0.0.1', 'direct'],
  [P, 'https://127.9.9.9:444', 'direct'],
  [P, 'https://[::1]', 'direct'],
  [P, 'http://[::1]:80', 'direct'],
  [P, 'https://[::ffff:127.0.0.1]', 'direct'],
  [P, 'https://localhost.', 'http://p:1'],
  [P, 'https://0.0.0.0', 'http://p:1'],
  [P, 'https://[::]', 'http://p:1'],
  [P, 'https://10.0.0.1', 'http://p:1'],
  // NO_PROXY names: the host and its subdomains; ".name" and "*.name" subdomains only
  [{ ...P, NO_PROXY: 'example.com' }, 'https://example.com', 'direct'],
  [{ ...P, NO_PROXY: 'example.com' }, 'https://b.a.example.com', 'direct'],
  [{ ...P, NO_PROXY: 'example.com' }, 'https://fooexample.com', 'http://p:1'],
  [{ ...P, NO_PROXY: '.example.com' }, 'https://example.com', 'http://p:1'],
  [{ ...P, NO_PROXY: '.example.com' }, 'https://a.example.com', 'direct'],
  [{ ...P, NO_PROXY: '*.example.com' }, 'https://example.com', 'http://p:1'],
  [{ ...P, NO_PROXY: '*.example.com' }, 'https://a.example.com', 'direct'],
  [{ ...P, NO_PROXY: '*example.com' }, 'https://a.example.com', 'http://p:1'],
  [{ ...P, NO_PROXY: '.test' }, 'https://repo.test', 'direct'],
  [{ ...P, NO_PROXY: 'test' }, 'https://test', 'direct'],
  // ports: must match when given; default ports are filled in from the scheme; "host:" means any port
  [{ ...P, NO_PROXY: 'example.com:8443' }, 'https://example.com:8443', 'direct'],
  [{ ...P, NO_PROXY: 'example.com:8443' }, 'https://example.com', 'http://p:1'],
  [{ ...P, NO_PROXY: 'example.com:443' }, 'https://example.com', 'direct'],
  [{ ...P, NO_PROXY: 'example.com:443' }, 'http://example.com', 'http://q:2'],
  [{ ...P, NO_PROXY: 'example.com:80' }, 'http://example.com', 'direct'],
  [{ ...P, NO_PROXY: 'y.com:' }, 'https://x.y.com:8443', 'direct'],
  [{ ...P, NO_PROXY: ':443' }, 'https://example.com', 'http://p:1'],
  // case-insensitive, spaces around entries, empty entries skipped
  [{ ...P, NO_PROXY: ' foo.org , , EXAMPLE.COM ' }, 'https://a.example.com', 'direct'],
  // "*" alone bypasses everything, wherever it stands in the list; elsewhere it is a literal
  [{ ...P, NO_PROXY: '*' }, 'https://example.com', 'direct'],
  [{ ...P, NO_PROXY: '*' }, 'http://10.0.0.1', 'direct'],
  [{ ...P, NO_PROXY: 'foo, *, bar' }, 'https://example.com', 'direct'],
  // IP entries, with and without port
  [{ ...P, NO_PROXY: '10.0.0.1' }, 'https://10.0.0.1:8443', 'direct'],
  [{ ...P, NO_PROXY: '10.0.0.1:443' }, 'https://10.0.0.1', 'direct'],
  [{ ...P, NO_PROXY: '10.0.0.1:443' }, 'https://10.0.0.1:8443', 'http://p:1'],
  [{ ...P, NO_PROXY: '2001:db8::1' }, 'https://[2001:db8::1]:8443', 'direct'],
  [{ ...P, NO_PROXY: '[2001:db8::1]:8443' }, 'https://[2001:db8::1]:8443', 'direct'],
  [{ ...P, NO_PROXY: '[2001:db8::1]:8443' }, 'https://[2001:db8::1]', 'http://p:1'],
  [{ ...P, NO_PROXY: '[2001:db8::1]' }, 'https://[2001:db8::1]', 'http://p:1'],
  [{ ...P, NO_PROXY: '::ffff:10.0.0.1' }, 'https://10.0.0.1', 'direct'],
  [{ ...P, NO_PROXY: '10.0.0.1' }, 'https://[::ffff:10.0.0.1]', 'direct'],
  // CIDR: any port; IPv4 ranges match IPv4 (and IPv4-mapped) hosts only
  [{ ...P, NO_PROXY: '10.0.0.0/8' }, 'https://10.1.2.3:8443', 'direct'],
  [{ ...P, NO_PROXY: '10.0.0.0/8' }, 'https://11.0.0.1', 'http://p:1'],
  [{ ...P, NO_PROXY: '10.0.0.0/08' }, 'https://10.1.2.3', 'direct'],
  [{ ...P, NO_PROXY: '192.168.0.0/16' }, 'https://192.168.1.1', 'direct'],
  [{ ...P, NO_PROXY: '0.0.0.0/0' }, 'https://1.2.3.4', 'direct'],
  [{ ...P, NO_PROXY: '0.0.0.0/0' }, 'https://[2001:db8::1]', 'http://p:1'],
  [{ ...P, NO_PROXY: '2001:db8::/32' }, 'https://[2001:db8::1]', 'direct'],
  [{ ...P, NO_PROXY: '2001:db8::/32' }, 'https://[2001:db9::1]', 'http://p:1'],
  [{ ...P, NO_PROXY: '::/0' }, 'https://[2001:db8::1]', 'direct'],
  [{ ...P, NO_PROXY: '::/0' }, 'https://10.0.0.1', 'http://p:1'],
  [{ ...P, NO_PROXY: '::ffff:0:0/96' }, 'https://10.0.0.1', 'direct'],
  [{ ...P, NO_PROXY: '10.0.0.0/33' }, 'https://10.0.0.1', 'http://p:1'],
  [{ ...P, NO_PROXY: '010.0.0.0/8,10.00.0.1' }, 'https://10.0.0.1', 'http://p:1'],
  // names never match IP hosts, IP entries never match names
  [{ ...P, NO_PROXY: '0.0.1' }, 'https://10.0.0.1', 'http://p:1'],
  [{ ...P, NO_PROXY: '10.0.0.1' }, 'https://10.0.0.1.example', 'http://p:1'],
  // non-ASCII entries are compared in their IDNA form
  [{ ...P, NO_PROXY: 'bücher.de' }, 'https://a.xn--bcher-kva.de', 'direct'],
  [{ ...P, NO_PROXY: 'bücher.de' }, 'https://bücher.de', 'direct'],
  // NO_PROXY before no_proxy, empty counts as unset
  [{ ...P, no_proxy: 'example.com' }, 'https://example.com', 'direct'],
  [{ ...P, NO_PROXY: 'y.com', no_proxy: 'example.com' }, 'https://example.com', 'http://p:1'],
  [{ ...P, NO_PROXY: '', no_proxy: 'example.com' }, 'https://example.com', 'direct'],
  [{ ...P, NO_PROXY: '127.0.0.1,localhost' }, 'https://example.com', 'http://p:1'],
];
// cases:end

function answer(env: Record<string, string>, url: string): string {
  try {
    const p = proxyForUrl(new URL(url), env);
    return p ? p.href.replace(/\/$/, '') : 'direct';
  } catch (err) {
    assert.ok(err instanceof ProxyError, String(err));
    return 'error';
  }
}

describe('proxyForUrl: Go ProxyFromEnvironment rules', () => {
  it('answers every case as Go does', () => {
    const wrong = CASES.map(([env, url, want]) => ({ env, url, want, got: answer(env, url) })).filter((c) => c.got !== c.want);
    assert.deepEqual(wrong, []);
  });

  it('reads process.env when no environment is given', () => {
    const saved = process.env['HTTPS_PROXY'];
    process.env['HTTPS_PROXY'] = 'http://from-process:9';
    try {
      assert.equal(proxyForUrl(new URL('https://example.com'))?.host, 'from-process:9');
    } finally {
      if (saved === undefined) delete process.env['HTTPS_PROXY'];
      else process.env['HTTPS_PROXY'] = saved;
    }
  });

  it('names the variable and REQUEST_METHOD in the CGI refusal', () => {
    assert.throws(() => proxyForUrl(new URL('http://example.com'), { http_proxy: 'http://q:2', REQUEST_METHOD: 'POST' }), (err: unknown) => {
      assert.ok(err instanceof ProxyError);
      assert.equal(err.variable, 'REQUEST_METHOD');
      assert.match(err.message, /http_proxy.*CGI.*REQUEST_METHOD/);
      return true;
    });
  });

  it('refuses a value that Go would use with an empty host (rather than dialling an empty address)', () => {
    for (const value of ['//proxy:1', ':3128', 'http://:3128']) {
      assert.throws(() => proxyForUrl(new URL('https://example.com'), { HTTPS_PROXY: value }), (err: unknown) => err instanceof ProxyError && err.variable === 'HTTPS_PROXY' && /HTTPS_PROXY/.test(err.message), value);
    }
  });

  it('parses one environment once and answers later calls from it', () => {
    const env = { ...P, NO_PROXY: '.internal' };
    assert.equal(ProxyEnvironment.from(env), ProxyEnvironment.from({ ...env }));
    assert.notEqual(ProxyEnvironment.from(env), ProxyEnvironment.from({ ...env, NO_PROXY: '.other' }));
    assert.equal(ProxyEnvironment.from({}).configured, false);
    assert.equal(ProxyEnvironment.from(P).configured, true);
  });
});

describe('proxiedAgentOptions', () => {
  const choice = (url: string, variable: 'HTTPS_PROXY' | 'http_proxy' = 'HTTPS_PROXY') => ({ url: new URL(url), variable });

  it("hands Node only the chosen proxy, under the target scheme's variable, over the base options", () => {
    const base = { keepAlive: true, rejectUnauthorized: false, ca: ['pem'] };
    assert.deepEqual(proxiedAgentOptions('https:', choice('http://u:p@proxy:3128'), base), { ...base, proxyEnv: { HTTPS_PROXY: 'http://u:p@proxy:3128/' } });
    assert.deepEqual(proxiedAgentOptions('http:', choice('https://proxy', 'http_proxy'), { keepAlive: true }), { keepAlive: true, proxyEnv: { HTTP_PROXY: 'https://proxy/' } });
  });

  it('refuses socks5 and socks5h proxies, naming the variable and never the credentials', () => {
    for (const url of ['socks5://user:secret@s:1080', 'socks5h://user:secret@s:1080']) {
      assert.throws(() => proxiedAgentOptions('https:', choice(url), {}), (err: unknown) => {
        assert.ok(err instanceof ProxyError);
        assert.equal(err.variable, 'HTTPS_PROXY');
        assert.match(err.message, /^HTTPS_PROXY names a socks5h? proxy \(socks5h?:\/\/s:1080\): only http:\/\/ and https:\/\/ proxies are supported$/);
        assert.doesNotMatch(err.message, /secret|user/);
        return true;
      });
    }
  });

  it('describeProxy keeps scheme, host and port only', () => {
    assert.equal(describeProxy(new URL('http://user:secret@proxy.corp:3128/some/path?q=1')), 'http://proxy.corp:3128');
  });
});

describe('ProxyAgents', () => {
  it('reuses one agent per scheme and proxy, and a direct one for bypassed hosts', () => {
    const agents = new ProxyAgents({ env: { ...P, NO_PROXY: '.internal' }, https: { keepAlive: true } });
    try {
      const a = agents.forUrl(new URL('https://one.example.com/index.yaml'));
      const b = agents.forUrl(new URL('https://two.example.com:8443/x.tgz'));
      const direct = agents.forUrl(new URL('https://repo.internal/index.yaml'));
      const loop = agents.forUrl(new URL('https://127.0.0.1:5000/v2/'));
      const plain = agents.forUrl(new URL('http://one.example.com/'));
      assert.equal(a.agent, b.agent);
      assert.equal(a.proxy?.url.href, 'http://p:1/');
      assert.equal(a.proxy?.variable, 'HTTPS_PROXY');
      assert.equal(direct.proxy, undefined);
      assert.equal(direct.agent, loop.agent);
      assert.notEqual(direct.agent, a.agent);
      assert.equal(plain.proxy?.url.href, 'http://q:2/');
      assert.notEqual(plain.agent, a.agent);
      assert.equal((a.agent as { options?: { keepAlive?: boolean } }).options?.keepAlive, true);
    } finally {
      agents.destroy();
    }
  });

  it('throws ProxyError for a socks proxy only when a request would use it', () => {
    const agents = new ProxyAgents({ env: { HTTPS_PROXY: 'socks5://s:1080', NO_PROXY: 'ok.example' } });
    try {
      assert.equal(agents.forUrl(new URL('https://ok.example/')).proxy, undefined);
      assert.equal(agents.forUrl(new URL('https://localhost:8443/')).proxy, undefined);
      assert.throws(() => agents.forUrl(new URL('https://charts.example.com/')), ProxyError);
    } finally {
      agents.destroy();
    }
  });
});

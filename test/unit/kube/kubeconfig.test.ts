import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import { inClusterKubeConfig, kubeConfigFromText, loadKubeConfig, KubeConfigError } from '../../../src/kube/kubeconfig.ts';
import type { OutgoingHttpHeaders } from 'node:http';

const dir = mkdtempSync(join(tmpdir(), 'chartorigin-kubeconfig-'));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function doc(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443/' }, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'apps' } }, { name: 'other', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
    ...extra,
  });
}

async function applied(text: string, context?: string): Promise<RequestOptions & { headers: Record<string, string> }> {
  const opts: RequestOptions = { headers: {} };
  await kubeConfigFromText(text, join(dir, 'config'), context).applyToHTTPSOptions(opts);
  return opts as RequestOptions & { headers: Record<string, string> };
}

describe('kubeconfig loader (no client-node)', () => {
  it('reads server, namespace, inline CA and client certificate data', async () => {
    const kc = kubeConfigFromText(doc({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }, { server: 'https://10.0.0.1:6443/', 'certificate-authority-data': b64('CA') }), '/x/config');
    assert.equal(kc.server, 'https://10.0.0.1:6443');
    assert.equal(kc.namespace, 'apps');
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    assert.equal(String(opts.ca), 'CA');
    assert.equal(String(opts.cert), 'CERT');
    assert.equal(String(opts.key), 'KEY');
    assert.equal(opts.rejectUnauthorized, undefined);
  });

  it('resolves certificate and token files relative to the kubeconfig, and re-reads a token file once a minute (client-go)', async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    writeFileSync(join(dir, 'ca.crt'), 'FILE-CA');
    writeFileSync(join(dir, 'token'), 'first\n');
    const text = doc({ tokenFile: 'token' }, { server: 'https://h:1', 'certificate-authority': 'ca.crt' });
    const kc = kubeConfigFromText(text, join(dir, 'config'));
    const one: RequestOptions = {};
    await kc.applyToHTTPSOptions(one);
    assert.equal(String(one.ca), 'FILE-CA');
    assert.equal((one.headers as Record<string, string>)['Authorization'], 'Bearer first');
    writeFileSync(join(dir, 'token'), 'rotated\n');
    try {
      const two: RequestOptions = {};
      mock.timers.tick(59_999);
      await kc.applyToHTTPSOptions(two);
      assert.equal((two.headers as Record<string, string>)['Authorization'], 'Bearer first', 'read again within the minute');
      const three: RequestOptions = {};
      mock.timers.tick(1);
      await kc.applyToHTTPSOptions(three);
      assert.equal((three.headers as Record<string, string>)['Authorization'], 'Bearer rotated');
    } finally {
      mock.timers.reset();
    }
  });

  it('bearer token, basic auth and insecure-skip-tls-verify', async () => {
    assert.equal((await applied(doc({ token: 't0k' }))).headers['Authorization'], 'Bearer t0k');
    assert.equal((await applied(doc({ username: 'a', password: 'b' }))).headers['Authorization'], `Basic ${b64('a:b')}`);
    assert.equal((await applied(doc({}, { server: 'https://h:1', 'insecure-skip-tls-verify': true }))).rejectUnauthorized, false);
  });

  it('--context picks another context; unknown contexts and missing servers are clear errors', () => {
    assert.equal(kubeConfigFromText(doc({}), '/x/config', 'other').namespace, undefined);
    assert.throws(() => kubeConfigFromText(doc({}), '/x/config', 'nope'), /context "nope" is not in the kubeconfig \/x\/config/);
    assert.throws(() => kubeConfigFromText(doc({}, {}), '/x/config'), /names no cluster with a server/);
    assert.throws(() => kubeConfigFromText('{]', '/x/config'), KubeConfigError);
  });

  it('an unreadable file is an error of every request, as in kubectl (whose `config view` shows the entry)', async () => {
    const kc = kubeConfigFromText(doc({ 'client-certificate': 'missing.crt', 'client-key': 'missing.key' }), join(dir, 'config'));
    await assert.rejects(kc.applyToHTTPSOptions({}), /cannot read client-certificate file/);
  });

  it('--kubeconfig, then $KUBECONFIG, then ~/.kube/config, then in cluster', () => {
    const file = join(dir, 'explicit');
    writeFileSync(file, doc({ token: 'x' }, { server: 'https://explicit:1' }));
    assert.equal(loadKubeConfig({ kubeconfig: file }, {}).server, 'https://explicit:1');
    assert.throws(() => loadKubeConfig({ kubeconfig: join(dir, 'absent') }, {}), /cannot read the kubeconfig/);
    assert.equal(loadKubeConfig({}, { KUBECONFIG: `${join(dir, 'absent')}:${file}`, HOME: dir }).server, 'https://explicit:1');
    assert.throws(() => loadKubeConfig({}, { HOME: join(dir, 'nohome') }), /no Kubernetes cluster configured/);
  });

  it('in cluster: service host and port, the mounted CA, namespace and a rotating token', async () => {
    const sa = mkdtempSync(join(tmpdir(), 'chartorigin-sa-'));
    writeFileSync(join(sa, 'ca.crt'), 'SA-CA');
    writeFileSync(join(sa, 'namespace'), 'chartorigin\n');
    writeFileSync(join(sa, 'token'), 'sa-token');
    assert.equal(inClusterKubeConfig({}, sa), undefined);
    const kc = inClusterKubeConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    assert.ok(kc);
    assert.equal(kc.server, 'https://[fd00::1]:443');
    assert.equal(kc.namespace, 'chartorigin');
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    assert.equal(String(opts.ca), 'SA-CA');
    assert.equal((opts.headers as Record<string, string>)['Authorization'], 'Bearer sa-token');
  });
});

describe('kubeconfig exec plugins (run by chartorigin, no client-node)', () => {
  it('runs the command relative to the kubeconfig that defined the user, passes KUBERNETES_EXEC_INFO and caches the credential until it expires', async () => {
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-'));
    mkdirSync(join(d, 'bin'));
    // Counts its runs, echoes the cluster it was told about, and returns a token that expires in `$2` seconds.
    writeFileSync(
      join(d, 'bin', 'plugin.sh'),
      `#!/bin/sh\necho run >> "${join(d, 'runs')}"\nserver=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed -n 's/.*"server":"\\([^"]*\\)".*/\\1/p')\nexp=$(date -u -d "+$2 seconds" +%Y-%m-%dT%H:%M:%SZ)\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s-%s","expirationTimestamp":"%s"}}' "$1" "$MY_ENV" "$server" "$exp"\n`,
    );
    chmodSync(join(d, 'bin', 'plugin.sh'), 0o755);
    const exec = (ttl: number): Record<string, unknown> => ({ exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', command: './bin/plugin.sh', args: ['tok', String(ttl)], env: [{ name: 'MY_ENV', value: 'e' }], provideClusterInfo: true } });
    writeFileSync(join(d, 'config'), doc(exec(3600)));
    const kc = loadKubeConfig({ kubeconfig: join(d, 'config') }, {});
    for (let i = 0; i < 3; i++) {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      assert.equal((opts.headers as Record<string, string>)['Authorization'], 'Bearer tok-e-https://127.0.0.1:6443/');
    }
    assert.equal(readFileSync(join(d, 'runs'), 'utf8').split('\n').filter(Boolean).length, 1, 'one run while the token is valid');
    // A token that expires within 10 s is fetched again on the next request.
    writeFileSync(join(d, 'config'), doc(exec(5)));
    const short = loadKubeConfig({ kubeconfig: join(d, 'config') }, {});
    await short.applyToHTTPSOptions({});
    await short.applyToHTTPSOptions({});
    assert.equal(readFileSync(join(d, 'runs'), 'utf8').split('\n').filter(Boolean).length, 3);
    // A failing plugin is a KubeConfigError naming the user and the install hint.
    writeFileSync(join(d, 'config'), doc({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: './bin/absent', installHint: 'install absent' } }));
    await assert.rejects(loadKubeConfig({ kubeconfig: join(d, 'config') }, {}).applyToHTTPSOptions({}), /user "u": exec plugin .*bin\/absent failed: .*\(install absent\)/);
  });
});

/** A plugin script in `d` that counts its runs and prints `out` (an ExecCredential) after saving its KUBERNETES_EXEC_INFO. */
function plugin(d: string, out: string): string {
  const p = join(d, 'plugin.sh');
  writeFileSync(p, `#!/bin/sh\necho run >> "${join(d, 'runs')}"\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "${join(d, 'info.json')}"\ncat <<'EOF'\n${out}\nEOF\n`);
  chmodSync(p, 0o755);
  return p;
}
const runs = (d: string): number => {
  try {
    return readFileSync(join(d, 'runs'), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};
const credential = (token: string, apiVersion = 'client.authentication.k8s.io/v1'): string => JSON.stringify({ apiVersion, kind: 'ExecCredential', status: { token } });
const execUser = (command: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({ apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', command, ...more });

describe('kubeconfig: what client-go sends (credential choice, impersonation, validation)', () => {
  it('tokenFile wins over token, and the inline token is the fallback when the file cannot be read', async () => {
    writeFileSync(join(dir, 'tf'), 'from-file\n');
    assert.equal((await applied(doc({ token: 'inline', tokenFile: 'tf' }))).headers['Authorization'], 'Bearer from-file');
    assert.equal((await applied(doc({ token: 'inline', tokenFile: 'absent-file' }))).headers['Authorization'], 'Bearer inline');
    await assert.rejects(applied(doc({ tokenFile: 'absent-file' })), /cannot read the tokenFile/);
  });

  it('an exec plugin is not run when a token or a client certificate is configured', async () => {
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-prec-'));
    const cmd = plugin(d, credential('from-plugin'));
    assert.equal((await applied(doc({ token: 'inline', exec: execUser(cmd) }))).headers['Authorization'], 'Bearer inline');
    const withCert = await applied(doc({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), exec: execUser(cmd) }));
    assert.equal(withCert.headers['Authorization'], undefined);
    assert.equal(String(withCert.cert), 'CERT');
    assert.equal(runs(d), 0);
    assert.equal((await applied(doc({ exec: execUser(cmd) }))).headers['Authorization'], 'Bearer from-plugin');
    assert.equal(runs(d), 1);
  });

  it('impersonation: Impersonate-User, -Uid, one -Group per group, -Extra-<escaped key> per value', async () => {
    const opts = await applied(doc({ token: 't', as: 'alice', 'as-uid': '42', 'as-groups': ['dev', 'ops'], 'as-user-extra': { scopes: ['view', 'edit'], 'example.com/team x': ['a'] } }));
    const h = opts.headers as OutgoingHttpHeaders;
    assert.equal(h['Impersonate-User'], 'alice');
    assert.equal(h['Impersonate-Uid'], '42');
    assert.deepEqual(h['Impersonate-Group'], ['dev', 'ops']);
    assert.deepEqual(h['Impersonate-Extra-scopes'], ['view', 'edit']);
    assert.deepEqual(h['Impersonate-Extra-example.com%2Fteam%20x'], ['a']);
    await assert.rejects(applied(doc({ token: 't', 'as-groups': ['dev'] })), /without impersonating a user/);
  });

  it('no credential or client certificate goes to an http:// server; impersonation does (as kubectl does)', async () => {
    const opts = await applied(doc({ token: 't', as: 'alice', 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }, { server: 'http://127.0.0.1:8080' }));
    assert.equal(opts.headers['Authorization'], undefined);
    assert.equal(opts.headers['Impersonate-User'], 'alice');
    assert.equal(opts.cert, undefined);
  });

  it('refuses what kubectl refuses, when a request is made (kubeconfig loading and `config view` still work)', async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>, RegExp][] = [
      [{ token: 't' }, { server: 'https://h:1', 'certificate-authority-data': b64('CA'), 'insecure-skip-tls-verify': true }, /certificate authority together with insecure-skip-tls-verify/],
      [{ token: 't' }, { server: 'https://h:1', 'certificate-authority-data': b64('CA'), 'certificate-authority': 'ca.crt' }, /both certificate-authority and certificate-authority-data/],
      [{ token: 't', username: 'a', password: 'b' }, { server: 'https://h:1' }, /more than one authentication method \(token, basicAuth\)/],
      [{ 'client-certificate-data': b64('C') }, { server: 'https://h:1' }, /client certificate but no client-key/],
      [{ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } }, { server: 'https://h:1' }, /needs an interactiveMode/],
      [{ exec: { command: 'x', interactiveMode: 'Never' } }, { server: 'https://h:1' }, /exec has no apiVersion/],
      [{ token: 't' }, { server: 'https://h:1', 'proxy-url': 'ftp://p:1' }, /proxy-url scheme ftp/],
    ];
    for (const [user, cluster, error] of cases) {
      const kc = kubeConfigFromText(doc(user, cluster), join(dir, 'config'));
      await assert.rejects(kc.applyToHTTPSOptions({}), error);
    }
    // v1beta1 defaults interactiveMode to IfAvailable: accepted.
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-beta-'));
    const cmd = plugin(d, credential('beta', 'client.authentication.k8s.io/v1beta1'));
    assert.equal((await applied(doc({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: cmd } }))).headers['Authorization'], 'Bearer beta');
  });

  it('an ExecCredential of another apiVersion than asked for is refused (client-go)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-ver-'));
    const cmd = plugin(d, credential('x', 'client.authentication.k8s.io/v1beta1'));
    await assert.rejects(applied(doc({ exec: execUser(cmd) })), /apiVersion client.authentication.k8s.io\/v1beta1, expected client.authentication.k8s.io\/v1/);
  });

  it('KUBERNETES_EXEC_INFO carries the CA as data from a file, proxy-url, disable-compression and the exec extension as config', async () => {
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-info-'));
    writeFileSync(join(d, 'ca.crt'), 'CA-FROM-FILE');
    const cmd = plugin(d, credential('i'));
    const cluster = {
      server: 'https://h:1/prefix',
      'certificate-authority': 'ca.crt',
      'proxy-url': 'http://proxy:3128',
      'disable-compression': true,
      extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'aud' } }, { name: 'other', extension: { x: 1 } }],
    };
    await kubeConfigFromText(doc({ exec: execUser(cmd, { provideClusterInfo: true }) }, cluster), join(d, 'config')).applyToHTTPSOptions({});
    const info = JSON.parse(readFileSync(join(d, 'info.json'), 'utf8')) as { spec: { interactive: boolean; cluster: Record<string, unknown> } };
    assert.deepEqual(info.spec.cluster, { server: 'https://h:1/prefix', 'certificate-authority-data': b64('CA-FROM-FILE'), 'proxy-url': 'http://proxy:3128', 'disable-compression': true, config: { audience: 'aud' } });
    assert.equal(info.spec.interactive, false);
  });

  it('a relative exec command is resolved against the kubeconfig even when the kubeconfig was named without a directory', () => {
    const d = mkdtempSync(join(tmpdir(), 'chartorigin-exec-rel-'));
    const cwd = process.cwd();
    process.chdir(d);
    try {
      plugin(d, credential('rel'));
      writeFileSync(join(d, 'config'), doc({ exec: execUser('./plugin.sh') }));
      return loadKubeConfig({ kubeconfig: 'config' }, {})
        .applyToHTTPSOptions({})
        .then(() => assert.equal(runs(d), 1));
    } finally {
      process.chdir(cwd);
    }
  });

  it('in cluster: -n wins, then POD_NAMESPACE, then the mounted namespace file', () => {
    const sa = mkdtempSync(join(tmpdir(), 'chartorigin-sa-ns-'));
    writeFileSync(join(sa, 'ca.crt'), 'SA-CA');
    writeFileSync(join(sa, 'namespace'), 'from-file\n');
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    assert.equal(inClusterKubeConfig(env, sa)?.namespace, 'from-file');
    assert.equal(inClusterKubeConfig({ ...env, POD_NAMESPACE: 'from-env' }, sa)?.namespace, 'from-env');
    assert.equal(inClusterKubeConfig({ ...env, POD_NAMESPACE: 'from-env' }, sa, 'team-a')?.namespace, 'team-a');
  });
});

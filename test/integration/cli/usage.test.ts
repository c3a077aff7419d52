/**
 * The CLI as a user first meets it: --version on every command, each command's --help listing its flags with
 * what they do, usage errors (exit 2), a misspelt config key (exit 1, naming the key it meant) and a repository
 * that cannot be read (exit 3, named in the table instead of NotFound). No cluster: `inspect` reads a release
 * Secret captured from helm.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../../harness/tools.ts';

const work = mkdtempSync(join(tmpdir(), 'cli-usage-'));
after(() => rmSync(work, { recursive: true, force: true }));
const ENTRY = join(REPO_ROOT, 'src/cli/entry.ts');
// An empty home: no Helm configuration to discover.
const env = { ...process.env, HOME: work, HELM_CONFIG_HOME: join(work, 'helm'), HELM_CACHE_HOME: join(work, 'helm-cache'), KUBECONFIG: join(work, 'absent') };
const cli = (args: string[], input = ''): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [ENTRY, ...args], { env, input, encoding: 'utf8', timeout: 60_000 });

/** A real release Secret written by helm (test/fixtures/releases). */
function releaseSecret(): string {
  const dir = join(REPO_ROOT, 'test', 'fixtures', 'releases');
  const file = readdirSync(dir, { recursive: true }).map(String).find((f) => f.endsWith('.json') && f.includes('secret'));
  assert.ok(file, `no Secret fixture in ${dir}`);
  return readFileSync(join(dir, file), 'utf8');
}

describe('chartorigin usage', () => {
  it('--version on every command, before or after other flags', () => {
    const v = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8').match(/"version": "([^"]+)"/)?.[1];
    for (const args of [['--version'], ['scan', '--version'], ['inspect', '-o', 'json', '--version'], ['controller', '--version']]) {
      const r = cli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, `chartorigin ${v}\n`, args.join(' '));
    }
  });

  it('each command\'s --help lists every flag with a description', () => {
    const expected: Record<string, string[]> = {
      scan: ['--kubeconfig', '--context', '--namespace', '--all-namespaces', '--config', '--no-discover', '--storage', '--output', '--help', '--version'],
      inspect: ['--config', '--no-discover', '--output', '--help', '--version'],
      controller: ['--namespaces', '--storage', '--metrics-bind-address', '--write-back', '--config', '--kubeconfig', '--help', '--version'],
    };
    for (const [command, flags] of Object.entries(expected)) {
      const r = cli([command, '--help']);
      assert.equal(r.status, 0, r.stderr);
      for (const flag of flags) {
        const line = r.stdout.split('\n').find((l) => new RegExp(`(^|[\\s,])${flag}(\\s|=|$)`).test(l));
        assert.ok(line, `${command} --help lacks ${flag}:\n${r.stdout}`);
        assert.match(line, new RegExp(`${flag}\\S*( [A-Za-z|.,:0-9-]+)?\\s{2,}\\S`), `${command} ${flag} has no description: ${line}`);
      }
    }
    const top = cli(['--help']);
    assert.match(top.stdout, /Exit codes: 0 ok; 1 bad input or config; 2 usage; 3 a repository could not be read/);
  });

  it('usage errors exit 2 with one line and a pointer to --help; no command prints usage and exits 2', () => {
    const r = cli(['scan', '--bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^chartorigin: Unknown option '--bogus'.*\nRun "chartorigin --help" for usage\.\n$/s);
    const none = cli([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^Usage:/);
  });

  it('a misspelt config key is exit 1 naming the key it meant', () => {
    const config = join(work, 'typo.yaml');
    writeFileSync(config, 'repositories:\n  - name: local\n    url: oci://127.0.0.1:5000/charts\n    plainHttp: true\n');
    const r = cli(['inspect', '-', '--config', config], releaseSecret());
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `chartorigin: ${config}: repositories[0]: unknown key "plainHttp" (did you mean "plainHTTP"?)\n`);
    assert.equal(r.stdout, '');
  });

  it('a repository that cannot be read is exit 3 and named in the table, never NotFound', () => {
    const config = join(work, 'down.yaml');
    // Port 1 on loopback: nothing listens, the connection is refused.
    writeFileSync(config, 'repositories:\n  - name: down\n    url: http://127.0.0.1:1/charts\n    timeout: 5s\n');
    const r = cli(['inspect', '-', '--config', config, '--no-discover'], releaseSecret());
    assert.equal(r.status, 3, r.stderr);
    const rows = r.stdout.trim().split('\n').slice(1);
    assert.ok(rows.length > 0, r.stdout);
    for (const row of rows) {
      assert.match(row, /Unreachable\s+down: network$/);
      assert.doesNotMatch(row, /NotFound/);
    }
    assert.match(r.stderr, /^chartorigin: using --config .*down\.yaml: 1 repository\nchartorigin: repository down: .* \(network\)\n$/);
  });
});

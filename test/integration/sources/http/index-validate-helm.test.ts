/**
 * Differential: the index entries chartorigin keeps are the ones real helm shows. Each helm binary adds the
 * same index.yaml (and its JSON form) from a loopback server, in a helm home of its own, and lists it with
 * `helm search repo --versions --devel -o json`; chartorigin parses the same bytes whole and chart by chart.
 * The cases (test/support/index-entry-cases.ts) hold the rule of the newest Helm; a case an older binary
 * does not apply yet (its `since`) is left out of what that binary is given.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lazyIndex } from '../../../../src/sources/http/index-lazy.ts';
import { parseIndex, type IndexParseOptions } from '../../../../src/sources/http/index-parse.ts';
import type { ChartVersionEntry } from '../../../../src/model/repository.ts';
import { startChartRepoServer, type ChartRepoServer } from '../../../harness/chart-repo-server.ts';
import { scratchDir } from '../../../harness/charts.ts';
import { HELM_BINARIES, toolPath, TOOLS_BIN, type HelmBinaryName } from '../../../harness/tools.ts';
import { ENTRY_CASES, expectedListing, indexJson, indexYaml, pair, type EntryCase } from '../../../support/index-entry-cases.ts';

let server: ChartRepoServer;
let root: string;

before(async () => {
  root = scratchDir('index-validate');
  server = await startChartRepoServer({ dir: root });
});

after(async () => {
  await server.close();
});

function run(helm: HelmBinaryName, args: string[], home: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    PATH: `${TOOLS_BIN}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    HELM_REGISTRY_CONFIG: join(home, 'config', 'registry.json'),
    NO_COLOR: '1',
  };
  return new Promise((resolve, reject) => {
    execFile(toolPath(helm), args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${helm} ${args.slice(0, 2).join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** `v3.22.0` → [3, 22, 0]. */
function versionParts(v: string): number[] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) throw new Error(`not a helm version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function atLeast(have: number[], want: string): boolean {
  const w = versionParts(want);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = w[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The cases this helm applies: all but those whose rule came after its release. */
function casesFor(helmVersion: number[]): EntryCase[] {
  return ENTRY_CASES.filter((c) => !c.since || atLeast(helmVersion, helmVersion[0] === 3 ? c.since.helm3 : c.since.helm4));
}

/** What helm search lists for the repository `r`: chart → sorted "version (appVersion)". */
async function helmListing(helm: HelmBinaryName, url: string): Promise<Map<string, string[]>> {
  const home = scratchDir(`${helm}-home`);
  mkdirSync(join(home, 'config'), { recursive: true });
  await run(helm, ['repo', 'add', 'r', url], home);
  const rows = JSON.parse(await run(helm, ['search', 'repo', '--versions', '--devel', '-o', 'json'], home)) as { name: string; version: string; app_version: string }[];
  const out = new Map<string, string[]>();
  for (const row of rows) {
    const chart = row.name.replace(/^r\//, '');
    out.set(chart, [...(out.get(chart) ?? []), pair(row.version, row.app_version)]);
  }
  for (const list of out.values()) list.sort();
  return out;
}

function listing(index: Iterable<[string, ChartVersionEntry[] | undefined]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [chart, versions] of index) if (versions?.length) out.set(chart, versions.map((e) => pair(e.version, e.appVersion)).sort());
  return out;
}

describe('index entries: chartorigin keeps what helm search shows (real helm, each binary)', () => {
  for (const helm of HELM_BINARIES) {
    it(helm, async () => {
      const helmVersion = versionParts(await run(helm, ['version', '--template', '{{.Version}}'], scratchDir(`${helm}-version`)));
      const cases = casesFor(helmVersion);
      const expected = expectedListing(cases);
      for (const [form, text] of [['yaml', indexYaml(cases)], ['json', indexJson(cases)]] as const) {
        const dir = join(root, `${helm}-${form}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'index.yaml'), text);
        const what = `${helm} v${helmVersion.join('.')}, ${form}`;
        const opts: IndexParseOptions = { repository: 'r', repoUrl: `${server.url}/${helm}-${form}` };
        const shown = await helmListing(helm, opts.repoUrl);
        assert.deepEqual(shown, expected, `${what}: helm shows what the cases say it keeps`);
        const bytes = Buffer.from(text);
        assert.deepEqual(listing(parseIndex(bytes, opts)), shown, `${what}: the whole parse`);
        if (form === 'yaml') {
          const lazy = lazyIndex(bytes, opts, 0);
          assert.ok(lazy, `${what}: the lazy path applies`);
          assert.deepEqual(listing([...lazy.keys()].map((chart) => [chart, lazy.get(chart)] as [string, ChartVersionEntry[] | undefined])), shown, `${what}: the lazy parse`);
        }
      }
    });
  }
});

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { readChartArchive, readChartFiles } from '../../../src/chart/archive.ts';
import { RepoError } from '../../../src/model/repository.ts';
import { MINIMAL_CHART, paxRecord, tarBytes, tgz } from './tar-writer.ts';
import { rejects } from '../../support/repo-errors.ts';

const fixture = readFileSync(new URL('../../fixtures/repo/webapp-1.2.0.tgz', import.meta.url));


describe('readChartArchive on real helm package output', () => {
  it('reads the chart the way Helm loads it', () => {
    const chart = readChartArchive(fixture);
    assert.equal(chart.metadata['name'], 'webapp');
    assert.equal(chart.metadata['version'], '1.2.0');
    assert.deepEqual(chart.templates.map((t) => t.name).sort(), ['templates/NOTES.txt', 'templates/_helpers.tpl', 'templates/deployment.yaml', 'templates/service.yaml']);
    assert.deepEqual(chart.files.map((f) => f.name).sort(), ['.helmignore', 'README.md']);
    assert.ok(chart.schema && chart.schema.length > 0);
    assert.equal((chart.values as { replicaCount: number }).replicaCount, 1);
    // YAML 1.1 like Helm: `enabled: yes` is a boolean.
    assert.equal((chart.values as { enabled: unknown }).enabled, true);
  });

  it('gives the same fingerprint for the same bytes and a different one when a template changes', () => {
    const a = fingerprintChart(readChartArchive(fixture));
    const b = fingerprintChart(readChartArchive(Buffer.from(fixture)));
    assert.deepEqual(a, b);
    const files = readChartFiles(fixture);
    const changed = [...files].map(([name, data]) => ({ name: `webapp/${name}`, data: name === 'templates/service.yaml' ? Buffer.concat([Buffer.from(data), Buffer.from('# x\n')]) : data }));
    const c = fingerprintChart(readChartArchive(tgz(changed)));
    assert.notEqual(c.templates['templates/service.yaml'], a.templates['templates/service.yaml']);
    assert.equal(c.templates['templates/deployment.yaml'], a.templates['templates/deployment.yaml']);
  });

  it('strips a UTF-8 BOM like Helm', () => {
    const files = readChartFiles(tgz([...MINIMAL_CHART, { name: 'demo/templates/bom.yaml', data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('kind: X\n')]) }]));
    assert.equal(Buffer.from(files.get('templates/bom.yaml') ?? []).toString(), 'kind: X\n');
  });

  it('skips subcharts under charts/ and directory entries', () => {
    const files = readChartFiles(
      tgz([{ name: 'demo/', type: '5' }, ...MINIMAL_CHART, { name: 'demo/charts/sub/Chart.yaml', data: 'name: sub\n' }, { name: 'demo/charts/sub-1.0.0.tgz', data: 'x' }]),
    );
    assert.deepEqual([...files.keys()].sort(), ['Chart.yaml', 'templates/cm.yaml', 'values.yaml']);
  });

  it('follows pax and GNU long names', () => {
    const long = `demo/templates/${'x'.repeat(120)}.yaml`;
    const files = readChartFiles(
      tgz([
        ...MINIMAL_CHART,
        { name: 'PaxHeader', type: 'x', data: paxRecord('path', long) },
        { name: 'demo/templates/short', data: 'a: pax\n' },
        { name: '././@LongLink', type: 'L', data: `${long.replace('x.yaml', 'y.yaml')}\0` },
        { name: 'demo/templates/short2', data: 'a: gnu\n' },
      ]),
    );
    assert.equal(Buffer.from(files.get(long.slice('demo/'.length)) ?? []).toString(), 'a: pax\n');
    assert.equal(Buffer.from(files.get(long.slice('demo/'.length).replace('x.yaml', 'y.yaml')) ?? []).toString(), 'a: gnu\n');
  });
});

describe('readChartArchive refuses hostile archives', () => {
  it('path traversal with ..', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/../../etc/passwd', data: 'x' }])), 'invalid_archive', /"demo\/\.\.\/\.\.\/etc\/passwd".*\.\./);
  });
  it('a .. segment even if it would clean inside the chart', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/templates/../x.yaml', data: 'x' }])), 'invalid_archive', /\.\./);
  });
  it('absolute paths', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: '/etc/passwd', data: 'x' }])), 'invalid_archive', /absolute/);
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'C:\\evil\\x', data: 'x' }])), 'invalid_archive', /absolute/);
  });
  it('symlinks', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/templates/link.yaml', type: '2', linkname: '/etc/passwd' }])), 'invalid_archive', /link\.yaml.*symbolic link/);
  });
  it('hard links', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/hard', type: '1', linkname: 'demo/Chart.yaml' }])), 'invalid_archive', /"demo\/hard".*hard link/);
  });
  it('devices', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/dev', type: '3' }])), 'invalid_archive', /"demo\/dev".*not a regular file/);
  });
  it('Chart.yaml outside the chart directory', () => {
    rejects(() => readChartArchive(tgz([{ name: 'Chart.yaml', data: 'name: x\nversion: 1.0.0\n' }])), 'invalid_archive', /Chart\.yaml/);
  });
  it('an oversized single file, naming it', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/big.bin', data: Buffer.alloc(2048) }]), { maxFileBytes: 1024 }), 'too_large', /"demo\/big\.bin".*2048/);
  });
  it('too many entries', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ name: `demo/f${i}`, data: 'x' }));
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, ...many]), { maxEntries: 20 }), 'too_large', /more than 20 entries/);
  });
  it('a gzip bomb, fast and without inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(160 * 1024 * 1024), { level: 1 });
    assert.ok(bomb.length < 1024 * 1024, "a small input that inflates past the 100 MiB default");
    const t = performance.now();
    rejects(() => readChartArchive(bomb), 'too_large', /decompresses to more than/);
    assert.ok(performance.now() - t < 2000, 'refused quickly');
  });
  it('a total size over the limit', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/a', data: Buffer.alloc(4096) }]), { maxTotalBytes: 4096 }), 'too_large', /decompresses/);
  });
  it('a compressed size over the limit', () => {
    rejects(() => readChartArchive(fixture, { maxArchiveBytes: 100 }), 'too_large', /compressed/);
  });
  it('not gzip', () => {
    rejects(() => readChartArchive(tarBytes(MINIMAL_CHART)), 'invalid_archive', /not a gzip file/);
    rejects(() => readChartArchive(Buffer.from('<html>not found</html>')), 'invalid_archive', /not a gzip file/);
  });
  it('truncated gzip', () => {
    rejects(() => readChartArchive(fixture.subarray(0, fixture.length - 40)), 'invalid_archive', /corrupt or truncated/);
  });
  it('a truncated tar stream inside valid gzip', () => {
    const tar = tarBytes(MINIMAL_CHART, { end: false });
    rejects(() => readChartArchive(gzipSync(tar.subarray(0, tar.length - 600))), 'invalid_archive', /truncated/);
  });
  it('a tar header whose size lies', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/liar', data: 'x', size: 1_000_000 }])), 'invalid_archive', /"demo\/liar".*past the end/);
  });
  it('a corrupt header checksum', () => {
    const tar = tarBytes(MINIMAL_CHART);
    tar[10] = 0x41;
    rejects(() => readChartArchive(gzipSync(tar)), 'invalid_archive', /corrupt tar header/);
  });
  it('duplicate entries', () => {
    rejects(() => readChartArchive(tgz([...MINIMAL_CHART, { name: 'demo/values.yaml', data: 'a: 2\n' }])), 'invalid_archive', /appears twice/);
  });
  it('an archive without Chart.yaml', () => {
    rejects(() => readChartArchive(tgz([{ name: 'demo/values.yaml', data: 'a: 1\n' }])), 'invalid_archive', /no Chart\.yaml/);
  });
  it('never echoes file content in errors', () => {
    try {
      readChartArchive(tgz([{ name: 'demo/Chart.yaml', data: 'password: hunter2: [\n' }]));
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof RepoError);
      assert.doesNotMatch(err.message, /hunter2/);
    }
  });
});

it('the fixture is what helm packaged (sanity for digest tests elsewhere)', () => {
  assert.match(createHash('sha256').update(fixture).digest('hex'), /^[0-9a-f]{64}$/);
  assert.equal(fixture[0], 0x1f);
});

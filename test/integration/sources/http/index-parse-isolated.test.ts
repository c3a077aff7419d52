import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syntheticIndexYaml } from '../../../harness/charts.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';
import { parseIndex } from '../../../../src/sources/http/index-parse.ts';
import { ISOLATED_MIN_BYTES, parseIndexIsolated } from '../../../../src/sources/http/index-parse-isolated.ts';

describe('big indexes are parsed in a child process', () => {
  it('gives exactly what the in-process parser gives', async () => {
    const bytes = Buffer.from(syntheticIndexYaml(ISOLATED_MIN_BYTES * 2));
    const options = { repository: 'big', repoUrl: 'https://charts.example.com/stable' };
    const isolated = await parseIndexIsolated(bytes, options);
    assert.ok(isolated.size > 10);
    assert.deepEqual(isolated, parseIndex(bytes, options));
  });

  it('carries the parser error (reason and message) back from the child', async () => {
    const bytes = Buffer.concat([Buffer.from('apiVersion: v1\nentries: [unclosed\n'), Buffer.alloc(ISOLATED_MIN_BYTES, 0x20)]);
    await expectRepoError(parseIndexIsolated(bytes, { repository: 'broken', repoUrl: 'https://x' }), 'invalid_index', /repository broken: invalid index: malformed YAML at line 3/);
  });

  it('parses small indexes in process', async () => {
    const small = Buffer.from('apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls: [a-1.0.0.tgz]\n');
    assert.deepEqual([...(await parseIndexIsolated(small, { repository: 'small', repoUrl: 'https://x' })).keys()], ['a']);
  });
});

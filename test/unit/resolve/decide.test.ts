import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideOrigin, type CandidateEvidence } from '../../../src/resolve/decide.ts';

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
});

/**
 * Helm's constraint syntax is Masterminds/semver's: operators node-semver lacks (`!=`, `=>`, `=<`) must mean what
 * they mean to Helm — a Chart.yaml dependency `version: ">=1.0.0, !=1.2.3"` decides whether Helm keeps a subchart,
 * and a misread constraint would drop it from the reproduction of what Helm stored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConstraint, parseVersion } from '../../../src/chart/version.ts';

function accepts(constraint: string, version: string): boolean | undefined {
  const range = parseConstraint(constraint, false);
  const v = parseVersion(version);
  return range && v ? range.test(v) : undefined;
}

describe('Masterminds constraints', () => {
  it('!= excludes one version, alone, in an AND list and in one of several alternatives', () => {
    assert.equal(accepts('!=1.2.3', '1.2.3'), false);
    assert.equal(accepts('!=1.2.3', '1.2.4'), true);
    assert.equal(accepts('!=1.2.3', '0.1.0'), true);
    assert.equal(accepts('>=1.0, !=1.5.0', '1.5.0'), false);
    assert.equal(accepts('>=1.0, !=1.5.0', '1.6.0'), true);
    assert.equal(accepts('>=1.0, !=1.5.0', '0.9.0'), false);
    assert.equal(accepts('>= 1.0, != 1.5.0, != 1.6.0', '1.6.0'), false);
    assert.equal(accepts('>= 1.0, != 1.5.0, != 1.6.0', '1.7.0'), true);
    assert.equal(accepts('1.x || >=3, !=3.1.0', '3.1.0'), false);
    assert.equal(accepts('1.x || >=3, !=3.1.0', '1.9.0'), true);
  });

  it('=> and =< are >= and <=', () => {
    assert.equal(accepts('=>1.2.0', '1.2.0'), true);
    assert.equal(accepts('=>1.2.0', '1.1.9'), false);
    assert.equal(accepts('=<1.2.0', '1.2.0'), true);
    assert.equal(accepts('=<1.2.0', '1.2.1'), false);
  });

  it('what node-semver read before still reads the same; a != it cannot read is no constraint', () => {
    assert.equal(accepts('~1.2', '1.2.9'), true);
    assert.equal(accepts('^1', '1.9.0'), true);
    assert.equal(accepts('>= 1.2, < 3', '3.0.0'), false);
    assert.equal(accepts('', '9.9.9'), true);
    assert.equal(parseConstraint('!=1.x', false), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fluxOwnerOf } from '../../../src/decode/flux-owner.ts';

describe('fluxOwnerOf: helm-controller origin labels in a release manifest', () => {
  it('reads name and namespace of the HelmRelease', () => {
    const m = '---\n# Source: podinfo/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    app: web\n    helm.toolkit.fluxcd.io/name: web\n    helm.toolkit.fluxcd.io/namespace: apps\n';
    assert.deepEqual(fluxOwnerOf(m), { namespace: 'apps', name: 'web' });
  });
  it('nothing for a plain Helm manifest or half a label set', () => {
    assert.equal(fluxOwnerOf('kind: Service\nmetadata:\n  labels:\n    app: web\n'), undefined);
    assert.equal(fluxOwnerOf('metadata:\n  labels:\n    helm.toolkit.fluxcd.io/name: web\n'), undefined);
    assert.equal(fluxOwnerOf(undefined), undefined);
  });
});

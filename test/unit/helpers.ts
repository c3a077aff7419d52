import { readFileSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import type { StoredReleaseObject } from '../../src/model/release.ts';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

export function fixture(path: string): Buffer {
  return readFileSync(FIXTURES + path);
}

/** Encodes release JSON exactly as Helm's storage driver does: gzip (best compression), base64. */
export function helmEncode(json: string | Buffer): string {
  return gzipSync(json, { level: constants.Z_BEST_COMPRESSION }).toString('base64');
}

/** A release Secret as the API returns it: Helm's string, base64'd again by the API. */
export function releaseSecret(json: string | Buffer, name: string, revision: number, namespace = 'apps'): StoredReleaseObject {
  return {
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.${name}.v${revision}`, namespace, labels: { name, owner: 'helm', status: 'deployed', version: String(revision) } },
    data: { release: Buffer.from(helmEncode(json)).toString('base64') },
  };
}

export function releaseConfigMap(json: string | Buffer, name: string, revision: number, namespace = 'apps'): StoredReleaseObject {
  return {
    kind: 'ConfigMap',
    metadata: { name: `sh.helm.release.v1.${name}.v${revision}`, namespace, labels: { name, owner: 'helm', status: 'deployed', version: String(revision) } },
    data: { release: helmEncode(json) },
  };
}

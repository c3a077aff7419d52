import YAML from 'yaml';
import { isObject } from '../util/guards.ts';
import { HELM_SECRET_TYPE } from '../decode/decode.ts';
import type { StoredReleaseObject } from '../model/release.ts';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

function flatten(doc: unknown, out: unknown[]): void {
  if (Array.isArray(doc)) {
    for (const d of doc) flatten(d, out);
  } else if (isObject(doc) && Array.isArray(doc['items']) && (doc['kind'] === 'List' || String(doc['kind'] ?? '').endsWith('List'))) {
    for (const d of doc['items']) flatten(d, out);
  } else if (doc !== null && doc !== undefined) {
    out.push(doc);
  }
}

/** A Helm release object: a Secret of Helm's type, or a ConfigMap labelled owner=helm with data.release. */
function isReleaseObject(o: unknown): o is StoredReleaseObject {
  if (!isObject(o)) return false;
  if (o['kind'] === 'Secret' || (o['kind'] === undefined && o['type'] !== undefined)) return o['type'] === HELM_SECRET_TYPE;
  if (o['kind'] === 'ConfigMap') {
    const meta = o['metadata'];
    const labels = isObject(meta) ? meta['labels'] : undefined;
    const data = o['data'];
    return isObject(labels) && labels['owner'] === 'helm' && isObject(data) && typeof data['release'] === 'string';
  }
  return false;
}

/**
 * Objects from `kubectl get -o json|yaml` output: one object, a List, or several YAML documents.
 * JSON is parsed with JSON.parse (fast on large Lists); YAML with alias limits.
 */
export function readObjects(text: string, source: string): StoredReleaseObject[] {
  const docs: unknown[] = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      flatten(JSON.parse(trimmed), docs);
    } catch (err) {
      throw new InputError(`${source}: not valid JSON: ${(err as Error).message}`);
    }
  } else {
    for (const d of YAML.parseAllDocuments(text)) {
      if (d.errors.length) throw new InputError(`${source}: not valid YAML: ${d.errors[0]?.message.split('\n')[0] ?? ''}`);
      flatten(d.toJS({ maxAliasCount: 100 }), docs);
    }
  }
  const releases = docs.filter(isReleaseObject);
  if (releases.length === 0) {
    throw new InputError(`${source}: no Helm release found (expected a Secret of type ${HELM_SECRET_TYPE} or a ConfigMap labelled owner=helm)`);
  }
  return releases;
}

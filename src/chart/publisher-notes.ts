/**
 * What publishers say about a chart version beyond its version fields: Chart.yaml `home` and `sources`, and
 * the Artifact Hub annotations `artifacthub.io/changes`, `artifacthub.io/containsSecurityUpdates` and
 * `artifacthub.io/prerelease` (https://artifacthub.io/docs/topics/annotations/helm/). The same keys appear in
 * an index.yaml entry and in an OCI chart's config blob (Chart.yaml as JSON).
 */
import { FAILSAFE_SCHEMA, load } from 'js-yaml';
import type { ChartChange } from '../model/report.ts';
import type { PublisherNotes } from '../model/repository.ts';
import { isObject } from '../util/guards.ts';

/** A changes annotation longer than this is dropped while listing: Artifact Hub's own lists are a few KiB. */
export const MAX_CHANGES_ANNOTATION = 16 * 1024;
/** At most this many changes in a status (product.md), each description at most 200 characters. */
export const MAX_CHANGES = 20;
export const MAX_DESCRIPTION = 200;
/** Links per change, and their sizes: enough for "GitHub PR" + "Issue" without turning status into a bibliography. */
const MAX_LINKS = 3;
const MAX_LINK_NAME = 100;
const MAX_URL = 500;

const CHANGES = 'artifacthub.io/changes';
const SECURITY = 'artifacthub.io/containsSecurityUpdates';
const PRERELEASE = 'artifacthub.io/prerelease';

/**
 * The notes of one entry (an index entry or a chart config), or undefined when it has none. `str` reads a
 * scalar the way the caller's format does (index YAML is read with the failsafe schema: everything is a string).
 */
export function notesOf(entry: Record<string, unknown>, str: (v: unknown) => string | undefined): PublisherNotes | undefined {
  let notes: PublisherNotes | undefined;
  const add = <K extends keyof PublisherNotes>(key: K, value: PublisherNotes[K]): void => {
    if (value === undefined) return;
    notes ??= {};
    notes[key] = value;
  };
  const annotations = entry['annotations'];
  if (isObject(annotations)) {
    const changes = str(annotations[CHANGES]);
    if (changes !== undefined && changes.length <= MAX_CHANGES_ANNOTATION && changes.trim() !== '') add('changes', changes);
    if (str(annotations[SECURITY])?.toLowerCase() === 'true') add('securityUpdates', true);
    if (str(annotations[PRERELEASE])?.toLowerCase() === 'true') add('prerelease', true);
  }
  // Kept raw (checked by webUrl when shown): parsing a URL per entry is measurable on 30,000 entries.
  add('home', bounded(str(entry['home'])));
  const sources = entry['sources'];
  if (Array.isArray(sources)) add('source', bounded(str(sources[0])));
  return notes;
}

function bounded(v: string | undefined): string | undefined {
  return v !== undefined && v !== '' && v.length <= MAX_URL ? v : undefined;
}

/**
 * A chart's versions, newest first, keep: the changes of the newest 20 only (a status shows at most 20
 * changes, newest first, so older ones could only matter for a release more than 20 versions behind whose
 * newer versions have no changes at all); home and source on the newest version only (they describe the
 * chart); the booleans everywhere. Bounds what a listing retains to a few KiB per chart.
 */
export function trimNotes(versions: readonly { notes?: PublisherNotes | undefined }[]): void {
  for (let i = 1; i < versions.length; i++) {
    const n = versions[i]?.notes;
    if (!n) continue;
    n.home = undefined;
    n.source = undefined;
    if (i >= MAX_CHANGES) n.changes = undefined;
  }
}

/** An http(s) URL without credentials, bounded; anything else is not shown to users. */
export function webUrl(value: string | undefined): string | undefined {
  if (value === undefined || value.length > MAX_URL) return undefined;
  try {
    const u = new URL(value.trim());
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return undefined;
  }
}

function clip(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/**
 * `artifacthub.io/changes` → changes, bounded. Artifact Hub accepts a list of strings or a list of
 * `{kind, description, links: [{name, url}]}`; anything malformed is skipped, never an error (it is the
 * publisher's prose, not evidence).
 */
export function parseChanges(raw: string, limit = MAX_CHANGES): ChartChange[] {
  let doc: unknown;
  try {
    doc = load(raw, { schema: FAILSAFE_SCHEMA, maxAliases: 10, maxDepth: 8 } as Parameters<typeof load>[1]);
  } catch {
    return [];
  }
  if (!Array.isArray(doc)) return [];
  const out: ChartChange[] = [];
  for (const item of doc) {
    if (out.length >= limit) break;
    if (typeof item === 'string') {
      if (item.trim()) out.push({ description: clip(item, MAX_DESCRIPTION) });
      continue;
    }
    if (!isObject(item) || typeof item['description'] !== 'string' || !item['description'].trim()) continue;
    const change: ChartChange = { description: clip(item['description'], MAX_DESCRIPTION) };
    const kind = item['kind'];
    if (typeof kind === 'string' && /^[a-z]{1,20}$/.test(kind.trim().toLowerCase())) change.kind = kind.trim().toLowerCase();
    const links: { name: string; url: string }[] = [];
    if (Array.isArray(item['links'])) {
      for (const l of item['links']) {
        if (links.length >= MAX_LINKS) break;
        if (!isObject(l)) continue;
        const url = webUrl(typeof l['url'] === 'string' ? l['url'] : undefined);
        if (!url) continue;
        links.push({ name: clip(typeof l['name'] === 'string' && l['name'].trim() ? l['name'] : url, MAX_LINK_NAME), url });
      }
    }
    if (links.length) change.links = links;
    out.push(change);
  }
  return out;
}

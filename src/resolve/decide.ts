import type { MatchKind, OriginCandidate, OriginStatus } from '../model/report.ts';
import type { FluxSourceHint } from '../chart/flux-build.ts';
import { redactUrl } from '../sources/url.ts';
import { describeSource, servesSource } from './source-url.ts';

/** What one repository that publishes the installed name+version had to say about it. */
export interface CandidateEvidence {
  repository: string;
  repoURL: string;
  priority: number;
  /** `sha256:` of the tarball: computed when downloaded, else the digest the repository advertises. */
  tarballDigest?: string | undefined;
  manifestDigest?: string | undefined;
  /** undefined: content not compared; []: identical to the installed chart; else the parts that differ. */
  differences?: string[] | undefined;
  /** Why the content was not compared (download failed, verification disabled, proof impossible). */
  notCompared?: string | undefined;
  /** With differences []: the legitimate transformations the proof accounted for, in words. */
  accounted?: string[] | undefined;
}

function byPriority(a: CandidateEvidence, b: CandidateEvidence): number {
  return b.priority - a.priority || (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0);
}

/** The single highest-priority candidate, or undefined on a tie: priority only ever breaks ties. */
function uniqueTop(list: CandidateEvidence[]): CandidateEvidence | undefined {
  const sorted = [...list].sort(byPriority);
  const [first, second] = sorted;
  if (!first) return undefined;
  if (second && second.priority === first.priority) return undefined;
  return first;
}

function listed(all: CandidateEvidence[]): OriginCandidate[] | undefined {
  if (all.length < 2) return undefined;
  return [...all].sort(byPriority).map((c) => ({ repository: c.repository, repoURL: c.repoURL, tarballDigest: c.tarballDigest }));
}

function chosen(match: MatchKind, c: CandidateEvidence, all: CandidateEvidence[], message?: string): OriginStatus {
  return {
    match,
    repository: c.repository,
    repoURL: c.repoURL,
    tarballDigest: c.tarballDigest,
    manifestDigest: c.manifestDigest,
    candidates: listed(all),
    message,
  };
}

function describeDiff(c: CandidateEvidence): string {
  const parts = c.differences ?? [];
  const shown = parts.slice(0, 5).join(', ');
  return `${c.repository}: differs in ${shown}${parts.length > 5 ? ` and ${parts.length - 5} more` : ''}`;
}

/** "HelmRelease apps/web's sourceRef HelmRepository apps/charts (https://…)". */
function sourceWithUrl(s: FluxSourceHint): string {
  return `${describeSource(s)}${s.url !== undefined ? ` (${redactUrl(s.url)})` : ''}`;
}

/** Why the Flux source could not pick among equal candidates `equal`, none of which it serves. */
function notServed(s: FluxSourceHint): string {
  if (s.kind === 'GitRepository' || s.kind === 'Bucket') return `${describeSource(s)} is no chart repository, so it picks none of them`;
  if (s.url === undefined) return `${describeSource(s)} could not be read, so its URL picks none of them`;
  return `${sourceWithUrl(s)} is none of them`;
}

/**
 * Content evidence first, then the release's own Flux source, then uniqueness, then priority (product.md
 * `match`): Verified when the stored chart equals a served tarball; Mismatch when every candidate was compared
 * and none is equal; Unverified when one uncompared candidate remains; Ambiguous when several remain and
 * neither content, the Flux source nor priority can decide; NotFound when nobody publishes the name+version;
 * Unreachable when nobody that could be searched does, but some repository could not be searched.
 *
 * `declared`: the source the release's HelmRelease builds from (Flux releases only). It only chooses among
 * candidates whose content is already proven equal to the installed chart — never instead of that proof — and
 * ahead of priority: priority is the user's general preference between repositories, the HelmRelease says
 * where this release was pulled from. A candidate is the declared source by URL (source-url.ts servesSource).
 * When the declared source serves a chart that differs, the release stays Verified from the repository whose
 * content is equal, and the message says the HelmRelease names the other one (content is the proof; the
 * source may have been re-published or switched since the install). Uncompared candidates (Unverified,
 * Ambiguous "content not compared") are not chosen by it: without content, a pick would look like a proof.
 */
export function decideOrigin(candidates: CandidateEvidence[], unsearched: string[] = [], declared?: FluxSourceHint): OriginStatus {
  const note = unsearched.length ? `not searched (repository error): ${unsearched.join(', ')}` : undefined;
  if (candidates.length === 0) {
    // "Nobody publishes it" needs every repository's answer: one that could not be searched may have it.
    if (note) return { match: 'Unreachable', message: note };
    return { match: 'NotFound', message: 'no configured repository publishes this chart version' };
  }
  const equal = candidates.filter((c) => c.differences !== undefined && c.differences.length === 0);
  if (equal.length > 0) {
    const names = equal.map((c) => c.repository).sort();
    let top = equal.length === 1 ? equal[0] : undefined;
    let chosenBy: string | undefined;
    let unpicked: string | undefined;
    if (!top && declared) {
      const named = equal.filter((c) => servesSource(declared, c.repoURL));
      top = named.length === 1 ? named[0] : uniqueTop(named);
      if (top) chosenBy = `chosen among ${names.join(', ')} by ${describeSource(declared)}`;
      else if (named.length > 1) unpicked = `${describeSource(declared)} is each of ${named.map((c) => c.repository).sort().join(', ')}`;
      else unpicked = notServed(declared);
    }
    top ??= uniqueTop(equal);
    if (top) {
      // Verified always says how it was proven (product.md, Additions).
      const how = top.accounted?.length ? `proven with ${top.accounted.join('; ')}` : 'identical to the published chart';
      const chosenTop = top;
      // The declared source serves another chart than the one installed: said, never attributed to it.
      const differs = declared ? candidates.filter((c) => c !== chosenTop && c.differences?.length && servesSource(declared, c.repoURL)) : [];
      const sourceNote = differs.length ? `${sourceWithUrl(declared as FluxSourceHint)} is ${differs.map((c) => c.repository).join(', ')}, whose chart differs (${differs.map(describeDiff).join('; ')})` : undefined;
      return chosen('Verified', top, candidates, [how, chosenBy, unpicked, sourceNote, note].filter((x) => x !== undefined).join('; '));
    }
    const digests = new Set(equal.map((c) => c.tarballDigest));
    return {
      match: 'Ambiguous',
      tarballDigest: digests.size === 1 ? equal[0]?.tarballDigest : undefined,
      candidates: listed(candidates),
      message: `identical chart served by ${names.join(', ')} with equal priority${unpicked ? `; ${unpicked}` : ''}`,
    };
  }
  const open = candidates.filter((c) => c.differences === undefined);
  const differing = candidates.filter((c) => c.differences !== undefined);
  if (open.length === 0) {
    const closest = [...differing].sort((a, b) => (a.differences?.length ?? 0) - (b.differences?.length ?? 0))[0];
    const base: OriginStatus = {
      match: 'Mismatch',
      candidates: listed(candidates),
      message: `installed chart equals no published tarball; ${differing.map(describeDiff).join('; ')}`,
    };
    if (candidates.length === 1 && closest) {
      return { ...base, repository: closest.repository, repoURL: closest.repoURL, tarballDigest: closest.tarballDigest, manifestDigest: closest.manifestDigest };
    }
    return base;
  }
  const why = open.map((c) => `${c.repository}: ${c.notCompared ?? 'not compared'}`).join('; ');
  const rejected = differing.length ? `; rejected by content: ${differing.map(describeDiff).join('; ')}` : '';
  const top = open.length === 1 ? open[0] : uniqueTop(open);
  if (top) return chosen('Unverified', top, candidates, `content not compared (${why})${rejected}`);
  return {
    match: 'Ambiguous',
    candidates: listed(candidates),
    message: `published by ${open.map((c) => c.repository).sort().join(', ')}; content not compared (${why})${rejected}`,
  };
}

import type { MatchKind, OriginCandidate, OriginStatus } from '../model/report.ts';

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
  /** The legitimate transformation under which the content is equal (e.g. Flux's values merge). */
  transformation?: string | undefined;
  /** Why the content was not compared (download failed, verification disabled). */
  notCompared?: string | undefined;
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

/**
 * Content evidence first, then uniqueness, then priority (product.md `match`):
 * Verified when the stored chart equals a served tarball; Mismatch when every candidate was compared and
 * none is equal; Unverified when one uncompared candidate remains; Ambiguous when several remain and
 * neither content nor priority can decide; NotFound when nobody publishes the name+version.
 */
export function decideOrigin(candidates: CandidateEvidence[], unsearched: string[] = []): OriginStatus {
  const note = unsearched.length ? `not searched (repository error): ${unsearched.join(', ')}` : undefined;
  if (candidates.length === 0) {
    return { match: 'NotFound', message: note ?? 'no configured repository publishes this chart version' };
  }
  const equal = candidates.filter((c) => c.differences !== undefined && c.differences.length === 0);
  if (equal.length > 0) {
    const top = equal.length === 1 ? equal[0] : uniqueTop(equal);
    if (top) return chosen('Verified', top, candidates, [top.transformation, note].filter(Boolean).join('; ') || undefined);
    const digests = new Set(equal.map((c) => c.tarballDigest));
    return {
      match: 'Ambiguous',
      tarballDigest: digests.size === 1 ? equal[0]?.tarballDigest : undefined,
      candidates: listed(candidates),
      message: `identical chart served by ${equal.map((c) => c.repository).sort().join(', ')} with equal priority`,
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

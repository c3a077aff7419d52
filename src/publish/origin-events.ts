import type { Condition, OriginReport } from '../model/report.ts';
import { CONDITION, ORIGIN_REASON } from '../model/reasons.ts';

/** What of a published ChartOrigin status decides whether something changed worth an Event. */
export interface PublishedSummary {
  match?: string | undefined;
  repository?: string | undefined;
  latest?: string | undefined;
  deprecated?: boolean | undefined;
  readyReason?: string | undefined;
}

export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  /** Chart names, versions, repository names, digests and part names only: never values. */
  message: string;
}

/** The summary of a report, or of a status as read back from the API server (any field may be absent). */
export function summaryOf(r: {
  origin?: { match?: string | undefined; repository?: string | undefined } | undefined;
  chart?: { deprecated?: boolean | undefined } | undefined;
  latest?: { version?: string | undefined } | undefined;
  conditions?: readonly Pick<Condition, 'type' | 'reason'>[] | undefined;
}): PublishedSummary {
  return {
    match: r.origin?.match,
    repository: r.origin?.repository,
    latest: r.latest?.version,
    deprecated: r.chart?.deprecated === true,
    readyReason: r.conditions?.find((c) => c.type === CONDITION.Ready)?.reason,
  };
}

/**
 * The Events one analysis is worth, given what was published before (undefined: nothing yet).
 * Warnings (mismatch, not found, ambiguous, deprecated, signature) are raised on entering the state, also
 * on a release's first analysis; Normal events only on a change from an earlier published state, so that
 * a controller installed into a cluster of thousands of healthy releases does not write thousands of
 * Events, and a restart writes none.
 */
export function originEvents(previous: PublishedSummary | undefined, next: OriginReport): EventNote[] {
  const notes: EventNote[] = [];
  const chart = `${next.chart.name} ${next.chart.version}`;
  const { origin } = next;
  const matchChanged = previous?.match !== origin.match || previous.repository !== origin.repository;
  if (matchChanged) {
    const candidates = (origin.candidates ?? []).map((c) => c.repository).join(', ');
    switch (origin.match) {
      case 'Mismatch':
        notes.push({ type: 'Warning', reason: 'OriginMismatch', message: `${chart} matches no chart published${candidates ? ` by ${candidates}` : ''}${origin.message ? `: ${origin.message}` : ''}` });
        break;
      case 'NotFound':
        notes.push({ type: 'Warning', reason: 'OriginNotFound', message: origin.message ? `${chart}: ${origin.message}` : `${chart} is not published by any configured repository` });
        break;
      case 'Ambiguous':
        notes.push({ type: 'Warning', reason: 'OriginAmbiguous', message: `${chart} is published with the same content by ${candidates || 'several repositories'}` });
        break;
      case 'Verified':
        if (previous) notes.push({ type: 'Normal', reason: 'OriginVerified', message: `${chart} verified in ${origin.repository ?? '?'}${origin.tarballDigest ? ` (${origin.tarballDigest})` : ''}${previous.match ? `, was ${previous.match}` : ''}` });
        break;
      case 'Unverified':
        if (previous) notes.push({ type: 'Normal', reason: 'OriginUnverified', message: `${chart} found in ${origin.repository ?? '?'} but not compared${origin.message ? `: ${origin.message}` : ''}` });
        break;
    }
  }
  if (next.chart.deprecated && previous?.deprecated !== true) {
    notes.push({ type: 'Warning', reason: 'ChartDeprecated', message: next.chart.deprecationMessage ? `${chart}: ${next.chart.deprecationMessage}` : `${chart} is deprecated by its publisher` });
  }
  const ready = next.conditions.find((c) => c.type === CONDITION.Ready);
  if (ready?.reason === ORIGIN_REASON.SignatureNotVerified && previous?.readyReason !== ORIGIN_REASON.SignatureNotVerified) {
    notes.push({ type: 'Warning', reason: ORIGIN_REASON.SignatureNotVerified, message: ready.message });
  }
  if (previous && next.latest && next.latest.version !== previous.latest && next.upgrade && next.upgrade !== 'None') {
    const behind = next.versionsBehind !== undefined ? `, ${next.versionsBehind} version${next.versionsBehind === 1 ? '' : 's'} behind` : '';
    // The target, never a deprecated version: when latest is deprecated the upgrade points at an older one.
    const target = next.upgradeTarget ?? next.latest.version;
    const security = next.latest.securityUpdates ? '; contains security updates' : '';
    notes.push({ type: 'Normal', reason: 'UpgradeAvailable', message: `${next.chart.name} ${target} is available (${next.upgrade} upgrade from ${next.chart.version}${behind}${security})` });
  }
  return notes;
}

/** A release whose stored data cannot be decoded: one Warning when it enters that state. */
export function decodeErrorEvent(previous: PublishedSummary | undefined, message: string): EventNote[] {
  return previous?.readyReason === ORIGIN_REASON.DecodeError ? [] : [{ type: 'Warning', reason: ORIGIN_REASON.DecodeError, message }];
}

import type { Condition, OriginReport } from '../model/report.ts';
import { CONDITION, ORIGIN_REASON, STALE_REASON } from '../model/reasons.ts';
import { formatTime } from '../util/time.ts';

export interface StatusPolicyInput {
  /** The report just computed. */
  report: OriginReport;
  /** The last report published for this release by this controller, if any. */
  previous?: OriginReport | undefined;
  /** Repositories that failed while `report` was computed. */
  failed: readonly string[];
  /** Repositories whose last probe failed (served from cache meanwhile), with since when and why. */
  unavailable: ReadonlyMap<string, { since: string; reason: string }>;
  /** The conditions the ChartOrigin shows now, to keep transition times of unchanged ones. */
  shown: readonly ShownCondition[];
  now: Date;
}

export interface StatusDecision {
  /** The report to publish. */
  report: OriginReport;
  /** The previous report was kept instead of the one just computed. */
  keptPrevious: boolean;
  /** Repositories the published result depends on that did not answer (the `Stale` condition names them). */
  stale: string[];
  /** No repository failed and nothing is stale: the result is final until an input changes. */
  complete: boolean;
}

/** The repositories a report's origin was decided by: the origin and every candidate. */
function involved(r: OriginReport): string[] {
  return [r.origin.repository, ...(r.origin.candidates ?? []).map((c) => c.repository)].filter((x): x is string => !!x);
}

/**
 * What the ChartOrigin shows after an analysis: keep-last-good, Stale, and condition transition times.
 * - Keep last good: when the same revision of the same chart version was published before and a
 *   repository that decided that result failed now, the previous result is kept (with this revision's
 *   release fields): a worse answer computed without that repository is not published.
 * - Stale (`True`, reason `RepositoryUnavailable`): the published result involves a repository that is
 *   down, or failed now; also every failed repository when the previous result was kept. The message
 *   names them (with the probe's reason and since when). No Stale condition otherwise.
 * - Every condition whose status did not change keeps its `lastTransitionTime`.
 */
export function statusPolicy(i: StatusPolicyInput): StatusDecision {
  const failed = new Set(i.failed);
  const { report, previous } = i;
  const keptPrevious = previous !== undefined && previous.release.revision === report.release.revision && previous.chart.version === report.chart.version && involved(previous).some((r) => failed.has(r));
  const chosen = keptPrevious ? { ...previous, release: report.release, lastChecked: previous.lastChecked } : report;
  const uses = involved(chosen);
  const stale = [...new Set([...uses.filter((r) => i.unavailable.has(r)), ...[...failed].filter((r) => uses.includes(r) || keptPrevious)])];
  const conditions = chosen.conditions.filter((c) => c.type !== CONDITION.Stale);
  if (stale.length > 0) {
    const why = (r: string): string => {
      const down = i.unavailable.get(r);
      return down ? `${r} (${down.reason} since ${down.since})` : r;
    };
    conditions.push({
      type: CONDITION.Stale,
      status: 'True',
      reason: STALE_REASON.RepositoryUnavailable,
      message: `last known result kept; unavailable: ${stale.map(why).join(', ')}`,
      lastTransitionTime: formatTime(i.now),
    });
  }
  return {
    report: { ...chosen, conditions: carryTransitionTimes(conditions, i.shown) },
    keptPrevious,
    stale,
    complete: failed.size === 0 && stale.length === 0,
  };
}

/** The `Ready` condition of a release whose stored data cannot be decoded. */
export function decodeErrorCondition(message: string, now: Date): Condition {
  return { type: CONDITION.Ready, status: 'False', reason: ORIGIN_REASON.DecodeError, message, lastTransitionTime: formatTime(now) };
}

/** What carrying transition times needs of the conditions shown now (the informer keeps only this much). */
export type ShownCondition = Pick<Condition, 'type' | 'status' | 'lastTransitionTime'>;

/** Keeps a condition's lastTransitionTime when its status did not change (kstatus / API conventions). */
export function carryTransitionTimes(next: readonly Condition[], previous: readonly ShownCondition[]): Condition[] {
  return next.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    return prev && prev.status === c.status ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
  });
}

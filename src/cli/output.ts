import type { OriginReport } from '../model/report.ts';
import { neutralize } from '../util/terminal.ts';

/** `-o json`: one object per release shaped like ChartOrigin.status, plus name and namespace. */
function reportJson(r: OriginReport): Record<string, unknown> {
  const { majorVersionsBehind: _m, installedCreated: _c, upgradeTarget: _t, ...status } = r;
  return { name: r.release.name, namespace: r.release.namespace, ...status };
}

/** Absent fields are left out (JSON.stringify drops undefined members). */
export function renderJson(reports: readonly OriginReport[]): string {
  return `${JSON.stringify(reports.map(reportJson), null, 2)}\n`;
}

const COLUMNS = ['NAMESPACE', 'NAME', 'CHART', 'VERSION', 'LATEST', 'UPGRADE', 'BEHIND', 'MATCH', 'REPO'] as const;

/** A repository failure met for one release: enough to name it in the table. */
export interface FailureCell {
  repository: string;
  reason: string;
}

/**
 * A release whose chart was not found while a repository could not be read is `Unreachable`, not `NotFound`
 * (the chart may be in that repository; src/resolve/decide.ts): REPO names the repositories and reasons.
 */
function row(r: OriginReport, failures: readonly FailureCell[] | undefined): string[] {
  if ((r.origin.match === 'Unreachable' || r.origin.match === 'NotFound') && failures?.length) {
    const named = [...new Set(failures.map((f) => `${f.repository}: ${f.reason}`))].join(', ');
    return [...row(r, undefined).slice(0, 7), 'Unreachable', named];
  }
  return [
    r.release.namespace,
    r.release.name,
    r.chart.name + (r.chart.deprecated ? ' (deprecated)' : ''),
    r.chart.version,
    r.latest?.version ?? '-',
    r.upgrade ?? '-',
    r.versionsBehind === undefined ? '-' : String(r.versionsBehind),
    r.origin.match,
    r.origin.repository ?? '-',
  ];
}

/**
 * `-o table`: kubectl-style columns, padded. Every cell comes from a release Secret or a repository and is
 * neutralized: one line per release whatever its chart name holds, and no escape sequence reaches the terminal.
 */
export function renderTable(reports: readonly OriginReport[], failuresOf?: (r: OriginReport) => readonly FailureCell[] | undefined): string {
  const rows = [[...COLUMNS], ...reports.map((r) => row(r, failuresOf?.(r)).map(neutralize))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}

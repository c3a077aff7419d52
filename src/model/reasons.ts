/**
 * Condition reasons: public API (users alert on them, kstatus reads them), so they are written once here
 * and every module that sets or compares one uses these constants.
 */

/** ChartOrigin `Ready` reasons that are not an origin match (`Verified`, `Mismatch`, ... are reasons too). */
export const ORIGIN_REASON = {
  DecodeError: 'DecodeError',
  InvalidSpec: 'InvalidSpec',
  RepositoryUnavailable: 'RepositoryUnavailable',
  SignatureNotVerified: 'SignatureNotVerified',
} as const;

/** ChartOrigin `Stale` reason: the published result is the last good one, some repositories did not answer. */
export const STALE_REASON = { RepositoryUnavailable: 'RepositoryUnavailable' } as const;

/** ChartRepository `Ready` reasons. */
export const REPOSITORY_REASON = {
  Fetched: 'Fetched',
  FetchFailed: 'FetchFailed',
  InvalidSpec: 'InvalidSpec',
} as const;

/** Condition types. */
export const CONDITION = { Ready: 'Ready', Stale: 'Stale' } as const;

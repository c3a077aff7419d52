/**
 * What the content proof needs from a release besides digests, kept beside the decoded record for the
 * time one analysis takes and never on it: the record is printed, logged and published, these are not.
 *
 * `conditionValues` is the release's user values (`config`) reduced to tables, booleans and nulls
 * (conditionValues in chart/helm-install.ts): strings, numbers and lists are dropped at decode time
 * (inside `global` tables, replaced by keyed hashes).
 * A WeakMap, so the inputs go when the record goes; analyze discards them explicitly when done.
 */
import type { Table } from '../chart/coalesce.ts';
import type { ReleaseRecord } from '../model/release.ts';

export interface ProofInputs {
  conditionValues: Table;
  /**
   * When the user set globals that are not booleans: the digest of the stored `chart.values` with every
   * value inside a `global` table replaced by its keyed hash (chart/global-tokens.ts), for the proof of
   * releases written by Helm < 3.13, which stored the user's globals in the chart's values.
   */
  globalsValuesDigest?: string | undefined;
}

const inputs = new WeakMap<ReleaseRecord, ProofInputs>();

export function attachProofInputs(record: ReleaseRecord, value: ProofInputs): void {
  inputs.set(record, value);
}

export function proofInputsOf(record: ReleaseRecord): ProofInputs | undefined {
  return inputs.get(record);
}

export function discardProofInputs(record: ReleaseRecord): void {
  inputs.delete(record);
}

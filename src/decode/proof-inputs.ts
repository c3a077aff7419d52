/**
 * What the content proof needs from a release besides digests, kept beside the decoded record for the
 * time one analysis takes and never on it: the record is printed, logged and published, these are not.
 *
 * `conditionValues` is the release's user values (`config`) reduced to tables, booleans and nulls
 * (conditionValues in chart/helm-install.ts): strings, numbers and lists are dropped at decode time.
 * A WeakMap, so the inputs go when the record goes; analyze discards them explicitly when done.
 */
import type { Table } from '../chart/coalesce.ts';
import type { ReleaseRecord } from '../model/release.ts';

export interface ProofInputs {
  conditionValues: Table;
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

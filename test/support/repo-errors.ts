import assert from 'node:assert/strict';
import { RepoError, type RepoErrorReason } from '../../src/model/repository.ts';

/** Awaits `p` and asserts it fails with a RepoError of `reason` (and a message matching `pattern`). */
export async function expectRepoError(p: Promise<unknown>, reason: RepoErrorReason, pattern?: RegExp): Promise<RepoError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RepoError, `expected RepoError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a RepoError ${reason}`);
}

/** The synchronous form: `fn` throws a RepoError of `reason` whose message matches `pattern`. */
export function rejects(fn: () => unknown, reason: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RepoError, `expected RepoError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.match(err.message, pattern);
    return true;
  });
}

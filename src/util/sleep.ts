/**
 * The one sleep: resolves after `ms`, or as soon as `signal` aborts (never rejects, so a caller that
 * must stop on abort checks `signal.aborted` or calls `signal.throwIfAborted()` after it).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

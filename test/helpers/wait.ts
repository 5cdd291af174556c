/**
 * Waiting in tests without guessing how long something takes: poll a condition until it holds or
 * a deadline passes, and fail with what was awaited. Use it instead of a sleep that assumes
 * something has happened by then; prefer an event (once(emitter, ...), a promise the code under
 * test resolves) or mock.timers where one exists.
 */

export interface WaitOptions {
  /** What is awaited, for the error message. */
  readonly what?: string;
  /** Give up after this long (default 10 s): a generous bound, not a measurement. */
  readonly timeoutMs?: number;
  /** Pause between checks (default 20 ms). */
  readonly intervalMs?: number;
  /** Treat a throwing check as "not yet" (e.g. a client still reconnecting) instead of failing. */
  readonly retryErrors?: boolean;
}

/**
 * Resolves with the first value of `check` that is not undefined, null or false; rejects once
 * `timeoutMs` has passed without one (with the last error when `retryErrors` hid some).
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { what = 'a condition', timeoutMs = 10_000, intervalMs = 20, retryErrors = false } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (!retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A daemon started through npm (`npm start`, `npx strata …`) runs under `npm → sh -c → node`.
 * npm forwards SIGTERM to the shell, the shell dies without passing it on, and node is left
 * behind, re-parented to init, still holding the data directory's lock — the next start then
 * fails. `npm start` avoids the shell with `exec` (package.json); `npx` cannot, so a daemon that
 * npm launched also follows its parent: when the parent process goes away (process.ppid
 * changes), it shuts down as on SIGTERM.
 *
 * Only then: a daemon run from a shell with `nohup … &`, or by systemd, is meant to outlive its
 * parent. npm marks what it launches with `npm_lifecycle_event` (and `npm_command`);
 * STRATA_FOLLOW_LAUNCHER=1 forces the behaviour on, =0 off.
 */

export interface FollowOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How often the parent is looked at. Default 500 ms. */
  readonly intervalMs?: number;
}

/** Whether this process should stop when the process that launched it goes away. */
export function launchedByNpm(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const forced = env.STRATA_FOLLOW_LAUNCHER;
  if (forced === '1' || forced === 'true') return true;
  if (forced === '0' || forced === 'false') return false;
  return env.npm_lifecycle_event !== undefined || env.npm_command !== undefined;
}

/**
 * Calls `onGone(parentPid)` once when the parent process changes. Returns a function that stops
 * watching. A no-op when the process was not launched by npm or is already init's child.
 */
export function followLauncher(onGone: (parentPid: number) => void, options: FollowOptions = {}): () => void {
  const parent = process.ppid;
  if (!launchedByNpm(options.env) || parent <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, options.intervalMs ?? 500);
  // Watching must never be what keeps the daemon alive.
  timer.unref();
  return () => clearInterval(timer);
}

import { followLauncher } from './launcher.js';
import { logger } from './log.js';

/**
 * Prints a daemon's ready line and serves until SIGTERM or SIGINT, then stops it. Resolves with
 * the exit code: 0 after a clean stop, 1 when stopping failed. Started through npm (`npx strata`),
 * it also stops when its launcher goes away (src/core/launcher.ts).
 */
export function runUntilSignal(ready: unknown, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((done) => {
    let stopping = false;
    const shutdown = (signal: string, fields: Record<string, unknown> = {}) => {
      if (stopping) return;
      stopping = true;
      unfollow();
      logger('shutdown', { signal, ...fields });
      stop().then(
        () => done(0),
        () => done(1),
      );
    };
    const unfollow = followLauncher((parentPid) => shutdown('launcher_exit', { parentPid }));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    // Only now: a caller that signals as soon as it reads the line must find the handlers in
    // place (installing the first one takes a moment; a SIGTERM before it killed the process).
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  });
}

import { logger } from './log.js';

/**
 * Prints a daemon's ready line and serves until SIGTERM or SIGINT, then stops it. Resolves with
 * the exit code: 0 after a clean stop, 1 when stopping failed.
 */
export function runUntilSignal(ready: unknown, stop: () => Promise<void>): Promise<number> {
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  return new Promise<number>((done) => {
    const shutdown = (signal: string) => {
      logger('shutdown', { signal });
      stop().then(
        () => done(0),
        () => done(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

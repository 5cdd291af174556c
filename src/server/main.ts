import { main as cliMain, type DaemonEntry } from '../cli/main.js';

/**
 * The `strata` executable (bin/strata.js): the CLI, plus the daemons it can start. Each daemon is
 * imported only when asked for, so `strata fs ls` loads no server code.
 */
const DAEMONS: readonly DaemonEntry[] = [
  {
    words: ['worker'],
    run: async (leading, args) => (await import('./worker.js')).runWorker([...leading, ...args]),
  },
  {
    words: ['scheduler'],
    run: async (leading, args) => (await import('./scheduler-daemon.js')).runScheduler([...leading, ...args]),
  },
  {
    words: ['gateway', 's3'],
    run: async (leading, args) =>
      (await import('../gateway/s3/index.js')).runS3Gateway([...leading, ...args]),
  },
  {
    words: ['local'],
    run: async (leading, args) => (await import('./local.js')).runLocal([...leading, ...args]),
  },
  {
    // FUSE subcommands come first ("fuse mount DIR"), the global flags after them.
    words: ['fuse'],
    run: async (leading, args) => (await import('../fuse/cli.js')).runFuse([...args, ...leading]),
  },
];

export function main(argv: string[]): Promise<number> {
  return cliMain(argv, undefined, DAEMONS);
}

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StrataError } from '../core/errors.js';
import { FUSE_BUILD_HINT, fuseAddonBuilt, fuseAddonPath } from '../core/fuse-addon.js';
import { logger } from '../core/log.js';
import { fuseMountAt, unmountDir } from '../fuse/mountpoint.js';

/**
 * `strata local --fuse DIR`: the namespace also mounted at DIR, by the very `strata fuse mount
 * DIR --foreground` a user would run (so FUSE behaves, logs and is measured the same), as a
 * child of `strata local` pointed at its port and token. The mount goes with the process:
 * `stop()` (SIGTERM/SIGINT of strata local) ends the child and checks DIR has left
 * /proc/self/mountinfo, detaching it lazily and killing the child if it lingers; and the child
 * follows its parent (STRATA_FOLLOW_LAUNCHER=1, src/core/launcher.ts), so even a SIGKILLed
 * `strata local` does not leave it serving a mount whose server is gone.
 */

const STRATA_BIN = fileURLToPath(new URL('../../../bin/strata.js', import.meta.url));

/** How long the FUSE child may take to unmount and exit after SIGTERM. */
const STOP_GRACE_MS = 20_000;

export interface LocalFuse {
  readonly dir: string;
  readonly pid: number;
  /** Unmounts and ends the child; resolves once DIR is no longer a mount. */
  stop(): Promise<void>;
}

/** Refuses --fuse before anything starts when the addon is missing, saying how to build it. */
export function checkFuseAddon(): void {
  if (!fuseAddonBuilt())
    throw new StrataError(
      'UNSUPPORTED',
      `--fuse needs the FUSE addon, which is not built (${fuseAddonPath()} is missing): ${FUSE_BUILD_HINT}`,
    );
}

export async function startLocalFuse(options: {
  readonly dir: string;
  /** http://host:port of this strata local. */
  readonly registry: string;
  /** The token file; undefined when STRATA_TOKEN (inherited) or --insecure applies. */
  readonly tokenFile: string | undefined;
  /** This process's log level, passed on so the mount logs like the rest. */
  readonly logLevel?: string | undefined;
}): Promise<LocalFuse> {
  checkFuseAddon();
  const dir = resolve(options.dir);
  // Created when absent; anything else wrong with it (a file, a live mount) is fuse mount's to say.
  await mkdir(dir, { recursive: true }).catch(() => undefined);
  const args = [STRATA_BIN, 'fuse', 'mount', dir, '--foreground', '--registry', options.registry];
  if (options.tokenFile !== undefined) args.push('--token-file', options.tokenFile);
  if (options.logLevel !== undefined) args.push('--log-level', options.logLevel);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, STRATA_FOLLOW_LAUNCHER: '1' },
    // Its JSON logs go where ours go; its ready line is read here, not printed.
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = await new Promise<boolean>((ok) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"ready":true')) ok(true);
    });
    exited.then(() => ok(false));
  });
  if (!ready) {
    throw new StrataError(
      'UNAVAILABLE',
      `--fuse ${dir}: "strata fuse mount" exited with ${await exited} before the mount was ready (its log is above)`,
    );
  }
  child.stdout!.resume();
  logger('local_fuse_mounted', { dir, pid: child.pid });
  let stopping: Promise<void> | undefined;
  return {
    dir,
    pid: child.pid!,
    stop() {
      stopping ??= stopChild(child, exited, dir);
      return stopping;
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    logger('local_fuse_linger', { dir, pid: child.pid, graceMs: STOP_GRACE_MS });
    child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  const code = await exited;
  clearTimeout(timer);
  // A child that died without unmounting leaves a dead mount ("Transport endpoint is not connected").
  if (await fuseMountAt(dir)) {
    logger('local_fuse_stale', { dir, code });
    await unmountDir(dir, true);
  }
  logger('local_fuse_unmounted', { dir, code });
}

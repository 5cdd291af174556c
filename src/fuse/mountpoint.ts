import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { StrataError } from '../core/errors.js';

/**
 * Mountpoint housekeeping, all asynchronous (a synchronous call that touches a FUSE mount served
 * by this very process would deadlock it).
 */

const run = promisify(execFile);

/** The FUSE mount at `dir` from /proc/self/mountinfo, if any (fstype e.g. "fuse.strata"). */
export async function fuseMountAt(dir: string): Promise<{ fstype: string; source: string } | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  let found: { fstype: string; source: string } | undefined;
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = unescapeMount(left.split(' ')[4] ?? '');
    const [fstype = '', source = ''] = right.split(' ');
    if (mountPoint === dir) found = fstype.startsWith('fuse') ? { fstype, source } : undefined;
  }
  return found;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * Makes `dir` ready to be mounted on: a stale FUSE mount ("Transport endpoint is not connected",
 * left by a crashed daemon) is lazily unmounted; a live one is a conflict. Returns what it cleaned.
 */
export async function prepareMountpoint(dir: string): Promise<{ cleanedStale: boolean }> {
  let cleanedStale = false;
  try {
    await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTCONN' && code !== 'ECONNABORTED') {
      if (code === 'ENOENT')
        throw new StrataError('NOT_FOUND', `mountpoint ${dir} does not exist`, { cause: err });
      throw new StrataError('INVALID_ARGUMENT', `mountpoint ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await unmountDir(dir, true);
    cleanedStale = true;
    await stat(dir);
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw new StrataError('NOT_A_DIRECTORY', `mountpoint ${dir} is not a directory`);
  const live = await fuseMountAt(dir);
  if (live)
    throw new StrataError(
      'MOUNT_CONFLICT',
      `${dir} is already a live ${live.fstype} mount (unmount it first)`,
    );
  return { cleanedStale };
}

/** fusermount3 -u (or -uz: lazy, detaches even when busy or stale). Falls back to umount. */
export async function unmountDir(dir: string, lazy: boolean): Promise<void> {
  try {
    await run('fusermount3', [lazy ? '-uz' : '-u', dir], { timeout: 10_000 });
    return;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (/not mounted|not found in \/etc\/mtab|entry for .* not found/i.test(stderr)) return;
      if (/busy/i.test(stderr))
        throw new StrataError(
          'MOUNT_CONFLICT',
          `${dir} is busy (open files or a shell in it): ${stderr.trim()}`,
          {
            cause: err,
          },
        );
      if (!lazy) throw new StrataError('INTERNAL', `fusermount3 -u ${dir}: ${stderr.trim()}`, { cause: err });
    }
  }
  await run('umount', lazy ? ['-l', dir] : [dir], { timeout: 10_000 }).catch((err: unknown) => {
    throw new StrataError(
      'INTERNAL',
      `umount ${dir}: ${String((err as { stderr?: unknown }).stderr ?? err)}`,
      {
        cause: err,
      },
    );
  });
}

import { realpath } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { StrataError } from '../../core/errors.js';
import { ioThread } from '../../core/io-thread.js';
import { mapFsError } from './fs-errors.js';

/**
 * Maps normalised store paths onto local paths under one root and keeps them there.
 *
 * normalizePath already rejects "..", so a path can only escape through a symlink. Before each
 * operation we realpath the deepest existing ancestor of the target (or of its parent for
 * operations that replace or remove the final name rather than follow it) and require it to lie
 * inside the root's realpath. Symlinks that stay inside the root keep working. This is a check,
 * not a sandbox: someone who can create symlinks inside the root can still swap one in between
 * our check and the syscall (no openat2/RESOLVE_BENEATH from Node).
 */
export class Confinement {
  private realRoot: string | undefined;

  constructor(readonly root: string) {}

  /** 'follow': the op follows the final name (stat, read, list, mkdir); 'parent': it replaces or removes it. */
  async resolve(path: string, mode: 'follow' | 'parent'): Promise<string> {
    const root = await this.rootPath();
    const local = path === '/' ? root : root + path.split('/').join(sep);
    if (local === root) return root;
    let probe = mode === 'parent' ? dirname(local) : local;
    for (;;) {
      let real: string;
      try {
        real = await realpath(probe);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ENOTDIR') && probe.length > root.length) {
          probe = dirname(probe);
          continue;
        }
        throw mapFsError(err, path);
      }
      if (real !== root && !real.startsWith(root + sep)) {
        throw new StrataError(
          'INVALID_PATH',
          `path leads outside the store root through a symlink: ${path}`,
          {
            details: { path },
          },
        );
      }
      return local;
    }
  }

  /**
   * `length` bytes at `offset` of the file at `path` when it is a regular file inside the root
   * holding them all — open, check and read in one trip to the I/O thread. The check is on the
   * file opened (its /proc/self/fd link), so unlike resolve() a symlink swapped in between two
   * syscalls cannot lead it out. Undefined otherwise: resolve() and the caller explain why.
   */
  async readSmall(path: string, offset: number, length: number): Promise<Buffer | undefined> {
    const root = await this.rootPath();
    if (path === '/') return undefined;
    try {
      return await ioThread.read(root + path.split('/').join(sep), offset, length, root);
    } catch {
      return undefined;
    }
  }

  /** Whether a local path (a symlink's target) stays inside the root; false when it dangles. */
  async contains(local: string): Promise<boolean> {
    const root = await this.rootPath();
    try {
      const real = await realpath(local);
      return real === root || real.startsWith(root + sep);
    } catch {
      return false;
    }
  }

  private async rootPath(): Promise<string> {
    if (this.realRoot === undefined) {
      try {
        // Resolved once: the root itself may be a symlink (e.g. an NFS automount path).
        this.realRoot = await realpath(this.root);
      } catch (err) {
        throw mapFsError(err, '/', `store root ${this.root} is not accessible`);
      }
    }
    return this.realRoot;
  }
}

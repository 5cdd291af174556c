// Kept hand-written (docs/libraries.md): write-file-atomic ignores short writes (a full disk renames a truncated file in) and never fsyncs the directory.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StrataError } from '../core/errors.js';

/**
 * One JSON document in one file, replaced atomically (write a temp file, fsync, rename, fsync the
 * directory) so a crash leaves either the old or the new version, and a write that resolved
 * survives a power loss. Writes are serialised; the last one wins. A failed write removes its
 * temp file and leaves the old version in place.
 */
export class JsonFile<T> {
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  /** The stored document, or undefined when the file does not exist yet. */
  async read(): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StrataError('INTERNAL', `cannot read ${this.file}`, { cause: err });
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new StrataError('INTERNAL', `${this.file} is not valid JSON`, { cause: err });
    }
  }

  /** Queues a replace with `value` (serialised now, so later mutations of the caller don't leak in). */
  write(value: T): Promise<void> {
    const text = JSON.stringify(value, null, 2);
    const next = this.writing.then(() => this.replace(text));
    // A failed write must not poison the queue for the next one; the caller still sees it fail.
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** Resolves when every queued write has finished. */
  async flush(): Promise<void> {
    await this.writing;
  }

  private async replace(text: string): Promise<void> {
    const dir = dirname(this.file);
    const tmp = join(dir, `.${basename(this.file)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text); // loops over short writes: a full disk fails here, not later
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new StrataError('INTERNAL', `cannot write ${this.file}`, { cause: err });
    }
    try {
      await syncDirectory(dir); // the rename itself is durable only once the directory is
    } catch (err) {
      throw new StrataError('INTERNAL', `cannot sync ${dir} after writing ${this.file}`, { cause: err });
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some file systems cannot fsync a directory; there the rename is as durable as it gets.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await fh.close();
  }
}

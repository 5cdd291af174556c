import { randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StrataError } from '../core/errors.js';

/**
 * One JSON document in one file, replaced atomically (write a temp file, fsync, rename) so a
 * crash leaves either the old or the new version. Writes are serialised; the last one wins.
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
    const tmp = join(dirname(this.file), `.${basename(this.file)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      throw new StrataError('INTERNAL', `cannot write ${this.file}`, { cause: err });
    }
  }
}

/**
 * Persists the set of pinned fileIds as a small JSON file (`pins.json` in the first disk tier's
 * directory), written to a temporary name and renamed, one write at a time, so a crash leaves
 * either the old or the new set.
 */
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError, toStrataError } from '../core/errors.js';

const FILE_NAME = 'pins.json';

interface PinFileBody {
  readonly version: 1;
  readonly pinned: string[];
}

export class PinFile {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, FILE_NAME);
  }

  /** Reads the pinned set, deleting temporary files a crash left behind. */
  async load(): Promise<string[]> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.startsWith(`${FILE_NAME}.`) && name.endsWith('.tmp'))
        await unlink(join(this.dir, name)).catch(() => {});
    }
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toStrataError(err, 'INTERNAL');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new StrataError('INTERNAL', `pin file ${this.path} is not valid JSON`, { cause: err });
    }
    const pinned = (body as Partial<PinFileBody> | null)?.pinned;
    if (!Array.isArray(pinned) || !pinned.every((p) => typeof p === 'string')) {
      throw new StrataError('INTERNAL', `pin file ${this.path} has no "pinned" string list`);
    }
    return pinned;
  }

  /** Saves a snapshot; calls are applied in order, so the last save wins. */
  save(pinned: Iterable<string>): Promise<void> {
    const body: PinFileBody = { version: 1, pinned: [...pinned].sort() };
    const text = `${JSON.stringify(body)}\n`;
    const next = this.chain.then(async () => {
      const temp = `${this.path}.${process.pid}.${++this.seq}.tmp`;
      try {
        await writeFile(temp, text);
        await rename(temp, this.path);
      } catch (err) {
        throw toStrataError(err, 'INTERNAL');
      }
    });
    this.chain = next.catch(() => {});
    return next;
  }
}

/**
 * Which pages of each file a page store holds, and their sizes. Most cached files of a
 * many-small-files dataset are one page: such a file is kept as the number of bytes of its
 * page 0 instead of a Map of its own (a Map per file was ~150 B of heap each: 150 MB at 1 M
 * one-page files); a second page turns it into a Map.
 */
export class FilePages {
  readonly #files = new Map<string, number | Map<number, number>>();

  /** The bytes of each cached page of `fileId`, in no particular order. */
  *pages(fileId: string): IterableIterator<[index: number, bytes: number]> {
    const v = this.#files.get(fileId);
    if (v === undefined) return;
    if (typeof v === 'number') yield [0, v];
    else yield* v;
  }

  has(fileId: string): boolean {
    return this.#files.has(fileId);
  }

  totalBytes(fileId: string): number {
    const v = this.#files.get(fileId);
    if (v === undefined) return 0;
    if (typeof v === 'number') return v;
    let total = 0;
    for (const bytes of v.values()) total += bytes;
    return total;
  }

  set(fileId: string, index: number, bytes: number): void {
    const v = this.#files.get(fileId);
    if (v === undefined) {
      this.#files.set(fileId, index === 0 ? bytes : new Map([[index, bytes]]));
      return;
    }
    if (typeof v === 'number') {
      if (index === 0) this.#files.set(fileId, bytes);
      else
        this.#files.set(
          fileId,
          new Map([
            [0, v],
            [index, bytes],
          ]),
        );
      return;
    }
    v.set(index, bytes);
  }

  /** Forgets one page; the file goes when it was its last. */
  delete(fileId: string, index: number): void {
    const v = this.#files.get(fileId);
    if (v === undefined) return;
    if (typeof v === 'number') {
      if (index === 0) this.#files.delete(fileId);
      return;
    }
    if (v.delete(index) && v.size === 0) this.#files.delete(fileId);
  }

  deleteFile(fileId: string): void {
    this.#files.delete(fileId);
  }

  files(): IterableIterator<string> {
    return this.#files.keys();
  }
}

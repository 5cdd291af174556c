import type { Readable } from 'node:stream';
import { StrataError, toStrataError } from '../core/errors.js';
import { redactUri } from '../core/mounts.js';
import {
  type CallOptions,
  type ListOptions,
  type ListPage,
  type ReadOptions,
  type UfsCapabilities,
  type UfsStatus,
  UnderStore,
  type WriteOptions,
} from '../ufs/under-store.js';

/**
 * The store of a mount whose store did not answer when it was mounted (a worker starting while an
 * origin is down). Until `open()` — called once a background check of the store's root succeeds —
 * every call fails at once with UFS_UNAVAILABLE saying which mount, which store and why, instead
 * of each caller waiting for the connector to give up; afterwards calls go to `inner`.
 */
export class PendingStore extends UnderStore {
  readonly uri: string;
  readonly capabilities: UfsCapabilities;
  private available = false;
  /** Why the store is unavailable: the last failed check. */
  private reason: StrataError;
  private nextCheckAtMs = 0;

  constructor(
    readonly inner: UnderStore,
    private readonly mountPath: string,
    cause: unknown,
  ) {
    super();
    this.uri = inner.uri;
    this.capabilities = inner.capabilities;
    this.reason = toStrataError(cause);
  }

  get isAvailable(): boolean {
    return this.available;
  }

  /** Records why the last check failed. */
  failed(cause: unknown): void {
    this.reason = toStrataError(cause);
  }

  /** When the next check is due (said in the error). */
  checkDueAt(timeMs: number): void {
    this.nextCheckAtMs = timeMs;
  }

  open(): void {
    this.available = true;
  }

  /** The error every call fails with while the store is unavailable. */
  unavailableError(): StrataError {
    const next = Math.max(0, Math.ceil((this.nextCheckAtMs - Date.now()) / 1000));
    return new StrataError(
      'UFS_UNAVAILABLE',
      `${this.mountPath} is unavailable: its store ${redactUri(this.inner.uri)} does not answer ` +
        `(${this.reason.code}: ${this.reason.message}); retrying in the background, next check in ${next} s`,
      { details: { mount: this.mountPath, cause: this.reason.code } },
    );
  }

  private gate(): void {
    if (!this.available) throw this.unavailableError();
  }

  protected async _status(path: string, options: CallOptions): Promise<UfsStatus> {
    this.gate();
    return this.inner.status(path, options);
  }

  protected async _list(path: string, options: ListOptions): Promise<ListPage> {
    this.gate();
    return this.inner.list(path, options);
  }

  override async *listBatches(
    path: string,
    options: CallOptions & { batch?: number } = {},
  ): AsyncGenerator<UfsStatus[]> {
    this.gate();
    yield* this.inner.listBatches(path, options);
  }

  /** The inner store's listAll (see InstrumentedStore.listAll: the base loop re-reads a file directory per page). */
  override async listAll(path: string, options: CallOptions = {}): Promise<UfsStatus[]> {
    this.gate();
    return this.inner.listAll(path, options);
  }

  protected async _read(path: string, options: ReadOptions): Promise<Readable> {
    this.gate();
    return this.inner.read(path, options);
  }

  protected override async _readBuffer(
    path: string,
    options: ReadOptions & { readonly length: number },
  ): Promise<Buffer> {
    this.gate();
    return this.inner.readBuffer(path, options);
  }

  protected async _write(path: string, source: Readable, options: WriteOptions): Promise<UfsStatus> {
    this.gate();
    return this.inner.write(path, source, options);
  }

  protected async _delete(path: string, options: CallOptions & { recursive?: boolean }): Promise<void> {
    this.gate();
    return this.inner.delete(path, options);
  }

  protected async _mkdir(path: string, options: CallOptions): Promise<void> {
    this.gate();
    return this.inner.mkdir(path, options);
  }

  protected async _rename(from: string, to: string, options: CallOptions): Promise<void> {
    this.gate();
    return this.inner.rename(from, to, options);
  }

  override close(): Promise<void> {
    return this.inner.close();
  }
}

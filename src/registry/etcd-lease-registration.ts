import type { Lease } from 'etcd3';
import { StrataError } from '../core/errors.js';
import { encodeKey, translateEtcdError } from './etcd-errors.js';
import type { EtcdRegistry } from './etcd-registry.js';
import type { WorkerInfo, WorkerRegistration } from './registry.js';

/**
 * A worker's key on an etcd lease that this handle keeps alive itself: one keepalive call every
 * TTL/3 under the call deadline, on a timer it owns. (etcd3's own keepalive loop can start two
 * streams after an error and lose track of one, whose interval then keeps the process alive
 * forever.) When the lease is lost (no renewal for a TTL, or etcd says it expired) onLost is
 * called and the handle keeps trying to register again on a new lease until it succeeds or is
 * closed.
 */
export class EtcdWorkerRegistration implements WorkerRegistration {
  onLost?: (err: unknown) => void;
  renewedAtMs = 0;
  private lease: Lease | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: EtcdRegistry,
    private info: WorkerInfo,
    private readonly ttlSeconds: number,
    /** Where the record lives: `workers/`, or `members/<role>/` for other roles' records. */
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return this.prefix + encodeKey(this.info.id);
  }

  /** @internal grants a lease and puts the record on it. */
  async start(): Promise<void> {
    const lease = this.registry.ns.lease(this.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', (err) => this.lost(lease, err));
    try {
      await this.registry.call('grant lease', () => lease.grant());
      await this.registry.call('register worker', () =>
        lease.put(this.key).value(JSON.stringify(this.info)).exec(),
      );
    } catch (err) {
      lease.release();
      lease.revoke().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.keepAlive(lease);
  }

  /** Renews `lease` every TTL/3 while it is this handle's lease; a TTL without renewal loses it. */
  private keepAlive(lease: Lease): void {
    const ttlMs = this.ttlSeconds * 1000;
    let renewedAt = Date.now();
    this.renewedAtMs = renewedAt;
    const tick = async () => {
      if (this.closed || this.lease !== lease) return;
      try {
        await this.registry.call('lease keepalive', () => lease.keepaliveOnce());
        renewedAt = Date.now();
        this.renewedAtMs = renewedAt;
      } catch (err) {
        if (/LeaseInvalid/.test((err as Error)?.constructor?.name ?? '') || Date.now() - renewedAt >= ttlMs) {
          this.lost(lease, err);
          return;
        }
      }
      if (!this.closed && this.lease === lease) this.keepaliveTimer = setTimeout(tick, ttlMs / 3);
    };
    this.keepaliveTimer = setTimeout(tick, ttlMs / 3);
  }

  async update(patch: Partial<Pick<WorkerInfo, 'state' | 'capacityBytes'>>): Promise<void> {
    if (this.closed) throw new StrataError('UNAVAILABLE', `worker ${this.info.id} is no longer registered`);
    this.info = { ...this.info, ...patch };
    const lease = this.lease;
    // While re-registering, the new lease is put with the updated record.
    if (lease === undefined)
      throw new StrataError('UNAVAILABLE', `worker ${this.info.id} lost its lease; re-registering`);
    await this.registry.call('update worker', () =>
      lease.put(this.key).value(JSON.stringify(this.info)).exec(),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.keepaliveTimer);
    this.registry.forget(this);
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    try {
      await this.registry.call('revoke lease', () => lease.revoke());
    } catch {
      // etcd is away: let the lease expire on its own within the TTL.
      lease.release();
    }
  }

  private lost(lease: Lease, err: unknown): void {
    if (this.closed || this.lease !== lease) return;
    this.lease = undefined;
    clearTimeout(this.keepaliveTimer);
    lease.release();
    try {
      this.onLost?.(translateEtcdError(err, `lease of worker ${this.info.id}`));
    } catch {
      // The owner's handler failing must not stop the re-registration.
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.start().catch(() => this.scheduleRetry());
    }, 1000);
  }
}

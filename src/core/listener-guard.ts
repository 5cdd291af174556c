import type { Server, Socket } from 'node:net';

/**
 * Bounds of a listener (the S3 port, the admin/RPC port): how many connections one client
 * address may hold, and how many requests are served at once. Past either, a request is answered
 * at once with 503 (S3 `SlowDown`, RPC `OVERLOADED`) and `Retry-After`, never queued: a queue
 * without a bound is memory without a bound, and a client that retries later gets served.
 */
export interface ListenerLimits {
  /** Open connections from one remote address; the next ones get 503 to their first request. */
  readonly maxConnectionsPerAddress: number;
  /** Requests being served at once on this listener; the next get 503 until one finishes. */
  readonly maxInFlight: number;
}

/** Limits as options: an absent or undefined one takes its default. */
export type ListenerLimitOptions = { readonly [K in keyof ListenerLimits]?: number | undefined };

/**
 * 1,000 concurrent connections from one load generator (issue 16's soak) must fit under the
 * per-address cap; the in-flight bound is above what one 2-core process answers usefully.
 */
export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxConnectionsPerAddress: 4096,
  maxInFlight: 1024,
};

/** Seconds a refused client is told to wait (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 1;

export type Refusal = 'connections' | 'in-flight';

/** Counts connections per address and requests in flight for one server. */
export class ListenerGuard {
  readonly #limits: ListenerLimits;
  readonly #perAddress = new Map<string, number>();
  /**
   * Connections over their address's cap, by remote address and port: a TLS server's requests
   * come on the TLS socket, not on the TCP one 'connection' gave, and both name the same peer.
   */
  readonly #over = new Set<string>();
  #inFlight = 0;

  /**
   * Counts every TCP connection ('connection'), TLS ones included from before their handshake,
   * so connections that never finish one count too (the handshake timeout ends them).
   */
  constructor(server: Server, limits: ListenerLimitOptions = {}) {
    this.#limits = { ...DEFAULT_LISTENER_LIMITS, ...definedOnly(limits) };
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      const peer = peerOf(socket);
      const n = (this.#perAddress.get(address) ?? 0) + 1;
      this.#perAddress.set(address, n);
      if (n > this.#limits.maxConnectionsPerAddress) this.#over.add(peer);
      socket.once('close', () => {
        this.#over.delete(peer);
        const left = (this.#perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.#perAddress.delete(address);
        else this.#perAddress.set(address, left);
      });
    });
  }

  get limits(): ListenerLimits {
    return this.#limits;
  }

  inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Admits a request (counted until its response closes) or says why not. A connection over its
   * address's cap is refused on every request it sends, so it is closed after the answer.
   */
  admit(socket: Socket, onDone: { once(event: 'close', fn: () => void): unknown }): Refusal | undefined {
    if (this.#over.has(peerOf(socket))) return 'connections';
    if (this.#inFlight >= this.#limits.maxInFlight) return 'in-flight';
    this.#inFlight++;
    onDone.once('close', () => this.#inFlight--);
    return undefined;
  }
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

function definedOnly(limits: ListenerLimitOptions): Partial<ListenerLimits> {
  const out: { -readonly [K in keyof ListenerLimits]?: number } = {};
  for (const [k, v] of Object.entries(limits)) if (v !== undefined) out[k as keyof ListenerLimits] = v;
  return out;
}

/** What a refusal says to a person reading the error. */
export function refusalMessage(why: Refusal, limits: ListenerLimits): string {
  return why === 'connections'
    ? `too many connections from this address (limit ${limits.maxConnectionsPerAddress}); reduce your connection count`
    : `server busy: ${limits.maxInFlight} requests in flight; please reduce your request rate`;
}

const lingering = new WeakSet<Socket>();

/**
 * Whether the socket is closing after an answer: node's parser reports every later chunk of a
 * request it could not parse as another client error, which must not reset the socket.
 */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * Closes a connection after an answer without resetting it: the write side is ended and what the
 * client still sends is read and dropped for up to `ms`, so the answer is not lost to a TCP RST
 * (a close with unread bytes resets, and the peer may then never see the answer).
 */
export function lingerClose(socket: Socket, ms = 2000): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.resume();
  socket.end();
  setTimeout(() => socket.destroy(), ms).unref();
}

/**
 * For a response that finished before its request's body was read (an early 4xx/5xx): node ends
 * such a connection and destroys it once the answer is written, which resets it while the client
 * is still sending, and the client may lose the answer. Called from the response's 'finish'
 * (after node's own handler), it turns that into a lingering close.
 */
export function lingerIfUnread(socket: Socket | null, requestComplete: boolean): void {
  if (requestComplete || !socket || socket.destroyed) return;
  socket.removeListener('finish', socket.destroy);
  lingerClose(socket);
}

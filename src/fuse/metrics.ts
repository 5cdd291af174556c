import { constants } from 'node:os';
import type { Registry } from 'prom-client';
import { log, logEnabled, logSeconds } from '../core/log.js';
import { RequestHistogram } from '../core/request-metrics.js';
import { type FuseAddon, OP_NAMES, type Token } from './native.js';

/** errno number → symbol ("ENOENT"), from the platform's table. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno as Readonly<Record<string, number>>))
  if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** The outcome label of a reply: "ok", or the errno symbol of a negative result. */
export function outcomeOf(result: number): string {
  return result >= 0 ? 'ok' : (ERRNO_NAMES.get(-result) ?? 'EIO');
}

interface Pending {
  readonly op: number;
  readonly started: number;
  readonly requestId: string;
}

/**
 * Times every FUSE request from its arrival on the JS thread to its reply:
 * strata_fuse_request_duration_seconds{operation,outcome} (operation: getattr, read…; outcome:
 * ok or the errno symbol). The reply function is wrapped, so whatever branch answers, the answer
 * is what is counted. Requests are tracked by their native token (a WeakMap: a token the native
 * side dropped after its deadline is simply collected).
 */
export class FuseRequestMetrics {
  readonly #durations: RequestHistogram<'operation', 'outcome'> | undefined;
  readonly #pending = new WeakMap<Token, Pending>();

  constructor(registry: Registry | undefined) {
    this.#durations =
      registry === undefined
        ? undefined
        : new RequestHistogram(registry, {
            name: 'strata_fuse_request_duration_seconds',
            help: 'FUSE requests from arrival to reply, by operation and outcome (ok or the errno symbol)',
            labels: ['operation', 'outcome'],
          });
  }

  /** Whether anything is recorded (metrics, or debug logs). */
  get active(): boolean {
    return this.#durations !== undefined || logEnabled('debug');
  }

  begin(token: Token, op: number, requestId: string): void {
    this.#pending.set(token, { op, started: performance.now(), requestId });
  }

  /** The addon with a reply that records the request it answers. */
  instrument(addon: FuseAddon): FuseAddon {
    const reply = addon.reply;
    return {
      mount: addon.mount.bind(addon),
      exit: addon.exit.bind(addon),
      grant: addon.grant.bind(addon),
      forget: addon.forget.bind(addon),
      reply: (token, result, a, b) => {
        this.#settle(token, result);
        reply(token, result, a, b);
      },
    };
  }

  #settle(token: Token, result: number): void {
    const p = this.#pending.get(token);
    if (p === undefined) return;
    this.#pending.delete(token);
    const operation = OP_NAMES[p.op] ?? 'unknown';
    const outcome = outcomeOf(result);
    const seconds = (performance.now() - p.started) / 1000;
    this.#durations?.observe(operation, outcome, seconds);
    if (logEnabled('debug'))
      log.debug('fuse_request', { operation, outcome, seconds: logSeconds(seconds), requestId: p.requestId });
  }
}

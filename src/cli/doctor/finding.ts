/**
 * What `strata doctor` reports: findings, each of one check, with a status and — when it is not
 * ok — what to do about it. `--json` prints a DoctorReport; any `fail` makes the exit code 1.
 */

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** The check: registry, store, port, tier, clock, fuse. */
  readonly check: string;
  /** What it looked at: a mount path, a worker, a directory. */
  readonly subject?: string;
  readonly status: FindingStatus;
  readonly message: string;
  /** What to do, when the status is not ok. */
  readonly fix?: string;
}

export interface DoctorReport {
  /** No finding failed (warnings allowed). */
  readonly ok: boolean;
  readonly findings: readonly Finding[];
}

export function finding(
  check: string,
  status: FindingStatus,
  message: string,
  more: { subject?: string | undefined; fix?: string | undefined } = {},
): Finding {
  return {
    check,
    ...(more.subject === undefined ? {} : { subject: more.subject }),
    status,
    message,
    ...(more.fix === undefined || status === 'ok' ? {} : { fix: more.fix }),
  };
}

/** A time at which a server answered, from its HTTP Date header, for the clock check. */
export interface ClockSample {
  /** Who answered, e.g. "registry http://127.0.0.1:19998". */
  readonly source: string;
  /** Local Date.now() when the request was sent and when its answer arrived. */
  readonly sentAtMs: number;
  readonly receivedAtMs: number;
  /** The Date header (whole seconds). */
  readonly serverMs: number;
}

/** A daemon of the deployment the port, tier and clock checks look at. */
export interface DaemonTarget {
  readonly role: 'local' | 'worker' | 'scheduler';
  readonly id: string;
  readonly address: string;
  readonly state?: string;
}

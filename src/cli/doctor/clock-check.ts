import { type ClockSample, type Finding, finding } from './finding.js';

/**
 * This machine's clock against the registry's (and the daemons'), from the Date header of their
 * answers. The header has whole seconds, so a reading is uncertain by up to 1 s plus the round
 * trip: skew within WARN_SKEW_MS is ok. Past it TTLs, job retention and logs disagree between
 * machines (warn); past FAIL_SKEW_MS the S3 gateway refuses what clients on either side sign
 * (SigV4 allows 15 minutes), a failure.
 */

export const WARN_SKEW_MS = 2_000;
export const FAIL_SKEW_MS = 15 * 60_000;

/** Estimated server − local, in ms: the header is truncated to the second, so +500 ms. */
export function skewMs(s: ClockSample): number {
  return s.serverMs + 500 - (s.sentAtMs + s.receivedAtMs) / 2;
}

export function checkClock(samples: readonly ClockSample[]): Finding[] {
  if (samples.length === 0)
    return [
      finding('clock', 'warn', 'no answer carried a Date header: skew not measured', {
        fix: 'see the registry finding',
      }),
    ];
  const out: Finding[] = [];
  let worst = 0;
  for (const s of samples) {
    const skew = skewMs(s);
    const margin = 500 + (s.receivedAtMs - s.sentAtMs) / 2;
    const beyond = Math.abs(skew) - margin;
    worst = Math.max(worst, Math.abs(skew));
    if (beyond <= WARN_SKEW_MS) continue;
    const ahead = skew > 0 ? 'ahead of' : 'behind';
    const status = beyond > FAIL_SKEW_MS ? 'fail' : 'warn';
    out.push(
      finding(
        'clock',
        status,
        `${s.source} is ${(Math.abs(skew) / 1000).toFixed(1)} s ${ahead} this machine (±${(margin / 1000).toFixed(1)} s; ok within ${WARN_SKEW_MS / 1000} s, fail past ${FAIL_SKEW_MS / 60_000} min)`,
        {
          subject: s.source,
          fix: 'run time synchronisation on both machines (systemd-timesyncd, chrony or ntpd)',
        },
      ),
    );
  }
  if (out.length === 0)
    out.push(
      finding(
        'clock',
        'ok',
        `within ${WARN_SKEW_MS / 1000} s of the ${samples.length} server${samples.length === 1 ? '' : 's'} asked (the registry, the daemons; largest reading ${(worst / 1000).toFixed(1)} s, Date headers have 1 s steps)`,
      ),
    );
  return out;
}

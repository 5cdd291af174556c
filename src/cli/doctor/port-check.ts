import { type ClockSample, type DaemonTarget, type Finding, finding } from './finding.js';
import { probe, transportText } from './http-probe.js';

/** Every daemon the registry lists answers /healthz at the address it registered. */

export async function checkPorts(
  targets: readonly DaemonTarget[],
): Promise<{ findings: Finding[]; clock: ClockSample[] }> {
  const findings: Finding[] = [];
  const clock: ClockSample[] = [];
  const seen = new Set<string>();
  for (const t of targets) {
    // strata local serves its worker and its scheduler on one port: asked once.
    if (seen.has(t.address)) continue;
    seen.add(t.address);
    const subject = `${t.role} ${t.id}`;
    try {
      const answer = await probe(`${t.address}/healthz`, { source: `${subject} ${t.address}` });
      if (answer.clock) clock.push(answer.clock);
      if (answer.status !== 200) {
        findings.push(
          finding('port', 'fail', `${t.address}/healthz answered HTTP ${answer.status}`, {
            subject,
            fix: 'another program may hold the port the daemon registered: look at what listens there',
          }),
        );
        continue;
      }
      const state = t.state !== undefined && t.state !== 'ACTIVE' ? t.state : undefined;
      findings.push(
        finding(
          'port',
          state === undefined ? 'ok' : 'warn',
          `${t.address} answers /healthz${state === undefined ? '' : `, but the worker is ${state}`}`,
          { subject, fix: 'a DRAINING worker is stopping: start it again once it has left, or wait' },
        ),
      );
    } catch (err) {
      findings.push(
        finding('port', 'fail', `${t.address} does not answer /healthz: ${transportText(err)}`, {
          subject,
          fix: 'is the daemon running? Can this machine reach that address (firewall; --host and --advertise-host of the daemon)?',
        }),
      );
    }
  }
  return { findings, clock };
}

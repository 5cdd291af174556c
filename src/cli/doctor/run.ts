import type { StrataFileSystem } from '../../client/types.js';
import { checkClock } from './clock-check.js';
import type { DaemonTarget, DoctorReport, Finding } from './finding.js';
import { checkFuse } from './fuse-check.js';
import { checkPorts } from './port-check.js';
import { checkRegistry } from './registry-check.js';
import { checkStores } from './store-check.js';
import { checkTiers } from './tier-check.js';

/**
 * `strata doctor`: the registry first (everything else is found through it), then each mount's
 * store, the daemons' ports, the workers' directories, clock skew and the FUSE prerequisites of
 * this machine. Checks that need the registry are not run when it cannot be used; the report
 * says so through the registry's own failure.
 */

export interface DoctorOptions {
  readonly registry: string | undefined;
  readonly tokenFile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly writeProbe: boolean;
  /** The connected file system (the CLI's ctx.fs()). */
  readonly fs: () => Promise<StrataFileSystem>;
  /** The schedulers the deployment lists (ctx.jobs().schedulers()). */
  readonly schedulers: () => Promise<ReadonlyArray<{ readonly id: string; readonly address: string }>>;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const registry = await checkRegistry(options.registry, options.tokenFile, options.env);
  findings.push(...registry.findings);
  const view = registry.view;
  if (view !== undefined) {
    let fs: StrataFileSystem | undefined;
    try {
      fs = await options.fs();
    } catch (err) {
      findings.push({
        check: 'store',
        status: 'fail',
        message: `cannot connect to the workers: ${(err as Error).message}`,
        fix: 'see the registry and port findings',
      });
    }
    if (fs !== undefined) findings.push(...(await checkStores(fs, { writeProbe: options.writeProbe })));
    const targets: DaemonTarget[] = [...view.workers];
    try {
      for (const s of await options.schedulers())
        targets.push({ role: 'scheduler', id: s.id, address: s.address });
    } catch (err) {
      findings.push({
        check: 'port',
        subject: 'schedulers',
        status: 'warn',
        message: `the schedulers cannot be listed: ${(err as Error).message}`,
        fix:
          view.kind === 'etcd'
            ? 'start "strata scheduler --registry URI" to run jobs'
            : 'see the log of strata local',
      });
    }
    const ports = await checkPorts(targets);
    findings.push(...ports.findings);
    findings.push(...(await checkTiers(view.workers, view.token)));
    findings.push(...checkClock([...view.clock, ...ports.clock]));
  }
  findings.push(...(await checkFuse(options.env)));
  return { ok: findings.every((f) => f.status !== 'fail'), findings };
}

const LABEL = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** One line per finding, its fix below it, and a count at the end. */
export function renderDoctor(report: DoctorReport): string {
  const width = Math.max(...report.findings.map((f) => label(f).length));
  const lines: string[] = [];
  for (const f of report.findings) {
    lines.push(`${LABEL[f.status]}  ${label(f).padEnd(width)}  ${f.message}`);
    if (f.fix !== undefined) lines.push(`      ${' '.repeat(width)}  fix: ${f.fix}`);
  }
  const fails = report.findings.filter((f) => f.status === 'fail').length;
  const warns = report.findings.filter((f) => f.status === 'warn').length;
  lines.push(
    '',
    `${fails} failed, ${warns} warning${warns === 1 ? '' : 's'}, ${report.findings.length - fails - warns} ok`,
  );
  return `${lines.join('\n')}\n`;
}

function label(f: Finding): string {
  return f.subject === undefined ? f.check : `${f.check} ${f.subject}`;
}

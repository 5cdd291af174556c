import { defineCommand, flag, print } from '../command.js';
import { renderDoctor, runDoctor } from '../doctor/run.js';
import { json } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['doctor'],
  summary: 'check a deployment: registry, stores, ports, disk tiers, clock, FUSE; prints fixes',
  usage: 'doctor [--write-probe] [--json]',
  description:
    "Checks, in order: the registry (reachable; embedded in \"strata local\" or etcd; the token accepted), each mount's store (its root listed from the store through the worker that serves it; with --write-probe, a small object written THROUGH to each writable mount and deleted), that every registered worker and scheduler answers /healthz, each worker's data, metadata, staging and disk-tier directories (present, writable by the worker, free space against the quota), clock skew against the registry and the daemons (ok within 2 s, the resolution of an HTTP Date header; fail past 15 min, where S3 signatures are refused), and this machine's FUSE prerequisites (/dev/fuse, fusermount3, the addon; warnings, FUSE being optional). Each finding is ok, warn or fail, with its fix. Exit code 1 when any finding fails, else 0.",
  examples: [
    'strata doctor',
    'strata doctor --registry etcd://10.0.0.1:2379 --write-probe',
    'strata doctor --json | jq \'.findings[] | select(.status != "ok")\'',
  ],
  options: {
    'write-probe': {
      type: 'boolean',
      help: "also write and delete a small object in each writable mount's store",
    },
    json: { ...JSON_OPTION, help: 'print {ok, findings: [{check, subject?, status, message, fix?}]}' },
  },
  args: { min: 0, max: 0 },
  remote: true,
  async run(ctx) {
    const report = await runDoctor({
      registry: ctx.registry.uri,
      tokenFile: ctx.tokenFile,
      env: ctx.env as NodeJS.ProcessEnv,
      writeProbe: flag(ctx, 'write-probe'),
      fs: () => ctx.fs(),
      schedulers: () => ctx.jobs().schedulers(),
    });
    await print(ctx.io.stdout, flag(ctx, 'json') ? json(report) : renderDoctor(report));
    return report.ok ? 0 : 1;
  },
});

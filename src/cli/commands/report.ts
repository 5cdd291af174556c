import { defineCommand, flag, print } from '../command.js';
import { humanBytes, isoTime, json, mountRows, table } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['report'],
  summary: 'cluster view: workers, tiers, mounts, pending persists, schedulers',
  usage: 'report [--json]',
  examples: [
    'strata report',
    'strata report --json | jq ".workers[].hitRatio"',
    'strata report --json | jq ".schedulers[] | select(.leader)"',
  ],
  options: { json: JSON_OPTION },
  args: { min: 0, max: 0 },
  remote: true,
  async run(ctx) {
    const [base, schedulers] = await Promise.all([(await ctx.fs()).report(), ctx.jobs().schedulers()]);
    const r = { ...base, schedulers };
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json(r));
      return 0;
    }
    const out: string[] = [
      `Strata ${r.version}  registry ${r.registry}  pending persists ${r.pendingPersists}\n\n`,
    ];
    const workers = [['WORKER', 'ADDRESS', 'STATE', 'USED', 'CAPACITY', 'HIT RATIO', 'STARTED', 'VERSION']];
    const tiers = [['WORKER', 'TIER', 'USED', 'CAPACITY', 'PAGES', 'EVICTIONS']];
    for (const w of r.workers) {
      workers.push([
        w.id,
        w.address,
        w.state,
        humanBytes(w.usedBytes),
        humanBytes(w.capacityBytes),
        `${(w.hitRatio * 100).toFixed(1)}%`,
        isoTime(w.startedAtMs),
        w.version,
      ]);
      for (const t of w.tiers) {
        tiers.push([
          w.id,
          t.tier,
          humanBytes(t.usedBytes),
          humanBytes(t.capacityBytes),
          String(t.pages),
          String(t.evictions),
        ]);
      }
    }
    const leaders = [['SCHEDULER', 'ADDRESS', 'LEADER', 'STARTED', 'VERSION']];
    for (const s of r.schedulers)
      leaders.push([s.id, s.address, s.leader ? 'yes' : 'no', isoTime(s.startedAtMs), s.version]);
    out.push(table(workers), '\n', table(tiers), '\n', table(mountRows(r.mounts)), '\n', table(leaders));
    await print(ctx.io.stdout, out.join(''));
    return 0;
  },
});

import { defineCommand, flag, print } from '../command.js';
import { progressLine, wantsJson } from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'status'],
  summary: "show a job's state and progress",
  usage: 'job status [--watch] [--json] ID',
  description:
    'On a terminal one progress line; otherwise (or with --json) one JSON object per line. With --watch, a new line at each change until the job has ended.',
  examples: [
    'strata job status 3f6c…',
    'strata job status --watch 3f6c…',
    'strata job status --json 3f6c… | jq .state',
  ],
  options: {
    watch: { type: 'boolean', help: 'follow the job until it has ended' },
    json: JSON_OPTION,
  },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const id = ctx.positionals[0] ?? '';
    const client = ctx.jobs();
    const json = wantsJson(ctx);
    const show = (job: Parameters<typeof progressLine>[0]) =>
      print(ctx.io.stdout, json ? `${JSON.stringify(job)}\n` : progressLine(job));
    if (!flag(ctx, 'watch')) {
      await show(await client.get(id));
      return 0;
    }
    const lines: Promise<void>[] = [];
    await client.wait(id, { onChange: (job) => lines.push(show(job)) });
    await Promise.all(lines);
    return 0;
  },
});

import { defineCommand, flag, print } from '../command.js';
import { endedCode, failureLines, progressLine, wantsJson } from '../job-output.js';
import { untilInterrupted, watchJob } from '../job-watch.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'status'],
  summary: "show a job's state and progress",
  usage: 'job status [--watch] [--json] ID',
  description: [
    'Without --watch: one line on a terminal, otherwise (or with --json) the job as one JSON object; exit 0.',
    'With --watch it follows the job until it has ended. On a terminal a progress bar is redrawn in place: state, kind and path, files and bytes done / listed so far, percent, rate over the last 5 s, ETA (over what is listed so far: the totals grow while the listing runs), failures; the final state stays on its line, followed by the first failed files. Not a terminal, or --json: one JSON object per line at each change, the last one the ended job.',
    'Exit code with --watch is that of "strata job wait": 0 only if the job SUCCEEDED, 130 if it was CANCELLED, otherwise the code of its error or first failure. Ctrl-C stops watching (130), not the job.',
  ].join('\n\n'),
  examples: [
    'strata job status 3f6c…',
    'strata job status --watch 3f6c…',
    'strata job status --watch --json 3f6c… | jq -c "{state, filesDone}"',
  ],
  options: {
    watch: { type: 'boolean', help: 'follow the job until it has ended; exit as "job wait" does' },
    json: JSON_OPTION,
  },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const id = ctx.positionals[0] ?? '';
    const client = ctx.jobs();
    const json = wantsJson(ctx);
    if (!flag(ctx, 'watch')) {
      const job = await client.get(id);
      await print(ctx.io.stdout, json ? `${JSON.stringify(job)}\n` : progressLine(job));
      return 0;
    }
    const out = ctx.io.stdout;
    const job = await untilInterrupted(
      (signal) => watchJob(client, id, out, json ? 'json' : 'bar', { signal }),
      id,
    );
    if (!json) await print(out, failureLines(job));
    const e = endedCode(job);
    if (e !== undefined) throw e;
    return 0;
  },
});

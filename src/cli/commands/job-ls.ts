import { JOB_STATES } from '../../client/jobs-client.js';
import { defineCommand, flag, oneOf, print, stringOption } from '../command.js';
import { humanBytes, shortTime, table } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'ls'],
  summary: 'list jobs, oldest first',
  usage: 'job ls [--state S] [--json]',
  examples: ['strata job ls', 'strata job ls --state RUNNING', 'strata job ls --json | jq -r .id'],
  options: {
    state: { type: 'string', valueName: 'S', help: `only jobs in this state: ${JOB_STATES.join(', ')}` },
    json: { ...JSON_OPTION, help: 'one JSON object per job and line' },
  },
  args: { min: 0, max: 0 },
  remote: true,
  async run(ctx) {
    const state = oneOf(stringOption(ctx, 'state'), JOB_STATES, '--state');
    const jobs = await ctx.jobs().list(state);
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, jobs.map((j) => `${JSON.stringify(j)}\n`).join(''));
      return 0;
    }
    const rows = [['ID', 'KIND', 'STATE', 'FILES', 'BYTES', 'FAILED', 'CREATED', 'PATH']];
    for (const j of jobs) {
      rows.push([
        j.id,
        j.kind,
        j.state,
        `${j.filesDone}/${j.filesTotal}`,
        `${humanBytes(j.bytesDone)}/${humanBytes(j.bytesTotal)}`,
        String(j.filesFailed),
        shortTime(j.createdAtMs),
        j.path,
      ]);
    }
    await print(ctx.io.stdout, table(rows));
    return 0;
  },
});

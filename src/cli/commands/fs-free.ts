import { defineCommand, flag, print } from '../command.js';
import { humanBytes, json } from '../format.js';
import { runAsJob } from '../fs-job.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'free'],
  summary: 'drop cached pages of a file or tree (pinned files stay)',
  usage: 'fs free [--json] PATH',
  description:
    'A free job on the scheduler (it shows in "strata job ls"), waited for; where no scheduler runs this client frees the files itself and says so on stderr. --json: {files, bytes, job}.',
  examples: ['strata fs free /s3/training-set'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const path = ctx.positionals[0] ?? '';
    const job = await runAsJob(ctx, 'free', path);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json')
        ? json(job)
        : `freed ${job.files} files, ${job.bytes} bytes (${humanBytes(job.bytes)}) under ${path}\n`,
    );
    return 0;
  },
});

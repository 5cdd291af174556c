import { defineCommand, flag, print } from '../command.js';
import { humanBytes, json } from '../format.js';
import { runAsJob } from '../fs-job.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'load'],
  summary: 'read files into the cache (a directory: everything below it)',
  usage: 'fs load [--json] PATH',
  description:
    'A load job on the scheduler (it shows in "strata job ls"), waited for: a progress bar on stderr when it is a terminal, then "loaded N files, B bytes (…) under PATH"; exit 0 only if every file is 100 % cached. Where no scheduler runs (an etcd cluster without "strata scheduler") this client reads the files itself and says so on stderr. --json: {files, bytes, job}.',
  examples: ['strata fs load /s3/training-set', 'strata fs load --json /data/a.parquet'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const path = ctx.positionals[0] ?? '';
    const job = await runAsJob(ctx, 'load', path);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json')
        ? json(job)
        : `loaded ${job.files} files, ${job.bytes} bytes (${humanBytes(job.bytes)}) under ${path}\n`,
    );
    return 0;
  },
});

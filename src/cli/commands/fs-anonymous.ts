import { loadBucketSettings, setAnonymousRead } from '../../client/s3-settings.js';
import { StrataError } from '../../core/errors.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'anonymous'],
  summary: 'allow or refuse unsigned S3 reads (GET/HEAD) of a bucket',
  usage: 'fs anonymous BUCKET [on|off]',
  description:
    'The S3 gateway answers unsigned requests with AccessDenied unless anonymous read is on for the bucket. The setting is stored in the bucket (/BUCKET/.strata-s3/bucket.json), so every gateway sees it. Without on/off it prints the current setting.',
  examples: [
    'strata fs anonymous public-data on',
    'strata fs anonymous public-data off',
    'strata fs anonymous public-data',
  ],
  options: {},
  args: { min: 1, max: 2 },
  remote: true,
  async run(ctx) {
    const [bucket, state] = ctx.positionals as [string, string | undefined];
    const name = bucket.replace(/^\/+|\/+$/g, '');
    if (!name || name.includes('/'))
      throw new StrataError('INVALID_ARGUMENT', 'BUCKET is a top-level directory name');
    const fs = await ctx.fs();
    const st = await fs.status(`/${name}`);
    if (st.type !== 'directory') throw new StrataError('NOT_A_DIRECTORY', `/${name} is not a directory`);
    if (state === undefined) {
      const s = await loadBucketSettings(fs, name);
      ctx.io.stdout.write(`${s.anonymousRead ? 'on' : 'off'}\n`);
      return 0;
    }
    if (state !== 'on' && state !== 'off')
      throw new StrataError('INVALID_ARGUMENT', 'the state must be "on" or "off"');
    await setAnonymousRead(fs, name, state === 'on');
    return 0;
  },
});

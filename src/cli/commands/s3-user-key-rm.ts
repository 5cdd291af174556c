import { defineCommand } from '../command.js';
import { withS3UserAdmin } from '../s3-user-admin.js';

export default defineCommand({
  words: ['s3', 'user', 'key', 'rm'],
  summary: 'remove one access key of an S3 user',
  usage: 's3 user key rm NAME ACCESS_KEY_ID',
  description:
    'Requests signed with the key are refused (403 InvalidAccessKeyId) once the gateways learn of it.',
  examples: ['strata s3 user key rm alice SKABCDEFGHIJKLMNOPQR'],
  options: {},
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [name, id] = ctx.positionals as [string, string];
    await withS3UserAdmin(ctx, (admin) => admin.removeKey(name, id));
    return 0;
  },
});

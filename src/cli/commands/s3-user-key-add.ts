import { defineCommand, flag, print } from '../command.js';
import { JSON_OPTION } from '../options.js';
import { newKeyText, withS3UserAdmin } from '../s3-user-admin.js';

export default defineCommand({
  words: ['s3', 'user', 'key', 'add'],
  summary: 'add an access key to an S3 user (its secret is printed once)',
  usage: 's3 user key add [--json] NAME',
  description:
    'For rotating a key: add the new one, move clients to it, then "s3 user key rm" the old one. At most 5 keys a user.',
  examples: ['strata s3 user key add alice', 'strata s3 user key add --json alice'],
  options: {
    json: { ...JSON_OPTION, help: 'print one JSON object: name, accessKeyId, secretAccessKey, createdAtMs' },
  },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    const key = await withS3UserAdmin(ctx, (admin) => admin.addKey(name));
    await print(ctx.io.stdout, newKeyText(key, flag(ctx, 'json')));
    return 0;
  },
});

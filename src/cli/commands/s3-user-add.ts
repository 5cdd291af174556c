import { defineCommand, flag, print } from '../command.js';
import { JSON_OPTION } from '../options.js';
import { newKeyText, withS3UserAdmin } from '../s3-user-admin.js';

export default defineCommand({
  words: ['s3', 'user', 'add'],
  summary: 'create an S3 user with one access key (its secret is printed once)',
  usage: 's3 user add [--json] NAME',
  description:
    'Creates the user in the registry, so every S3 gateway of the cluster (and strata local) accepts its key at once. The new user owns nothing and may create buckets (where a writable mount covers them, or the gateway has a bucket root). NAME: 1 to 64 letters, digits or + = , . @ _ - ("strata" and "root" are reserved). The secret is printed this once and stored sealed.',
  examples: ['strata s3 user add alice', 'strata s3 user add --json alice | jq -r .secretAccessKey'],
  options: {
    json: { ...JSON_OPTION, help: 'print one JSON object: name, accessKeyId, secretAccessKey, createdAtMs' },
  },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    const key = await withS3UserAdmin(ctx, (admin) => admin.add(name));
    await print(ctx.io.stdout, newKeyText(key, flag(ctx, 'json')));
    return 0;
  },
});

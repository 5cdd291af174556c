import { defineCommand } from '../command.js';
import { withS3UserAdmin } from '../s3-user-admin.js';

export default defineCommand({
  words: ['s3', 'user', 'rm'],
  summary: 'remove an S3 user and all its keys',
  usage: 's3 user rm NAME',
  description:
    'Its keys stop working on every gateway as soon as the registry tells it (see docs/s3-gateway.md for the bound). Buckets it owns keep that owner; the root user can still reach them.',
  examples: ['strata s3 user rm alice'],
  options: {},
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    await withS3UserAdmin(ctx, (admin) => admin.remove(name));
    return 0;
  },
});

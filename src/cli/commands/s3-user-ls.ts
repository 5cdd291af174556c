import { defineCommand, flag, print } from '../command.js';
import { shortTime, table } from '../format.js';
import { JSON_OPTION } from '../options.js';
import { withS3UserAdmin } from '../s3-user-admin.js';

export default defineCommand({
  words: ['s3', 'user', 'ls'],
  summary: 'list the S3 users and their access key ids (never secrets)',
  usage: 's3 user ls [--json]',
  description:
    'The users stored in the registry. The root user (STRATA_S3_ACCESS_KEY_ID) and users of a gateway config file are not listed: each gateway has its own.',
  examples: ['strata s3 user ls', 'strata s3 user ls --json | jq -r .name'],
  options: {
    json: { ...JSON_OPTION, help: 'one JSON object per user and line: name, createdAtMs, accessKeyIds' },
  },
  args: { min: 0, max: 0 },
  remote: true,
  async run(ctx) {
    const users = await withS3UserAdmin(ctx, (admin) => admin.list());
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, users.map((u) => `${JSON.stringify(u)}\n`).join(''));
      return 0;
    }
    const rows = [['NAME', 'CREATED', 'ACCESS KEY IDS']];
    for (const u of users) rows.push([u.name, shortTime(u.createdAtMs), u.accessKeyIds.join(',') || '-']);
    await print(ctx.io.stdout, table(rows));
    return 0;
  },
});

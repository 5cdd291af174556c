/**
 * `npm run fuzz -- [--requests N] [--seed S] [--concurrency C] [--only BATCH:INDEX]`: fuzzes a
 * fresh `strata local` (S3 gateway, worker RPC, admin API) over real sockets and prints a JSON
 * report; exits 1 on any violation or crash, printing the seed to replay it.
 */
import { parseArgs } from 'node:util';
import { runFuzz } from './run.js';
import { startTarget } from './target.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    only: { type: 'string' },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const requests = Number(values.requests);
const only = values.only?.split(':').map(Number);
const target = await startTarget();
process.stderr.write(`fuzz: seed ${seed}, ${requests} requests, strata local pid ${target.pid}\n`);
let last = 0;
try {
  const report = await runFuzz(target, {
    requests,
    seed,
    concurrency: Number(values.concurrency),
    ...(only?.length === 2 ? { only: { batch: only[0]!, index: only[1]! } } : {}),
    onProgress: (done) => {
      if (done - last >= 5000) {
        last = done;
        process.stderr.write(`fuzz: ${done} requests\n`);
      }
    },
  });
  process.stdout.write(
    `${JSON.stringify({ ...report, violations: report.violations.slice(0, 50), violationCount: report.violations.length }, null, 2)}\n`,
  );
  if (report.crashed)
    process.stderr.write(
      `fuzz: strata local died or stopped answering; stderr tail:\n${target.stderr().slice(-5000)}\n`,
    );
  if (report.crashed || report.violations.length > 0) {
    process.stderr.write(`fuzz: FAILED with seed ${seed} (replay one: --seed ${seed} --only BATCH:INDEX)\n`);
    process.exitCode = 1;
  }
} finally {
  await target.stop();
}

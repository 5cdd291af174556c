/**
 * Where a V8 CPU profile's time went: self time per function (name, file, line), largest first,
 * with its share of the profile — e.g. of `worker-scale --profile FILE`'s in-process stat row.
 *
 * Usage: node dist/bench/profile-summary.js FILE.cpuprofile [--top 30]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
const file = positionals[0];
if (file === undefined) throw new Error('usage: profile-summary FILE.cpuprofile [--top 30]');
const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
const label = new Map<number, string>();
for (const { id, callFrame: f } of profile.nodes) {
  const where = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  label.set(id, `${f.functionName || '(anonymous)'}${where}`);
}
// A sample's time is the delta to the next sample.
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const us = profile.timeDeltas[i + 1] ?? 0;
  const name = label.get(profile.samples[i]!) ?? '?';
  self.set(name, (self.get(name) ?? 0) + us);
  total += us;
}
process.stdout.write(`${(total / 1000).toFixed(0)} ms sampled\n`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top ?? 30))) {
  process.stdout.write(
    `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}\n`,
  );
}

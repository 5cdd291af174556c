import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * The layer order of src/ (ARCHITECTURE.md, "Layers"): a module may import its own folder and
 * folders of a lower layer only. Folders of one layer are peers and do not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['ufs', 'cache', 'meta', 'registry', 'cluster'],
  ['worker'],
  ['client'],
  ['gateway', 'fuse', 'cli', 'scheduler', 'dashboard'],
  ['server'],
];

/** Lower-layer imports that are still not allowed, with the reason. */
export const FORBIDDEN: ReadonlyArray<{ from: string; to: string; why: string }> = [
  { from: 'client', to: 'worker', why: 'clients reach workers over the RPC only, never in process' },
];

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly reason: string;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

/** Every import, export-from and dynamic import() of a file, with its line. */
export function importsOf(text: string): Array<{ spec: string; line: number }> {
  const info = ts.preProcessFile(text, true, true);
  const lineOf = (pos: number) => text.slice(0, pos).split('\n').length;
  return info.importedFiles.map((f) => ({ spec: f.fileName, line: lineOf(f.pos) }));
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(p);
    else if (entry.name.endsWith('.ts')) yield p;
  }
}

/** The imports under `srcDir` that break the layer order (also: folders with no layer). */
export async function checkLayers(srcDir: string): Promise<Violation[]> {
  const root = resolve(srcDir);
  const out: Violation[] = [];
  for await (const file of tsFiles(root)) {
    const rel = relative(root, file);
    const from = rel.split(sep)[0]!;
    if (!rel.includes(sep)) continue; // files directly in src/ belong to no layer
    const fromLayer = layerOf(from);
    if (fromLayer < 0) {
      out.push({ file: rel, line: 1, target: from, reason: `folder src/${from} has no layer in LAYERS` });
      continue;
    }
    for (const { spec, line } of importsOf(await readFile(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: built-ins
      const target = relative(root, resolve(dirname(file), spec));
      if (target.startsWith('..')) {
        out.push({ file: rel, line, target: spec, reason: 'imports from outside src/' });
        continue;
      }
      const to = target.split(sep)[0]!;
      if (to === from) continue;
      const toLayer = layerOf(to);
      const banned = FORBIDDEN.find((f) => f.from === from && f.to === to);
      if (toLayer < 0) out.push({ file: rel, line, target, reason: `src/${to} has no layer in LAYERS` });
      else if (toLayer > fromLayer)
        out.push({
          file: rel,
          line,
          target,
          reason: `${from} (layer ${fromLayer}) imports ${to} (layer ${toLayer})`,
        });
      else if (toLayer === fromLayer)
        out.push({ file: rel, line, target, reason: `${from} and ${to} are peers (layer ${fromLayer})` });
      else if (banned)
        out.push({ file: rel, line, target, reason: `${from} may not import ${to}: ${banned.why}` });
    }
  }
  return out;
}

/** Paths of bench/worker-scale.ts's synthetic tree: /big/dDDDDD/fFFFF (1,000 files a directory). */
export function dirName(d: number): string {
  return `/big/d${String(d).padStart(5, '0')}`;
}

export function fileName(d: number, f: number): string {
  return `${dirName(d)}/f${String(f).padStart(4, '0')}`;
}

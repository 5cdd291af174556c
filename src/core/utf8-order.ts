/**
 * UTF-8 binary order for JS strings (UTF-16 code units): the order S3 lists keys in and LevelDB
 * sorts its keys in. It differs from `<` only where surrogates meet U+E000–U+FFFF: in UTF-8 the
 * astral characters (4 bytes) sort after them.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

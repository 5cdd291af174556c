/**
 * The thread side of io-thread.ts: runs a message's small file operations one after another with
 * plain syscalls and answers once for all of them. Synchronous calls are the point here — this
 * is not the event loop, and one message of 32 operations costs two thread wake-ups instead of
 * the ~100 a libuv threadpool round trip per syscall does.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { dirname, sep } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { IoReply, IoRequest, IoResult, StatOp, WireOp } from './io-thread.js';

type WireRead = Extract<WireOp, { kind: 'read' }>;
type WireWrite = Extract<WireOp, { kind: 'write' }>;

function stat(op: StatOp): IoResult {
  const st = statSync(op.path);
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  return { stat: { type, size: st.size, mtimeMs: st.mtimeMs } };
}

/**
 * Where the open file `fd` lives: the kernel's own answer through /proc (one readlink, and it
 * names the file actually opened, so a symlink swapped in after the check cannot slip past it);
 * realpath(3) of `path` where /proc is not mounted (one readlink per path component).
 */
function openedPath(fd: number, path: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return realpathSync.native(path);
  }
}

function read(op: WireRead, shared: IoRequest['shared']): { result: IoResult; transfer?: ArrayBuffer } {
  // O_NONBLOCK: opening a FIFO must not hang; it is a no-op for regular files. O_NOCTTY: a
  // terminal reached through a symlink must not become ours before the root check refuses it.
  let fd: number;
  try {
    fd = openSync(op.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    if (op.root !== undefined) return { result: { fallback: true } }; // the caller's own path explains it
    throw err;
  }
  try {
    if (op.root !== undefined) {
      let real: string;
      try {
        real = openedPath(fd, op.path);
      } catch {
        return { result: { fallback: true } };
      }
      if (real !== op.root && !real.startsWith(op.root + sep)) return { result: { fallback: true } };
    }
    const st = fstatSync(fd);
    if (!st.isFile()) return { result: { fallback: true } };
    if (op.exact === true && st.size !== op.offset + op.length) return { result: { fallback: true } };
    const ab = op.into === undefined ? new ArrayBuffer(op.length) : undefined;
    const buf =
      ab !== undefined ? Buffer.from(ab) : Buffer.from(shared[op.into!.buffer]!, op.into!.offset, op.length);
    let got = 0;
    while (got < op.length) {
      const n = readSync(fd, buf, got, op.length - got, op.offset + got);
      if (n === 0) break;
      got += n;
    }
    if (got < op.length) return { result: { fallback: true } }; // shorter than expected: changed
    const ranges = [...(op.crc32 ?? [])];
    if (op.crc32Unless !== undefined && op.crc32Unless.ctimeMs !== st.ctimeMs)
      ranges.push(...op.crc32Unless.ranges);
    const crcs = ranges.map((r) => crc32(buf.subarray(r.from, r.to)) >>> 0);
    const checked = { crcs, ctimeMs: st.ctimeMs };
    if (ab === undefined) return { result: { into: true, ...checked } };
    return { result: { data: ab, ...checked }, transfer: ab };
  } finally {
    closeSync(fd);
  }
}

/** CRC-32 of [from, to) of the bytes head ‖ tail. */
function crcOf(head: Buffer, tail: Buffer | undefined, from: number, to: number): number {
  let crc = 0;
  if (from < head.length) crc = crc32(head.subarray(from, Math.min(to, head.length)), crc);
  if (tail !== undefined && to > head.length)
    crc = crc32(tail.subarray(Math.max(0, from - head.length), to - head.length), crc);
  return crc >>> 0;
}

function write(op: WireWrite, payload: Buffer, shared: IoRequest['shared']): IoResult {
  const head = payload.subarray(op.dataOffset, op.dataOffset + op.dataLength);
  const tail = op.shared && Buffer.from(shared[op.shared.buffer]!, op.shared.offset, op.shared.length);
  for (const f of op.fill ?? []) head.writeUInt32LE(crcOf(head, tail, f.from, f.to), f.at);
  let fd: number;
  try {
    fd = openSync(op.path, 'w');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !op.makeParent) throw err;
    mkdirSync(dirname(op.path), { recursive: true });
    fd = openSync(op.path, 'w');
  }
  try {
    try {
      const total = head.length + (tail?.length ?? 0);
      let off = tail === undefined ? 0 : writevSync(fd, [head, tail]);
      if (off < total) {
        // All of it without a tail; the rest after a short writev (rare) from one joined copy.
        const data = tail === undefined ? head : Buffer.concat([head, tail]);
        while (off < total) off += writeSync(fd, data, off, total - off);
      }
      if (op.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (op.renameTo !== undefined) renameSync(op.path, op.renameTo);
  } catch (err) {
    try {
      unlinkSync(op.path);
    } catch {
      // already gone
    }
    throw err;
  }
  return {};
}

function run(req: IoRequest): void {
  const results: IoResult[] = [];
  const transfer: ArrayBuffer[] = [];
  const payload = Buffer.from(req.payload);
  for (const op of JSON.parse(req.ops) as WireOp[]) {
    try {
      if (op.kind === 'read') {
        const r = read(op, req.shared);
        results.push(r.result);
        if (r.transfer) transfer.push(r.transfer);
      } else if (op.kind === 'stat') {
        results.push(stat(op));
      } else {
        results.push(write(op, payload, req.shared));
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      results.push({ error: { code: e.code ?? 'EIO', message: e.message } });
    }
  }
  const reply: IoReply = { id: req.id, results };
  parentPort!.postMessage(reply, transfer);
}

parentPort!.on('message', run);

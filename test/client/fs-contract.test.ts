import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FS_CONTRACT_CASES } from '../../src/client/contract.js';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import { setQuiet } from '../../src/core/log.js';
import { describeFsContract } from '../helpers/fs-contract.js';
import { startInProcessWorkers } from '../helpers/in-process-workers.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';

/**
 * The StrataFileSystem contract (src/client/contract.ts) against every implementation: the
 * in-process worker, RemoteFileSystem over the real worker RPC, ClusterFileSystem over three
 * in-process workers sharing an embedded registry, and the test fake.
 */

setQuiet(true);

/**
 * Known failures, as node:test todos. `abort plumbing`: the method ignores options.signal on
 * this branch (being added to src/worker, src/server/rpc-server.ts and the clients); remove these
 * when it lands. The others are bugs found by the suite, one line each.
 */
const ABORT_PLUMBING = 'abort plumbing';

/** Every abort case except those whose names start with one of `notFailing` (passing or skipped). */
function abortTodos(...notFailing: string[]): Record<string, string> {
  return Object.fromEntries(
    FS_CONTRACT_CASES.map((c) => c.name)
      .filter((n) => n.startsWith('abort: ') && !notFailing.some((p) => n.startsWith(p)))
      .map((n) => [n, ABORT_PLUMBING]),
  );
}

const SORT_ORDER =
  'list sorts names in code point (UTF-8 byte) order, also while a file is not yet persisted';
const HEADER_MASK = 'mount info masks credential headers of http mounts (header.Authorization)';
const EMPTY_PATH = 'an empty path is INVALID_PATH';

const BUGS = {
  [SORT_ORDER]:
    'the worker re-sorts listings with < (UTF-16 order): file-system.ts isSortedByPath/listRecords',
  [HEADER_MASK]: 'maskOptions (src/core/mounts.ts SECRET_KEY) does not mask header.* connector options',
};

const RPC_BUGS = {
  [EMPTY_PATH]: 'the RPC server answers INVALID_ARGUMENT ("path" is required) for an empty path',
};

const CLUSTER_BUGS = {
  'files of every write type show in their parent listing right after the write':
    "MUST_CACHE files are staged on their owner only; the directory's owner lists without them",
  "a written, deleted or renamed file shows in its parent's next listing (also after the parent was listed)":
    "a mutation invalidates the parent's listing on the file's owner only, not on the directory's owner",
  'delete removes a file and an empty directory; a non-empty directory only with recursive, and then everything below':
    'a recursive delete runs on the directory owner; the files below stay visible (status) on theirs',
  'rename moves a file and a whole directory within a mount (old paths NOT_FOUND, bytes at the new ones)':
    'a directory rename runs on its owner; the old children stay visible (status) on their owners',
};

const WORKER_TODO = { ...abortTodos(), ...BUGS };
// RemoteFileSystem passes the signal of read and write to its HTTP request already.
const REMOTE_TODO = {
  ...abortTodos('abort: read with', 'abort: write with', 'abort: readBuffer'),
  ...BUGS,
  ...RPC_BUGS,
};
const CLUSTER_TODO = {
  ...abortTodos('abort: read with', 'abort: write with', 'abort: readBuffer', 'abort: cachedBytesOf'),
  ...BUGS,
  ...RPC_BUGS,
  ...CLUSTER_BUGS,
};

async function scratch(name: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `strata-fsc-${name}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

describeFsContract(
  'WorkerFileSystem (in process)',
  async () => {
    const { dir, remove } = await scratch('worker');
    const workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
    return {
      fs: workers.workers[0]!.node.fs,
      scratchDir: dir,
      servesStores: true,
      workers: 1,
      settle: () => workers.settle(),
      prefix: '/fsc',
      close: async () => {
        await workers.stop();
        await remove();
      },
    };
  },
  { todo: WORKER_TODO },
);

describeFsContract(
  'RemoteFileSystem (worker RPC)',
  async () => {
    const { dir, remove } = await scratch('remote');
    const workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
    const fs = new RemoteFileSystem(workers.workers[0]!.address, { token: workers.token });
    return {
      fs,
      scratchDir: dir,
      servesStores: true,
      workers: 1,
      settle: () => workers.settle(),
      prefix: '/fsc',
      close: async () => {
        await fs.close();
        await workers.stop();
        await remove();
      },
    };
  },
  { todo: REMOTE_TODO },
);

describeFsContract(
  'ClusterFileSystem (3 workers, embedded registry)',
  async () => {
    const { dir, remove } = await scratch('cluster');
    const workers = await startInProcessWorkers(join(dir, 'nodes'), 3);
    return {
      fs: await workers.cluster(),
      scratchDir: dir,
      servesStores: true,
      workers: 3,
      settle: () => workers.settle(),
      prefix: '/fsc',
      close: async () => {
        await workers.stop();
        await remove();
      },
    };
  },
  { todo: CLUSTER_TODO },
);

describeFsContract('MemoryFileSystem (test fake)', async () => {
  const { dir, remove } = await scratch('memory');
  return {
    fs: new MemoryFileSystem({ requireMounts: true }),
    scratchDir: dir,
    servesStores: false,
    workers: 1,
    prefix: '/fsc',
    close: remove,
  };
});

import type { CommandSpec } from '../command.js';
import confGet from './conf-get.js';
import confShow from './conf-show.js';
import doctor from './doctor.js';
import fsAnonymous from './fs-anonymous.js';
import fsCat from './fs-cat.js';
import fsCp from './fs-cp.js';
import fsDu from './fs-du.js';
import fsFree from './fs-free.js';
import fsGet from './fs-get.js';
import fsLoad from './fs-load.js';
import fsLocation from './fs-location.js';
import fsLs from './fs-ls.js';
import fsMkdir from './fs-mkdir.js';
import fsMount from './fs-mount.js';
import fsMounts from './fs-mounts.js';
import fsMv from './fs-mv.js';
import fsPin from './fs-pin.js';
import fsPut from './fs-put.js';
import fsRm from './fs-rm.js';
import fsStat from './fs-stat.js';
import fsTtl from './fs-ttl.js';
import fsUnmount from './fs-unmount.js';
import fsUnpin from './fs-unpin.js';
import jobCancel from './job-cancel.js';
import jobCopy from './job-copy.js';
import jobFree from './job-free.js';
import jobLoad from './job-load.js';
import jobLs from './job-ls.js';
import jobMove from './job-move.js';
import jobPersist from './job-persist.js';
import jobStatus from './job-status.js';
import jobWait from './job-wait.js';
import report from './report.js';
import s3UserAdd from './s3-user-add.js';
import s3UserKeyAdd from './s3-user-key-add.js';
import s3UserKeyRm from './s3-user-key-rm.js';
import s3UserLs from './s3-user-ls.js';
import s3UserRm from './s3-user-rm.js';
import ufsTest from './ufs-test.js';

/** Every subcommand, in help order. `local` and `worker` are dispatched to the server by main. */
export const COMMANDS: readonly CommandSpec[] = [
  fsLs,
  fsStat,
  fsCat,
  fsPut,
  fsGet,
  fsCp,
  fsMv,
  fsRm,
  fsMkdir,
  fsMount,
  fsUnmount,
  fsMounts,
  fsLoad,
  fsFree,
  fsPin,
  fsUnpin,
  fsTtl,
  fsDu,
  fsAnonymous,
  fsLocation,
  jobLoad,
  jobFree,
  jobLs,
  jobStatus,
  jobCancel,
  jobWait,
  jobPersist,
  jobCopy,
  jobMove,
  s3UserAdd,
  s3UserLs,
  s3UserRm,
  s3UserKeyAdd,
  s3UserKeyRm,
  report,
  doctor,
  confShow,
  confGet,
  ufsTest,
];

/** Finds the command named by the leading words; `group` is set when only the group matched. */
export function findCommand(words: readonly string[]): { command?: CommandSpec; group?: string } {
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => words[i] === w)) return { command: c };
  }
  const group = COMMANDS.find((c) => c.words.length > 1 && c.words[0] === words[0])?.words[0];
  return group === undefined ? {} : { group };
}

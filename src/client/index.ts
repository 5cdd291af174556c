/**
 * The Strata client library.
 *
 * @example
 * import { connect } from 'strata';
 * const fs = await connect('http://127.0.0.1:7070');
 * const info = await fs.status('/data/a.parquet');
 * await fs.close();
 *
 * // Jobs (preload, free, persist, copy, move) on the scheduler of strata local or of a cluster:
 * const jobs = new JobsClient('etcd://10.0.0.1:2379');
 * const job = await jobs.submit('load', '/s3/datasets/train', { bandwidth: 200 * 1024 * 1024 });
 * const end = await jobs.wait(job.id); // end.state === 'SUCCEEDED' when every file is cached
 */

export { ERROR_TABLE, type ErrorCode, isStrataError, StrataError } from '../core/errors.js';
export {
  type ConnectedFileSystem,
  type ConnectOptions,
  connect,
  listWorkers,
  type WorkerEntry,
} from './connect.js';
export {
  isFinal,
  JOB_STATES,
  type JobInfo,
  type JobState,
  JobsClient,
  type JobsClientOptions,
  type SchedulerInfo,
  type SubmitExtra,
} from './jobs-client.js';
export { RemoteFileSystem, type RemoteFileSystemOptions } from './remote-file-system.js';
export * from './types.js';

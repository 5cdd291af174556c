/**
 * The Strata client library.
 *
 * @example
 * import { connect } from 'strata';
 * const fs = await connect('http://127.0.0.1:7070');
 * const info = await fs.status('/data/a.parquet');
 * await fs.close();
 */

export { ERROR_TABLE, type ErrorCode, isStrataError, StrataError } from '../core/errors.js';
export {
  type ConnectedFileSystem,
  type ConnectOptions,
  connect,
  listWorkers,
  type WorkerEntry,
} from './connect.js';
export { RemoteFileSystem, type RemoteFileSystemOptions } from './remote-file-system.js';
export * from './types.js';

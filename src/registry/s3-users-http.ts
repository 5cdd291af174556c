import type { IncomingMessage, ServerResponse } from 'node:http';
import { StrataError } from '../core/errors.js';
import { readJsonObject } from '../core/json-body.js';
import type { Registry } from './registry.js';
import { addS3Key, addS3User, listS3UserViews, removeS3Key, removeS3User } from './s3-users.js';

/**
 * `strata local`'s API for `strata s3 user …` (its embedded registry is in its process, so the
 * CLI cannot reach it directly as it reaches etcd). Behind the process's token, like the RPC.
 *
 *   GET    /registry/v1/s3/users                    → {users: [{name, createdAtMs, accessKeyIds}]}
 *   POST   /registry/v1/s3/users {name}             → 201 {name, accessKeyId, secretAccessKey, createdAtMs}
 *   DELETE /registry/v1/s3/users/NAME               → {name}
 *   POST   /registry/v1/s3/users/NAME/keys          → 201 {name, accessKeyId, secretAccessKey, createdAtMs}
 *   DELETE /registry/v1/s3/users/NAME/keys/KEYID    → {name, accessKeyId}
 *
 * Errors are the one table's JSON (the listener's error path): a taken name is ALREADY_EXISTS,
 * an unknown user or key NOT_FOUND, a bad name INVALID_ARGUMENT.
 */
export const S3_USERS_ROUTE = '/registry/v1/s3/users';

export function s3UsersHandler(
  registry: Registry,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== S3_USERS_ROUTE && !path.startsWith(`${S3_USERS_ROUTE}/`)) return false;
    const parts = path
      .slice(S3_USERS_ROUTE.length)
      .split('/')
      .filter((p) => p !== '')
      .map(decodePart);
    const method = req.method ?? 'GET';
    const [name, sub, keyId] = parts;
    if (parts.length === 0 && method === 'GET')
      return send(res, 200, { users: await listS3UserViews(registry) });
    if (parts.length === 0 && method === 'POST') {
      const body = await readJsonObject(req, 4096, 'an S3 user request');
      if (typeof body.name !== 'string')
        throw new StrataError('INVALID_ARGUMENT', 'the request needs a "name" string');
      return send(res, 201, await addS3User(registry, body.name));
    }
    if (name !== undefined && parts.length === 1 && method === 'DELETE') {
      await removeS3User(registry, name);
      return send(res, 200, { name });
    }
    if (name !== undefined && sub === 'keys' && parts.length === 2 && method === 'POST')
      return send(res, 201, await addS3Key(registry, name));
    if (
      name !== undefined &&
      sub === 'keys' &&
      keyId !== undefined &&
      parts.length === 3 &&
      method === 'DELETE'
    ) {
      await removeS3Key(registry, name, keyId);
      return send(res, 200, { name, accessKeyId: keyId });
    }
    throw new StrataError('INVALID_ARGUMENT', `no route ${method} ${path}`);
  };
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new StrataError('INVALID_ARGUMENT', `bad percent-encoding in "${part}"`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
  return true;
}

import { logger } from '../../core/log.js';
import { newSealKeyText, parseSealKey } from '../../core/seal.js';
import { SEAL_KEY_CONFIG_KEY } from '../../registry/registry.js';
import { loadConfiguredUsers, UserDirectory } from './users.js';

/**
 * The users of a standalone `strata gateway s3`: the config file's `s3.users`, and over an etcd
 * registry the cluster's users (`strata s3 user …`), watched as `strata local` watches its own.
 * Their secrets are sealed with the cluster's seal key (created by whichever process comes
 * first, as the daemons and the CLI do). An http registry (a `strata local`) does not hand its
 * users' secrets out: a gateway in front of it knows the root and config users only — use that
 * process's own gateway (addresses.s3) for its users.
 */
export interface GatewayUsers {
  readonly users: UserDirectory;
  /** Whether the registry's users are followed (false: root and config users only). */
  readonly followsRegistry: boolean;
  close(): Promise<void>;
}

export async function openGatewayUsers(
  registryUri: string,
  configFile: string | undefined,
): Promise<GatewayUsers> {
  const configured = await loadConfiguredUsers(configFile);
  if (!/^etcds?:\/\//.test(registryUri)) {
    const users = new UserDirectory({ configured });
    logger('s3_registry_users_unavailable', {
      registry: registryUri,
      hint: 'registry users are served over etcd:// registries; strata local serves its users on its own S3 port',
    });
    return { users, followsRegistry: false, close: async () => users.close() };
  }
  const [{ createRegistry }, { SealedRegistry }, { secretOptionsOf }] = await Promise.all([
    import('../../registry/factory.js'),
    import('../../registry/sealed-registry.js'),
    import('../../ufs/factory.js'),
  ]);
  const raw = await createRegistry(registryUri, {});
  try {
    const key = parseSealKey(await raw.initConfig(SEAL_KEY_CONFIG_KEY, newSealKeyText()));
    const users = new UserDirectory({
      registry: new SealedRegistry(raw, { key, secretOptionsOf }),
      configured,
    });
    await users.start();
    return {
      users,
      followsRegistry: true,
      close: async () => {
        users.close();
        await raw.close();
      },
    };
  } catch (err) {
    await raw.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Which mount options of a connector carry credentials. Each connector declares its own (beside
 * its code, in a module that loads no SDK); the factory answers for a URI (`secretOptionsOf`).
 * Those values are masked wherever a mount is shown and sealed at rest in the registry. An
 * option is a secret because its connector says so, never because of how its name looks.
 */
export interface SecretOptionPolicy {
  /** The secret options by name, for help texts, docs and tests. */
  readonly declared: readonly string[];
  /** Whether option `key` of a mount with these `options` holds a secret. */
  isSecret(key: string, options: Readonly<Record<string, string | undefined>>): boolean;
}

/** A policy from a fixed list of option names (exact, case-sensitive, as the connector reads them). */
export function namedSecrets(names: readonly string[]): SecretOptionPolicy {
  const set = new Set(names);
  return { declared: names, isSecret: (key) => set.has(key) };
}

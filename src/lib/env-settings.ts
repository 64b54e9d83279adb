/**
 * Reads string settings (vars and secrets) out of a Worker's environment: the
 * one parse of configuration that arrives untyped. Empty strings count as unset.
 */

/** The non-empty string values of `keys` in `env`. */
export function stringSettings<K extends string>(env: object, keys: readonly K[]): Partial<Record<K, string>> {
  const source = env as Record<string, unknown>;
  const settings: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = source[key];
    if (typeof value === "string" && value.length > 0) settings[key] = value;
  }
  return settings;
}

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

/**
 * A structured setting (an object, or JSON text of one) parsed with `schema`.
 * Throws `fail(message)` naming `source` and every bad field, never a silent
 * fallback. Used for `ROOM_LIMITS`, `defineApp({ limits })` and `PRICING`.
 */
export function parseStructuredSetting<T>(
  raw: unknown,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly ZodIssueLike[] } } },
  source: string,
  fail: (message: string) => Error,
): T {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw fail(`${source} is not valid JSON`);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
    throw fail(`${source}: ${problems}`);
  }
  return parsed.data;
}

/** What a setting's error message needs of a validation issue. */
interface ZodIssueLike {
  path: readonly PropertyKey[];
  message: string;
}

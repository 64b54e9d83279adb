/**
 * `npm run token -- --room demo --role writer --sub alice [--name Alice] [--grant analytics] [--ttl 3600]`
 * mints a room token with AUTH_SECRET (from the environment, else .dev.vars)
 * and prints only the token, so `TOKEN=$(npm run -s token -- ...)` works.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GRANTS, ROLES, type Grant, type Role } from "../src/protocol/identity";
import { signRoomToken } from "../src/auth/tokens";

const USAGE = `usage: npm run token -- --room <room or pattern> --role <${ROLES.join("|")}> --sub <user id> [--name <display name>] [--grant <${GRANTS.join("|")}>]… [--ttl <seconds, default 3600>]`;

function fail(message: string): never {
  console.error(`token: ${message}\n${USAGE}`);
  process.exit(2);
}

/** AUTH_SECRET from the environment, else from .dev.vars (KEY=VALUE lines, # comments). */
function readSecret(): string {
  if (process.env["AUTH_SECRET"]) return process.env["AUTH_SECRET"];
  const file = new URL("../.dev.vars", import.meta.url);
  if (existsSync(file)) {
    for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
      const match = /^\s*(?:export\s+)?AUTH_SECRET\s*=\s*(.*?)\s*$/.exec(line);
      if (match) return match[1]!.replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  return fail("AUTH_SECRET is not set: export it, or run `npm run dev` once (it creates .dev.vars from .dev.vars.example)");
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      room: { type: "string" },
      role: { type: "string" },
      sub: { type: "string" },
      name: { type: "string" },
      grant: { type: "string", multiple: true },
      ttl: { type: "string", default: "3600" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const { room, role, sub, name, ttl } = values;
const grants = values.grant ?? [];
if (!room) fail("--room is required (a room name like demo, or a pattern like team-42/*)");
if (!sub) fail("--sub is required (the user id)");
if (!role || !(ROLES as readonly string[]).includes(role))
  fail(`--role must be one of ${ROLES.join(", ")}${role ? `, got "${role}"` : ""}`);
if (name === "") fail("--name must not be empty");
for (const grant of grants)
  if (!(GRANTS as readonly string[]).includes(grant)) fail(`--grant must be one of ${GRANTS.join(", ")}, got "${grant}"`);
const ttlSeconds = Number(ttl);
if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) fail(`--ttl must be a positive whole number of seconds, got "${ttl}"`);

const secret = readSecret();
if (secret.length < 32) fail("AUTH_SECRET must be at least 32 characters (the Worker rejects shorter secrets)");

const token = await signRoomToken(
  {
    sub,
    room,
    role: role as Role,
    ttlSeconds,
    ...(name === undefined ? {} : { name }),
    ...(grants.length > 0 ? { grants: grants as Grant[] } : {}),
  },
  secret,
);
console.log(token);

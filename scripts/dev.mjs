// `npm run dev`: creates .dev.vars from .dev.vars.example if missing, applies the
// local D1 migrations, builds the browser demo (web/ → public/) and the React
// example (examples/react-board/ → public/react-board/), rebuilt on every change,
// then runs `wrangler dev` on 127.0.0.1:${PORT:-8787}.
// Extra arguments are passed to wrangler dev: `npm run dev -- --log-level debug`.
// `--persist-to DIR` and `-c/--config FILE` among them are also given to the
// migrations, so they reach the D1 database that wrangler dev will use.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { constants } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./build-web.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);
const port = process.env.PORT || "8787";
// node_modules/.bin first, also when run as plain `node scripts/dev.mjs`: wrangler needs its Node 22.
const PATH = `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`;
const env = { ...process.env, PATH, WRANGLER_SEND_METRICS: "false" };

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (dev-only AUTH_SECRET, DEV_TOKENS=true).");
}

/**
 * The value of wrangler's option `names` in `args` (`--name VALUE` or `--name=VALUE`),
 * or undefined. The first occurrence wins: with several `-c`, the first config is
 * the Worker wrangler dev serves (the others are auxiliary Workers).
 */
function option(args, names) {
  for (let i = 0; i < args.length; i++) {
    if (names.includes(args[i]) && i + 1 < args.length) return args[i + 1];
    const name = names.find((candidate) => args[i].startsWith(`${candidate}=`));
    if (name) return args[i].slice(name.length + 1);
  }
  return undefined;
}

// The D1 state lives under wrangler dev's --persist-to (default .wrangler/state) and
// the database is the one of its config: apply the migrations there, not elsewhere.
const devArgs = process.argv.slice(2);
const persistTo = option(devArgs, ["--persist-to"]);
const config = option(devArgs, ["-c", "--config"]);
const migrateArgs = ["d1", "migrations", "apply", "nanotype-read-replica", "--local"];
if (persistTo !== undefined) migrateArgs.push("--persist-to", persistTo);
if (config !== undefined) migrateArgs.push("--config", config);

// CI=true makes wrangler skip its "continue?" prompt (it would default to "yes" anyway
// when not on a TTY, but an interactive "no" would silently skip the migrations).
const migrate = spawnSync("wrangler", migrateArgs, {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...env, CI: "true" },
});
if (migrate.status !== 0) {
  console.error(`Applying local D1 migrations failed (${migrate.error?.message ?? `exit ${migrate.status}`}).`);
  process.exit(migrate.status || 1);
}

// The demo page and the React example: built before wrangler starts (it serves public/), then rebuilt on change.
const web = await buildWeb({ watch: true });

const url = `http://127.0.0.1:${port}`;
console.log(`\nnanotypeDB dev server: ${url}  — open it for the live task board (health: ${url}/health)`);
console.log(`React example (examples/react-board/): ${url}/react-board/`);
console.log(`Mint a token: npm run token -- --room demo --role writer --sub alice`);
console.log(`          or: curl -s -X POST ${url}/dev/token -d '{"sub":"alice","room":"demo","role":"writer"}'\n`);

const dev = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", port, ...devArgs], { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => dev.kill(signal));
// `npm run` stops its `sh -c` on SIGTERM but not us: if our parent goes away, stop wrangler
// too, or it and its workerd processes would keep running, orphaned.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && dev.kill("SIGTERM"), 1000).unref();
dev.on("exit", async (code, signal) => {
  await web?.dispose();
  process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
});

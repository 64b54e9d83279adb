// `npm run dev`: creates .dev.vars from .dev.vars.example if missing, applies the
// local D1 migrations, builds the browser demo (web/ → public/, rebuilt on every
// change), then runs `wrangler dev` on 127.0.0.1:${PORT:-8787}.
// Extra arguments are passed to wrangler dev: `npm run dev -- --log-level debug`.
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

// CI=true makes wrangler skip its "continue?" prompt (it would default to "yes" anyway
// when not on a TTY, but an interactive "no" would silently skip the migrations).
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "nanotype-read-replica", "--local"], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...env, CI: "true" },
});
if (migrate.status !== 0) {
  console.error(`Applying local D1 migrations failed (${migrate.error?.message ?? `exit ${migrate.status}`}).`);
  process.exit(migrate.status || 1);
}

// The demo page: built before wrangler starts (it serves public/), then rebuilt on change.
const web = await buildWeb({ watch: true });

const url = `http://127.0.0.1:${port}`;
console.log(`\nnanotypeDB dev server: ${url}  — open it for the live task board (health: ${url}/health)`);
console.log(`Mint a token: npm run token -- --room demo --role writer --sub alice`);
console.log(`          or: curl -s -X POST ${url}/dev/token -d '{"sub":"alice","room":"demo","role":"writer"}'\n`);

const dev = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)], { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => dev.kill(signal));
// `npm run` stops its `sh -c` on SIGTERM but not us: if our parent goes away, stop wrangler
// too, or it and its workerd processes would keep running, orphaned.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && dev.kill("SIGTERM"), 1000).unref();
dev.on("exit", async (code, signal) => {
  await web?.dispose();
  process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
});

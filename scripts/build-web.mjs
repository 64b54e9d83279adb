// Builds the browser demo (web/) into public/, which the Worker serves as static
// assets at `/`. Used by `npm run dev` (with --watch), `npm run build`, the test
// scripts and vitest.config.ts. `node scripts/build-web.mjs [--watch]`.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const webDir = join(root, "web");
/** The build output, served by the Worker (`[assets] directory` in wrangler.toml). Gitignored. */
export const publicDir = join(root, "public");

/** Copies web/index.html into public/ whenever esbuild finishes a build (also in watch mode). */
const copyHtml = {
  name: "copy-index-html",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length === 0) await copyFile(join(webDir, "index.html"), join(publicDir, "index.html"));
    });
  },
};

/** @returns {esbuild.BuildOptions} */
function options() {
  return {
    absWorkingDir: root,
    entryPoints: { app: join(webDir, "main.ts"), app_styles: join(webDir, "styles.css") },
    outdir: publicDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    plugins: [copyHtml],
  };
}

/**
 * Builds public/ once (cleaning it first), or keeps rebuilding on changes when
 * `watch` is set (returns the esbuild context; dispose it to stop).
 *
 * @param {{ watch?: boolean }} [settings]
 */
export async function buildWeb({ watch = false } = {}) {
  await rm(publicDir, { recursive: true, force: true });
  await mkdir(publicDir, { recursive: true });
  if (!watch) {
    await esbuild.build(options());
    return null;
  }
  const context = await esbuild.context(options());
  await context.watch();
  return context;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const watch = process.argv.includes("--watch");
  const started = Date.now();
  await buildWeb({ watch });
  console.log(`web: built public/ in ${Date.now() - started} ms${watch ? "; watching web/ and src/client/ for changes" : ""}`);
}

// Builds the browser demo (web/) into public/, which the Worker serves as static
// assets at `/`, and the React example (examples/react-board/) into
// public/react-board/, served at `/react-board/`. Used by `npm run dev` (with
// --watch), `npm run build`, the test scripts and vitest.config.ts.
// `node scripts/build-web.mjs [--watch]`.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const webDir = join(root, "web");
const reactBoardDir = join(root, "examples", "react-board");
/** The build output, served by the Worker (`[assets] directory` in wrangler.toml). Gitignored. */
export const publicDir = join(root, "public");

/**
 * Copies `sourceDir`/index.html into `outdir` whenever esbuild finishes a build (also in watch mode).
 *
 * @param {string} sourceDir
 * @param {string} outdir
 * @returns {esbuild.Plugin}
 */
function copyHtml(sourceDir, outdir) {
  return {
    name: "copy-index-html",
    setup(build) {
      build.onEnd(async (result) => {
        if (result.errors.length === 0) await copyFile(join(sourceDir, "index.html"), join(outdir, "index.html"));
      });
    },
  };
}

/**
 * The demo page (web/ → public/) and the React example (examples/react-board/ →
 * public/react-board/; its styles are imported by main.tsx, so they land in app.css).
 *
 * @returns {esbuild.BuildOptions[]}
 */
function builds() {
  const reactBoardOut = join(publicDir, "react-board");
  return [
    {
      ...common(),
      entryPoints: { app: join(webDir, "main.ts"), app_styles: join(webDir, "styles.css") },
      outdir: publicDir,
      plugins: [copyHtml(webDir, publicDir)],
    },
    {
      ...common(),
      entryPoints: { app: join(reactBoardDir, "main.tsx") },
      outdir: reactBoardOut,
      jsx: "automatic",
      plugins: [copyHtml(reactBoardDir, reactBoardOut)],
    },
  ];
}

/** What both builds share. @returns {esbuild.BuildOptions} */
function common() {
  return {
    absWorkingDir: root,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
  };
}

/**
 * Builds public/ once (cleaning it first), or keeps rebuilding on changes when
 * `watch` is set (returns a handle; dispose it to stop watching).
 *
 * @param {{ watch?: boolean }} [settings]
 * @returns {Promise<{ dispose(): Promise<void> } | null>}
 */
export async function buildWeb({ watch = false } = {}) {
  await rm(publicDir, { recursive: true, force: true });
  await mkdir(join(publicDir, "react-board"), { recursive: true });
  if (!watch) {
    await Promise.all(builds().map((options) => esbuild.build(options)));
    return null;
  }
  const contexts = await Promise.all(builds().map((options) => esbuild.context(options)));
  await Promise.all(contexts.map((context) => context.watch()));
  return { dispose: async () => void (await Promise.all(contexts.map((context) => context.dispose()))) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const watch = process.argv.includes("--watch");
  const started = Date.now();
  await buildWeb({ watch });
  console.log(
    `web: built public/ in ${Date.now() - started} ms${watch ? "; watching web/, examples/react-board/ and src/client/ for changes" : ""}`,
  );
}

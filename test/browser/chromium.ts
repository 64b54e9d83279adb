/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser).
 * CI installs it (.ci/run); locally a missing browser skips the browser tests
 * with a message, but in CI (CI=true) it is a failure.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

/** Flags that keep Chromium quiet and offline in containers (see shared platform notes). */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** True when the browser tests can run here; throws in CI when Chromium is missing. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const message = `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`;
  if (process.env["CI"]) throw new Error(`${message} CI must run the browser tests.`);
  console.warn(`\n*** Skipping the browser tests. ${message}\n`);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS, headless: true });
}

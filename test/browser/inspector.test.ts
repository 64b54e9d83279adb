/**
 * The inspector panel of the demo page in a real Chromium against `wrangler
 * dev`: an admin sees `admin.inspect` refreshed live (tables, the meter, the
 * chart of what each poll added); a writer sees no panel, and the room refuses
 * the writer anyway. Saves a screenshot of the panel to test/browser/screenshots/.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoomInspection } from "../../src/protocol/inspection";
import { chromiumAvailable, launchChromium } from "./chromium";
import { startDevServer, type DevServer } from "./dev-server";

const SCREENSHOTS = resolve(import.meta.dirname, "screenshots");
const WAIT = { timeout: 15_000, interval: 100 };

describe.skipIf(!chromiumAvailable())("the inspector panel in a real browser", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let admin: Page;
  let writer: Page;
  const room = `inspector-${Date.now().toString(36)}`;

  async function open(name: string, role: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    page.on("console", (message) => message.type() === "error" && pageErrors.push(`${name} console: ${message.text()}`));
    await page.goto(`${server.url}/?${new URLSearchParams({ room, name, role })}`);
    await page.locator("#connection", { hasText: /^Live$/ }).waitFor(WAIT);
    return page;
  }

  /** A development token for `role` in the room, from the page's own token route. */
  async function tokenFor(sub: string, role: string): Promise<string> {
    const answer = await fetch(`${server.url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub, room, role, name: sub }),
    });
    return ((await answer.json()) as { token: string }).token;
  }

  const number = async (page: Page, selector: string) => Number((await page.locator(selector).textContent())?.replace(/,/g, ""));
  const taskRows = (page: Page) => number(page, '#inspector tr[data-table="tasks"] td.rows');

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startDevServer();
    browser = await launchChromium();
    admin = await open("Inspector Admin", "admin");
    writer = await open("Inspector Writer", "writer");
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  }, 30_000);

  it("shows the admin the task table's rows, the rows written and a chart of them, refreshed as tasks are created", async () => {
    const panel = admin.locator("#inspector");
    await panel.locator('tr[data-table="tasks"]').waitFor(WAIT);
    expect(await taskRows(admin)).toBe(0);

    // One task per poll, so the chart gets a bar for each.
    for (const [i, title] of ["Measure the room", "Read the meter", "Price the month"].entries()) {
      await admin.locator("#new-task-title").fill(title);
      await admin.keyboard.press("Enter");
      await expect.poll(() => taskRows(admin), WAIT).toBe(i + 1);
    }

    expect(await number(admin, '#inspector tr[data-counter="sqlRowsWritten"] td.total')).toBeGreaterThan(0);
    expect(await number(admin, '#inspector [data-metric="sqlRowsWritten"] .tile-value')).toBeGreaterThan(0);
    await expect
      .poll(() => panel.locator('.inspector-chart svg .chart-bar[data-series="sqlRowsWritten"]').count(), WAIT)
      .toBeGreaterThanOrEqual(1);
    expect(await panel.locator('.inspector-chart svg .chart-bar[data-series="requests"]').count()).toBeGreaterThanOrEqual(1);
    expect(await panel.locator(".inspector-chart").getAttribute("aria-label")).toMatch(/SQLite rows written/);

    // The rest of the inspection is there too: both people, the cost with its prices' date, why the room is awake.
    expect(await panel.locator("tr[data-user]").count()).toBe(2);
    expect(await panel.locator('tr[data-cost="total"] td').allTextContents()).toHaveLength(4);
    expect(await panel.textContent()).toMatch(/Prices as of \d{4}-\d{2}-\d{2}/);
    expect(await panel.locator(".inspector-card h3", { hasText: "Why awake" }).count()).toBe(1);

    await admin.locator("#inspector").screenshot({ path: join(SCREENSHOTS, "inspector-panel.png") });
  });

  it("does not show a writer the panel, and the room refuses the writer's inspection", async () => {
    expect(await writer.locator("#inspector").isHidden()).toBe(true);
    expect(await writer.locator("#inspector-body").innerHTML()).toBe("");

    const url = `${server.url}/rooms/${room}/inspect`;
    const seen = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor("operator", "admin")}` } });
    expect(seen.status).toBe(200);
    // The writer's page never asked: no inspection of this room has failed.
    expect(((await seen.json()) as RoomInspection).meter.byProcedure["admin.inspect"]?.errors ?? 0).toBe(0);
    const refused = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor("inspector-writer", "writer")}` } });
    expect(refused.status).toBe(403);
  });

  it("raised no errors in either page", () => {
    expect(pageErrors).toEqual([]);
  });
});

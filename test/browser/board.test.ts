/**
 * The end-to-end test of the product: the demo page served by `wrangler dev`,
 * two people in one room, each in their own browser context of a real
 * Chromium, over real WebSockets into a real room. Saves screenshots of both
 * views to test/browser/screenshots/.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, launchChromium } from "./chromium";
import { startDevServer, type DevServer } from "./dev-server";

const SCREENSHOTS = resolve(import.meta.dirname, "screenshots");
const WAIT = { timeout: 15_000, interval: 100 };

/** The page's test hook (web/main.ts). */
interface Hook {
  __nanotype: { goOffline(): void; goOnline(): void; dropConnection(): void };
}

describe.skipIf(!chromiumAvailable())("the live task board in a real browser", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let a: Page; // "Tester A", admin, wide window
  let b: Page; // "Tester B", writer, phone-width window
  const room = `browser-${Date.now().toString(36)}`;

  async function open(name: string, role: string, viewport: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ viewport, reducedMotion: "reduce" });
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    page.on("console", (message) => message.type() === "error" && pageErrors.push(`${name} console: ${message.text()}`));
    await page.goto(`${server.url}/?${new URLSearchParams({ room, name, role })}`);
    await page.locator("#connection", { hasText: /^Live$/ }).waitFor(WAIT);
    return page;
  }

  const taskCard = (page: Page, title: string) => page.locator(".task", { hasText: title });
  const column = (page: Page, status: string) => page.locator(`.column-${status}`);

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startDevServer();
    browser = await launchChromium();
    a = await open("Tester A", "admin", { width: 1280, height: 900 });
    b = await open("Tester B", "writer", { width: 420, height: 900 });
  }, 120_000);

  afterAll(async () => {
    if (a && b) {
      await a.screenshot({ path: join(SCREENSHOTS, "user-a-wide.png"), fullPage: true }).catch(() => {});
      await b.screenshot({ path: join(SCREENSHOTS, "user-b-narrow.png"), fullPage: true }).catch(() => {});
    }
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  }, 30_000);

  it("serves the page at / and keeps JSON answers for the API", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    const unknown = await fetch(`${server.url}/no/such/route`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ ok: true });
  });

  it("shows who is here, with status, on both screens", async () => {
    for (const page of [a, b]) {
      await expect.poll(() => page.locator("#people .person-name").allTextContents(), WAIT).toHaveLength(2);
    }
    await expect.poll(() => b.locator('#people [data-user-id="tester-a"]').textContent(), WAIT).toContain("admin");
    await expect.poll(() => a.locator('#people [data-user-id="tester-b"]').textContent(), WAIT).toContain("writer");
  });

  it("shows a task A creates on B's board, and B's edits on A's", async () => {
    await a.locator("#new-task-title").fill("Write the launch notes");
    await a.keyboard.press("Enter");
    await taskCard(b, "Write the launch notes").waitFor(WAIT);

    // B (keyboard only): rename it, then complete it.
    await taskCard(b, "Write the launch notes").getByRole("button", { name: /^Edit/ }).focus();
    await b.keyboard.press("Enter");
    await b.keyboard.press("Control+A");
    await b.keyboard.type("Write the launch notes (draft 2)");
    await b.keyboard.press("Enter");
    await taskCard(a, "draft 2").waitFor(WAIT);
    await taskCard(b, "draft 2").getByRole("checkbox", { name: "Done" }).check();
    await column(a, "completed").locator(".task", { hasText: "draft 2" }).waitFor(WAIT);

    // A adds another; B moves it to "In progress" with the column picker.
    await a.locator("#new-task-title").fill("Try the SQL console");
    await a.keyboard.press("Enter");
    await taskCard(b, "Try the SQL console").getByRole("combobox", { name: "Move to column" }).selectOption("in_progress");
    await column(a, "in_progress").locator(".task", { hasText: "Try the SQL console" }).waitFor(WAIT);

    // A adds one more and B deletes it.
    await a.locator("#new-task-title").fill("Remove me");
    await a.getByRole("button", { name: "Add task" }).click();
    await taskCard(b, "Remove me")
      .getByRole("button", { name: /^Delete/ })
      .click();
    await taskCard(a, "Remove me").waitFor({ state: "detached", timeout: WAIT.timeout });
  });

  it("shows A's cursor over B's board where A points", async () => {
    const board = await a.locator("#board").boundingBox();
    if (!board) throw new Error("A's board is not visible");
    await a.mouse.move(board.x + board.width * 0.2, board.y + board.height * 0.3);
    await a.mouse.move(board.x + board.width * 0.5, board.y + board.height * 0.6, { steps: 10 });
    const cursor = b.locator('.cursor[data-user-id="tester-a"]');
    await cursor.waitFor(WAIT);
    expect(await cursor.textContent()).toBe("Tester A");
    // Positions travel as fractions of the board, so B's narrow board shows A's cursor at the same relative spot.
    const percent = (side: "left" | "top") => cursor.evaluate((element, key) => parseFloat((element as unknown as { style: Record<string, string> }).style[key]!), side);
    await expect.poll(() => percent("left"), WAIT).toBeCloseTo(50, 0);
    await expect.poll(() => percent("top"), WAIT).toBeCloseTo(60, 0);
  });

  it("moves B's slider while A drags, with far fewer SQLite writes than updates", async () => {
    const slider = await a.locator("#slider").boundingBox();
    if (!slider) throw new Error("A's slider is not visible");
    const y = slider.y + slider.height / 2;
    await a.mouse.move(slider.x + 4, y);
    await a.mouse.down();
    await a.mouse.move(slider.x + slider.width - 4, y, { steps: 60 });
    await a.mouse.up();
    const finalValue = await a.locator("#slider-value").textContent();
    expect(Number(finalValue)).toBeGreaterThan(90);
    await expect.poll(() => b.locator("#slider-value").textContent(), WAIT).toBe(finalValue);
    expect(await b.locator("#slider-moved-by").textContent()).toBe("moved by Tester A");

    const sent = Number(await a.locator("#stat-sent").textContent());
    expect(sent).toBeGreaterThanOrEqual(20);
    await expect.poll(async () => Number(await a.locator("#stat-received").textContent()), WAIT).toBeGreaterThanOrEqual(sent);
    await expect.poll(async () => Number(await a.locator("#stat-writes").textContent()), WAIT).toBeGreaterThanOrEqual(1);
    const writes = Number(await a.locator("#stat-writes").textContent());
    expect(writes).toBeLessThanOrEqual(sent / 5);
  });

  it("refuses writes in the SQL console in plain words, and runs the admin's GROUP BY; B may not run SQL", async () => {
    await a.locator("#sql-text").fill("DELETE FROM tasks");
    await a.locator("#sql-text").press("Control+Enter");
    await expect.poll(() => a.locator("#sql-error").textContent(), WAIT).toMatch(/^The query was refused: DELETE .*read-only SQL/);

    await a.locator("#sql-text").fill("SELECT status, COUNT(*) AS tasks FROM tasks GROUP BY status ORDER BY status");
    await a.getByRole("button", { name: "Run" }).click();
    const table = a.locator("#sql-result table");
    await table.waitFor(WAIT);
    expect(await table.locator("th").allTextContents()).toEqual(["status", "tasks"]);
    expect(await table.locator("tbody tr").allTextContents()).toEqual(["completed1", "in_progress1"]);
    expect(await a.locator("#sql-result .sql-summary").textContent()).toMatch(/^2 rows · \d+ ms · \d+ rows? read$/);
    expect(await a.locator("#sql-error").isHidden()).toBe(true);

    expect(await b.locator("#sql-run").isDisabled()).toBe(true);
    expect(await b.locator("#sql-note").isVisible()).toBe(true);
  });

  it("shows replica health and lets the admin force a resync", async () => {
    await expect.poll(() => a.locator("#sync-health").textContent(), WAIT).toBe("Healthy");
    await expect.poll(() => a.locator("#sync-pending").textContent(), WAIT).toBe("0");
    await a.getByRole("button", { name: "Force full resync" }).click();
    const notice = a.locator("#infos .notice", { hasText: "Replica rewritten" });
    await notice.waitFor(WAIT);
    await notice.getByRole("button", { name: "Dismiss" }).click();
    await notice.waitFor({ state: "detached", timeout: WAIT.timeout });
    expect(await b.locator("#sync-force").isDisabled()).toBe(true);
  });

  it("reconnects after a dropped socket and shows what changed meanwhile", async () => {
    await a.evaluate(() => (globalThis as unknown as Hook).__nanotype.goOffline());
    await expect.poll(() => a.locator("#connection").textContent(), WAIT).toMatch(/^Reconnecting/);

    await b.locator("#new-task-title").fill("Added while A was away");
    await b.keyboard.press("Enter");
    await taskCard(b, "Added while A was away").waitFor(WAIT);
    expect(await taskCard(a, "Added while A was away").count()).toBe(0);

    await a.evaluate(() => (globalThis as unknown as Hook).__nanotype.goOnline());
    await expect.poll(() => a.locator("#connection").textContent(), WAIT).toBe("Live (resumed after 1 drop)");
    await taskCard(a, "Added while A was away").waitFor(WAIT);
    // Presence came back too (the room drops it when a member's last socket closes).
    await expect.poll(() => b.locator("#people .person-name").allTextContents(), WAIT).toHaveLength(2);
  });

  it("raised no errors in either page", () => {
    expect(pageErrors).toEqual([]);
  });
});

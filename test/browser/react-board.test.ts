/**
 * The React example (examples/react-board/, served at /react-board/ by
 * `wrangler dev`) in a real Chromium: two people and a reader, each in their
 * own browser context, over real WebSockets into one room. Each page's socket
 * runs through a gate (Playwright's routeWebSocket) that can hold the room's
 * messages back, and its connect tickets through one that can refuse them, so
 * "before the answer" and "while disconnected" are states the test holds, not
 * races it hopes to win.
 */
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, launchChromium } from "./chromium";
import { startDevServer, type DevServer } from "./dev-server";

const WAIT = { timeout: 15_000, interval: 100 };
/** Gap between held messages on release: long enough for the page to render each one apart. */
const RELEASE_SPACING_MS = 250;

/** The page's test hook (examples/react-board/main.tsx). */
interface Hook {
  __nanotype: { dropConnection(): void };
}

/** One page's way to the room: hold the room's messages, refuse new connections. */
interface Gate {
  /** Queues everything the room sends until `release()`. */
  hold(): void;
  /**
   * Delivers the queued messages in order, `spacingMs` apart (as a slow network
   * would; 0: all at once), and stops holding once the queue is empty.
   */
  release(spacingMs?: number): Promise<void>;
  /** Messages queued now. */
  held(): number;
  /** While offline, connect tickets fail, so the client keeps retrying without a socket. */
  offline: boolean;
}

/** What `recordTitles` uses of the page's globals. */
interface PageGlobals {
  document: { body: unknown; querySelector(selector: string): { textContent: string | null } | null };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  __titles: string[];
}

interface Member {
  page: Page;
  gate: Gate;
}

describe.skipIf(!chromiumAvailable())("the React task board in a real browser", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let a: Member; // "Ada", writer
  let b: Member; // "Bob", writer
  const room = `react-${Date.now().toString(36)}`;

  async function open(name: string, role: string): Promise<Member> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, reducedMotion: "reduce" });
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    let holding = false;
    const queue: Array<{ socket: WebSocketRoute; message: string | Buffer }> = [];
    const gate: Gate = {
      hold: () => void (holding = true),
      async release(spacingMs = 0) {
        while (queue.length > 0) {
          const { socket, message } = queue.shift()!;
          socket.send(message);
          if (spacingMs > 0) await new Promise((resolve) => setTimeout(resolve, spacingMs));
        }
        holding = false;
      },
      held: () => queue.length,
      offline: false,
    };
    await page.route(/\/rooms\/.+\/ticket$/, (route) => (gate.offline ? route.abort("connectionrefused") : route.continue()));
    await page.routeWebSocket(/\/rooms\/.+\/ws/, (socket) => {
      const toRoom = socket.connectToServer();
      socket.onMessage((message) => toRoom.send(message));
      toRoom.onMessage((message) => (holding ? queue.push({ socket, message }) : socket.send(message)));
    });
    await page.goto(`${server.url}/react-board/?${new URLSearchParams({ room, name, role })}`);
    await badge(page)
      .filter({ hasText: /^Live$/ })
      .waitFor(WAIT);
    return { page, gate };
  }

  const badge = (page: Page) => page.locator("#connection");
  const card = (page: Page, title: string) => page.locator(".task", { has: page.locator(".task-title", { hasText: title }) });
  const titleOf = (page: Page, id: string) => page.locator(`.task[data-task-id="${id}"] .task-title`);

  async function addTask(page: Page, title: string): Promise<void> {
    await page.getByLabel("New task").fill(title);
    await page.keyboard.press("Enter");
  }

  async function rename(page: Page, from: string, to: string): Promise<void> {
    await card(page, from)
      .getByRole("button", { name: /^Rename/ })
      .click();
    await page.getByLabel("Task title").fill(to);
    await page.keyboard.press("Enter");
  }

  /**
   * Records every text the title of task `id` shows from now on (MutationObserver
   * after each DOM change), so a flicker between two checks cannot hide.
   */
  async function recordTitles(page: Page, id: string): Promise<() => Promise<string[]>> {
    await page.evaluate((taskId) => {
      // The DOM as far as used here (this project's type check has no DOM library).
      const page = globalThis as unknown as PageGlobals;
      const read = () => page.document.querySelector(`.task[data-task-id="${taskId}"] .task-title`)?.textContent ?? "(gone)";
      const seen = [read()];
      new page.MutationObserver(() => seen.push(read())).observe(page.document.body, {
        subtree: true,
        childList: true,
        characterData: true,
      });
      page.__titles = seen;
    }, id);
    return () => page.evaluate(() => (globalThis as unknown as PageGlobals).__titles);
  }

  /** Resolves once `page` shows a task B just added: everything the room sent before it has been applied. */
  async function barrier(page: Page, label: string): Promise<void> {
    await addTask(b.page, label);
    await card(page, label).waitFor(WAIT);
  }

  beforeAll(async () => {
    server = await startDevServer();
    browser = await launchChromium();
    a = await open("Ada", "writer");
    b = await open("Bob", "writer");
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  }, 30_000);

  it("serves the React example at /react-board/ from the same build", async () => {
    const page = await fetch(`${server.url}/react-board/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('<script type="module" src="/react-board/app.js">');
    const script = await fetch(`${server.url}/react-board/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
  });

  it("lists who is here, with their role, on both screens", async () => {
    for (const { page } of [a, b]) {
      await expect.poll(() => page.locator(".people .person-name").allTextContents(), WAIT).toHaveLength(2);
    }
    await expect.poll(() => b.page.locator('.people [data-user-id="ada"]').textContent(), WAIT).toBe("Adawriter");
    await expect.poll(() => a.page.locator('.people [data-user-id="bob"]').textContent(), WAIT).toBe("Bobwriter");
  });

  it("shares one subscription between the components that read the same live query", async () => {
    await addTask(a.page, "Count me");
    await card(b.page, "Count me").waitFor(WAIT);
    // The header's count and the board read tasks.live with the same input on each page.
    for (const { page } of [a, b]) {
      const cards = await page.locator(".task").count();
      await expect.poll(() => page.getByLabel("Tasks on the board").textContent(), WAIT).toBe(`${cards} ${cards === 1 ? "task" : "tasks"}`);
    }
    // The room's inspector counts one tasks.live subscription per page, not one per component.
    const minted = await fetch(`${server.url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "inspector", room, role: "admin" }),
    });
    const { token } = (await minted.json()) as { token: string };
    const inspect = await fetch(`${server.url}/rooms/${room}/inspect`, { headers: { authorization: `Bearer ${token}` } });
    expect(inspect.status).toBe(200);
    const inspection = (await inspect.json()) as { connections: { subscriptionsByProcedure: Record<string, number> } };
    expect(inspection.connections.subscriptionsByProcedure["tasks.live"]).toBe(2);
  });

  it("shows A's new task, rename and move on B's board live", async () => {
    await addTask(a.page, "Write the launch notes");
    await card(b.page, "Write the launch notes").waitFor(WAIT);

    await rename(a.page, "Write the launch notes", "Write the launch notes (draft 2)");
    await card(b.page, "(draft 2)").waitFor(WAIT);

    await card(a.page, "(draft 2)").getByRole("combobox", { name: "Move to column" }).selectOption("in_progress");
    await b.page.locator(".column-in_progress .task", { hasText: "(draft 2)" }).waitFor(WAIT);
    expect(await b.page.locator(".column-pending .task", { hasText: "(draft 2)" }).count()).toBe(0);

    await card(b.page, "(draft 2)")
      .getByRole("button", { name: /^Delete/ })
      .click();
    await card(a.page, "(draft 2)").waitFor({ state: "detached", timeout: WAIT.timeout });
  });

  it("shows A's edit before the room's answer, and keeps it without flicker when the answer comes", async () => {
    await addTask(a.page, "Plan the sprint");
    await card(b.page, "Plan the sprint").waitFor(WAIT);
    const id = await card(a.page, "Plan the sprint").getAttribute("data-task-id");
    expect(Number(id)).toBeGreaterThan(0);

    a.gate.hold();
    await rename(a.page, "Plan the sprint", "Plan the sprint (moved to Monday)");
    // B sees the room's change, so the room has answered A, and that answer is being held:
    // what A shows now is A's own optimistic change.
    await card(b.page, "(moved to Monday)").waitFor(WAIT);
    expect(a.gate.held()).toBeGreaterThan(0);
    await expect(titleOf(a.page, id!).textContent()).resolves.toBe("Plan the sprint (moved to Monday)");

    const titles = await recordTitles(a.page, id!);
    // One message at a time, so the page renders between the answer and the push.
    await a.gate.release(RELEASE_SPACING_MS);
    await barrier(a.page, "After the answer");
    expect(new Set(await titles())).toEqual(new Set(["Plan the sprint (moved to Monday)"]));
    expect(await a.page.getByRole("alert").textContent()).toBe("");
  });

  it("shows A's new task at once as saving, then the room's row in its place, once", async () => {
    a.gate.hold();
    await addTask(a.page, "Book the venue");
    const pending = card(a.page, "Book the venue");
    await expect.poll(() => pending.locator(".task-meta").textContent(), WAIT).toBe("saving…");
    await card(b.page, "Book the venue").waitFor(WAIT);
    expect(a.gate.held()).toBeGreaterThan(0);
    expect(Number(await pending.getAttribute("data-task-id"))).toBeLessThan(0);

    await a.gate.release(RELEASE_SPACING_MS);
    await barrier(a.page, "After the create");
    expect(await card(a.page, "Book the venue").count()).toBe(1);
    expect(await card(a.page, "Book the venue").getAttribute("data-task-id")).toBe(
      await card(b.page, "Book the venue").getAttribute("data-task-id"),
    );
    expect(await card(a.page, "Book the venue").locator(".task-meta").textContent()).toMatch(/^#\d+ · by ada$/);
  });

  it("rolls back a reader's refused edit and says why", async () => {
    const reader = await open("Cleo", "reader");
    await card(reader.page, "(moved to Monday)").waitFor(WAIT);
    const id = await card(reader.page, "(moved to Monday)").getAttribute("data-task-id");

    reader.gate.hold();
    await rename(reader.page, "Plan the sprint (moved to Monday)", "Cleo was here");
    // Shown at once; then the room's answer arrives and is held: still shown, no error yet.
    await expect.poll(() => titleOf(reader.page, id!).textContent(), WAIT).toBe("Cleo was here");
    await expect.poll(() => reader.gate.held(), WAIT).toBeGreaterThan(0);
    expect(await titleOf(reader.page, id!).textContent()).toBe("Cleo was here");
    expect(await reader.page.locator(".notice").count()).toBe(0);

    await reader.gate.release();
    const notice = reader.page.getByRole("alert").locator(".notice");
    await notice.waitFor(WAIT);
    expect(await notice.textContent()).toMatch(
      /^Changing the task was refused \(FORBIDDEN\): "tasks\.update" requires the writer role; your token grants reader/,
    );
    await expect.poll(() => titleOf(reader.page, id!).textContent(), WAIT).toBe("Plan the sprint (moved to Monday)");
    // The room never applied it.
    await barrier(reader.page, "After the refusal");
    expect(await titleOf(b.page, id!).textContent()).toBe("Plan the sprint (moved to Monday)");
    expect(await titleOf(reader.page, id!).textContent()).toBe("Plan the sprint (moved to Monday)");

    await notice.getByRole("button", { name: "Dismiss" }).click();
    await notice.waitFor({ state: "detached", timeout: WAIT.timeout });
  });

  it("shows Reconnecting after a dropped connection, then Live, with B's change made meanwhile", async () => {
    a.gate.offline = true;
    await a.page.evaluate(() => (globalThis as unknown as Hook).__nanotype.dropConnection());
    await expect.poll(() => badge(a.page).textContent(), WAIT).toBe("Reconnecting…");

    await addTask(b.page, "Added while Ada was away");
    await card(b.page, "Added while Ada was away").waitFor(WAIT);
    expect(await card(a.page, "Added while Ada was away").count()).toBe(0);
    // The board keeps what it had while reconnecting.
    expect(await card(a.page, "(moved to Monday)").count()).toBe(1);

    a.gate.offline = false;
    await expect.poll(() => badge(a.page).textContent(), { ...WAIT, timeout: 30_000 }).toBe("Live");
    await card(a.page, "Added while Ada was away").waitFor(WAIT);
    // And a change after the reconnect arrives live too; presence came back as well.
    await barrier(a.page, "Added after Ada came back");
    await expect.poll(() => b.page.locator('.people [data-user-id="ada"]').count(), WAIT).toBe(1);
  });

  it("raised no errors in any page", () => {
    expect(pageErrors).toEqual([]);
  });
});

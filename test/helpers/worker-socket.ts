/**
 * Real WebSockets to the Worker under test, opened through `SELF.fetch` (the
 * test runtime has no listening port). `WorkerWebSocket` is a WebSocket class
 * the stock tRPC wsClient accepts; `RawSocket` is for protocol-level tests.
 */
import { SELF } from "cloudflare:test";
import superjson, { type SuperJSONResult } from "superjson";

/** A WebSocket class (constructor(url)) that the stock `createWSClient` can use inside workerd. */
export class WorkerWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  binaryType = "arraybuffer";
  #socket: WebSocket | null = null;

  constructor(readonly url: string) {
    super();
    void this.#open();
  }

  async #open(): Promise<void> {
    try {
      const response = await SELF.fetch(this.url.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
      const socket = response.webSocket;
      if (!socket) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
      socket.accept();
      this.#socket = socket;
      socket.addEventListener("message", (event) => this.dispatchEvent(new MessageEvent("message", { data: event.data })));
      socket.addEventListener("close", (event) => {
        this.readyState = 3;
        this.dispatchEvent(new CloseEvent("close", { code: event.code, reason: event.reason }));
      });
      this.readyState = 1;
      this.dispatchEvent(new Event("open"));
    } catch {
      this.readyState = 3;
      this.dispatchEvent(new Event("error"));
      this.dispatchEvent(new CloseEvent("close", { code: 1006 }));
    }
  }

  send(data: string): void {
    if (!this.#socket) throw new Error("socket is not open");
    this.#socket.send(data);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.#socket?.close(code, reason);
  }
}

/** Decodes the superjson payloads of a tRPC response frame, so tests read plain values. */
function decode(text: string): unknown {
  const frame = JSON.parse(text) as Record<string, unknown>;
  if (frame["error"]) frame["error"] = superjson.deserialize(frame["error"] as SuperJSONResult);
  const result = frame["result"] as Record<string, unknown> | undefined;
  if (result && "data" in result) result["data"] = superjson.deserialize(result["data"] as SuperJSONResult);
  return frame;
}

/**
 * A raw socket that records every frame and close, for protocol-level tests.
 * `frames` holds decoded frames ("PONG" stays a string); `raw` the text as sent.
 */
export class RawSocket {
  readonly frames: unknown[] = [];
  readonly raw: unknown[] = [];
  closed: { code: number; reason: string } | null = null;
  #waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const data = event.data;
      this.raw.push(data);
      this.frames.push(typeof data === "string" && data !== "PONG" ? decode(data) : data);
      this.#wake();
    });
    socket.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake();
    });
  }

  /** Opens a socket; rejects with the HTTP status and body when the upgrade is refused. */
  static async open(path: string): Promise<RawSocket> {
    const response = await SELF.fetch(`http://example.com${path}`, { headers: { upgrade: "websocket" } });
    if (!response.webSocket) throw new Error(`${response.status} ${await response.text()}`);
    response.webSocket.accept();
    return new RawSocket(response.webSocket);
  }

  send(data: unknown): void {
    this.socket.send(typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data));
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves once `count` frames in total have arrived. */
  async waitForFrames(count: number, timeoutMs = 5_000): Promise<unknown[]> {
    await this.#until(() => this.frames.length >= count, timeoutMs, `${count} frames (have ${this.frames.length})`);
    return this.frames.slice(0, count);
  }

  /** Resolves once the socket is closed. */
  async waitForClose(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    await this.#until(() => this.closed !== null, timeoutMs, "close");
    return this.closed!;
  }

  async #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close(1000, "done");
  }
}

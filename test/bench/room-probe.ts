/**
 * Counts invocations of the product's Room Durable Object from outside, with
 * no change to the product: through the runtime's inspector (the port wrangler
 * dev exposes), it sets a conditional breakpoint at the first line of each
 * Room entry point (fetch, call, webSocketMessage, webSocketClose,
 * webSocketError, alarm) whose condition logs a marker and never pauses, and
 * counts the markers. Used by the replica-read scenario to show reads that
 * never reach the room; detaching removes the breakpoints.
 */
import { openSocket, type WebSocketClass } from "./sockets";

const MARKER = "bench:room-invoked";
const ENTRY_POINTS = /^\s*async (fetch|call|webSocketMessage|webSocketClose|webSocketError|alarm)\(/;

interface CdpMessage {
  id?: number;
  method?: string;
  params?: { url?: string; scriptId?: string; args?: Array<{ value?: unknown }> };
  result?: { scriptSource?: string; breakpointId?: string };
  error?: { message: string };
}

export class RoomProbe {
  private nextId = 0;
  private readonly waiting = new Map<number, (message: CdpMessage) => void>();
  private readonly scripts: Array<{ url: string; scriptId: string }> = [];
  /** Room entry-point invocations seen since attach. */
  invocations = 0;
  /** The Room methods instrumented, e.g. ["fetch", "call", …]. */
  methods: string[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as CdpMessage;
      if (message.id !== undefined) {
        this.waiting.get(message.id)?.(message);
        this.waiting.delete(message.id);
      } else if (message.method === "Debugger.scriptParsed" && message.params?.url && message.params.scriptId) {
        this.scripts.push({ url: message.params.url, scriptId: message.params.scriptId });
      } else if (message.method === "Runtime.consoleAPICalled" && message.params?.args?.[0]?.value === MARKER) {
        this.invocations++;
      } else if (message.method === "Debugger.paused") {
        // Never expected (the conditions are false); do not leave the runtime stopped.
        void this.send("Debugger.resume");
      }
    });
  }

  private send(method: string, params: Record<string, unknown> = {}): Promise<CdpMessage> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Connects to the inspector at `port` and instruments the Room class of the bundled worker. */
  static async attach(impl: WebSocketClass, port: number): Promise<RoomProbe> {
    const probe = new RoomProbe(await openSocket(impl, `ws://127.0.0.1:${port}/ws`));
    await probe.send("Runtime.enable");
    await probe.send("Debugger.enable");
    await new Promise((done) => setTimeout(done, 300));
    const worker = probe.scripts.find((script) => /\/worker\.js$/.test(script.url));
    if (!worker) throw new Error(`room probe: no worker script among ${probe.scripts.length} scripts`);
    const source = (await probe.send("Debugger.getScriptSource", { scriptId: worker.scriptId })).result?.scriptSource ?? "";
    const lines = source.split("\n");
    // The engine's Room class (made by createRoomClass), not the app entry's empty subclass.
    const start = lines.findIndex((line) => /class Room extends DurableObject\b/.test(line));
    if (start < 0) throw new Error("room probe: class Room not found in the bundle");
    const indent = /^\s*/.exec(lines[start]!)![0];
    const end = new RegExp(`^${indent}};?$`);
    for (let line = start + 1; line < lines.length && !end.test(lines[line]!); line++) {
      // Methods of the class itself, one level in (not nested functions).
      const match = lines[line]!.startsWith(`${indent}  async`) ? ENTRY_POINTS.exec(lines[line]!) : null;
      if (!match) continue;
      const set = await probe.send("Debugger.setBreakpoint", {
        location: { scriptId: worker.scriptId, lineNumber: line + 1 },
        condition: `console.debug(${JSON.stringify(MARKER)}), false`,
      });
      if (set.error) throw new Error(`room probe: ${set.error.message}`);
      probe.methods.push(match[1]!);
    }
    if (!probe.methods.length) throw new Error("room probe: no Room entry points found");
    return probe;
  }

  /** Waits for markers still in flight, then returns the count. */
  async settle(): Promise<number> {
    await new Promise((done) => setTimeout(done, 300));
    return this.invocations;
  }

  async detach(): Promise<void> {
    await this.send("Debugger.disable");
    this.ws.close();
  }
}

/**
 * What the benchmarks and the browser test (Node side) need to start
 * `wrangler dev` themselves: its environment and free local ports.
 */
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * The environment of a `wrangler` child process: Node 22 from node_modules/.bin,
 * no prompts, no metrics, no colours, and wrangler's local observability off —
 * it traces every frame into a local database (a raw echo measured 3.9× slower).
 */
export function wranglerEnv(root: string, logDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(root, "node_modules/.bin")}:${process.env["PATH"] ?? ""}`,
    CI: "true",
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    X_LOCAL_OBSERVABILITY: "false",
    WRANGLER_LOG_PATH: logDir,
  };
}

/** `count` distinct free ports on 127.0.0.1 (all held open at once, so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolvePort, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolvePort(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

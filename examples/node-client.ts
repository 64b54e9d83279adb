/**
 * Quick start: mint a dev token, create a task, list the room's tasks.
 * Needs `npm run dev` running; then `npm run example [-- room]` (Node 22+).
 */
import type { AppRouter } from "../src/app";
import { closeRoomClient, createRoomClient } from "../src/client";

const url = process.env["NANOTYPE_URL"] ?? "http://127.0.0.1:8787";
const room = process.argv[2] ?? "demo";

// 1. A token from the dev-only route (enabled by DEV_TOKENS=true in .dev.vars).
const response = await fetch(`${url}/dev/token`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ sub: "alice", room, role: "writer", name: "Alice" }),
});
if (!response.ok) throw new Error(`POST /dev/token failed: ${response.status} ${await response.text()}`);
const { token } = (await response.json()) as { token: string };

// 2. A typed client of the room: inputs and results are checked against the server's router.
const client = createRoomClient<AppRouter>({ url, room, token });
try {
  const task = await client.tasks.create.mutate({ title: "Try nanotypeDB" });
  console.log(`created task ${task.id}: ${task.title}`);

  const { items } = await client.tasks.list.query();
  console.log(`${items.length} task(s) in room "${room}":`);
  for (const t of items) console.log(`  #${t.id} [${t.status}] ${t.title}`);
} finally {
  await closeRoomClient(client);
}

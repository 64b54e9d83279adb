/**
 * Memory per idle socket: the growth of each runtime's workerd RSS (the user
 * worker's process, not wrangler's proxy: sockets go straight to the runtime)
 * when M sockets are opened — raw idle sockets on the floor; on nanotypeDB,
 * authenticated sockets without and then with one live subscription
 * (`tasks.changes`) — divided by M.
 */
import type { BenchContext } from "../context";
import { rssKiB, sleep } from "../runtime";
import { Fleet, FrameSocket, nextFrame } from "../sockets";
import { median } from "../stats";
import { handFrame } from "./round-trips";

/** RSS settles after allocation; take the median of a few samples after a pause. */
async function settledRss(pid: number): Promise<number> {
  await sleep(1_500);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await sleep(200);
  }
  return median(samples);
}

export async function memory(context: BenchContext): Promise<void> {
  const { WebSocket: WS, suffix, settings, product, baseline } = context;
  const count = settings.memorySockets;
  const room = `mem-${suffix}`;
  // Wake both rooms first, so the measured growth is the sockets' own.
  const floorAnchor = await FrameSocket.open(WS, context.floorSocketUrl(room, "direct"));
  await floorAnchor.request("echo:wake");
  const productUrl = await context.productSocketUrl(room, "direct", "reader", "idle");
  const productAnchor = await FrameSocket.open(WS, productUrl);
  await productAnchor.request(handFrame("query", "session.whoami").frame);

  const floorBefore = await settledRss(baseline.pid);
  const floor = await Fleet.open(WS, () => context.floorSocketUrl(room, "direct"), count);
  const floorAfter = await settledRss(baseline.pid);

  const plainBefore = await settledRss(product.pid);
  // One user per socket: a user may hold at most MAX_SOCKETS_PER_USER sockets in a room.
  const plainUrls = await Promise.all(
    Array.from({ length: count }, (_, i) => context.productSocketUrl(room, "direct", "reader", `plain-${i}`)),
  );
  const plain = await Fleet.open(WS, (index) => plainUrls[index]!, count);
  const plainAfter = await settledRss(product.pid);

  const productBefore = await settledRss(product.pid);
  const userUrls = await Promise.all(
    Array.from({ length: count }, (_, i) => context.productSocketUrl(room, "direct", "reader", `idle-${i}`)),
  );
  const subscribed = await Fleet.open(WS, (index) => userUrls[index]!, count, {
    afterOpen: async (ws) => {
      const ready = nextFrame(ws, (data) => data.includes('"type":"data"'));
      ws.send(handFrame("subscription", "tasks.changes").frame);
      await ready;
    },
  });
  const productAfter = await settledRss(product.pid);

  const floorPerSocket = (floorAfter - floorBefore) / count;
  const productPerSocket = (productAfter - productBefore) / count;
  const plainPerSocket = (plainAfter - plainBefore) / count;
  context.log(
    `memory: floor ${floorPerSocket.toFixed(1)} KiB/socket, nanotypeDB ${productPerSocket.toFixed(1)} KiB/socket (${count} sockets)`,
  );
  context.results.value("memoryFloor", `floor: raw idle socket (${count} sockets)`, "direct", "KiB/socket", floorPerSocket, {
    rssBeforeKiB: floorBefore,
    rssAfterKiB: floorAfter,
    sockets: count,
  });
  context.results.value(
    "memoryPlain",
    `nanotypeDB: idle socket, no subscription (${count} sockets)`,
    "direct",
    "KiB/socket",
    plainPerSocket,
    {
      rssBeforeKiB: plainBefore,
      rssAfterKiB: plainAfter,
      sockets: count,
    },
  );
  context.results.value(
    "memoryProduct",
    `nanotypeDB: idle socket with one live subscription (${count} sockets)`,
    "direct",
    "KiB/socket",
    productPerSocket,
    { rssBeforeKiB: productBefore, rssAfterKiB: productAfter, sockets: count },
  );
  await Promise.all([floor.close(), plain.close(), subscribed.close()]);
  floorAnchor.close();
  productAnchor.close();
}

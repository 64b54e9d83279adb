/**
 * The issue's targets, judged on one run's measurements: every nanotypeDB
 * figure as a ratio to its floor (and to the PartyServer peer) measured in the
 * same run. Fills `results.lines`; run.ts calls it after the scenarios.
 */
import { judgeCost } from "./cost-table";
import { formatLatency, formatMs, type Results } from "./results";

interface Detail {
  detail?: Record<string, unknown>;
  value?: number | null;
}

function valueOf(results: Results, key: string): Detail | null {
  const found = results.measurements.get(`${key}@direct`);
  return found?.kind === "value" ? { value: found.value, ...(found.detail ? { detail: found.detail } : {}) } : null;
}

function num(detail: Record<string, unknown> | undefined, key: string): number {
  const value = detail?.[key];
  return typeof value === "number" ? value : NaN;
}

export function judge(results: Results, fanOutSizes: number[]): void {
  for (const path of ["direct", "proxy"] as const) {
    if (!results.getLatency("rawInsert", path)) continue;
    results.latencyLine({
      scenario: "typed mutation round trip, stock client",
      key: "stockMutation",
      floorKey: "rawInsert",
      path,
      max: 1.5,
    });
    results.latencyLine({
      scenario: "typed mutation round trip, createRoomClient",
      key: "roomMutation",
      floorKey: "rawInsert",
      path,
      max: 1.5,
    });
    results.latencyLine({ scenario: "typed query round trip, stock client", key: "stockQuery", floorKey: "rawGet", path, max: 1.5 });
    results.latencyLine({ scenario: "typed query round trip, createRoomClient", key: "roomQuery", floorKey: "rawGet", path, max: 1.5 });
    results.latencyLine({
      scenario: "echo against PartyServer: lightest typed round trip vs PartyServer echo",
      key: "roomWhoami",
      floorKey: "peerEcho",
      path,
      max: 1.0,
      versus: "peer",
    });
    results.latencyLine({ scenario: "floor echo vs PartyServer echo (reference)", key: "rawEcho", floorKey: "peerEcho", path, max: null });
  }

  if (results.getRate("floorSingle", "direct") !== null) {
    const inFlight = "many clients pipelining";
    results.rateLine({
      scenario: `write throughput, stock client, ${inFlight}`,
      key: "stockTyped",
      floorKey: "floorSingle",
      path: "direct",
      min: 1,
    });
    results.rateLine({
      scenario: `write throughput, createRoomClient, ${inFlight}`,
      key: "roomTyped",
      floorKey: "floorSingle",
      path: "direct",
      min: 1,
    });
    results.rateLine({
      scenario: "typed bursts (reference): createRoomClient, 8 mutations issued in one tick per client",
      key: "roomBurst",
      floorKey: "floorSingle",
      path: "direct",
      min: null,
    });
    results.rateLine({
      scenario: "batching gain: frames of many mutations (one commit each) vs one mutation per frame",
      key: "handBatch",
      floorKey: "handSingle",
      path: "direct",
      min: 3,
    });
    results.rateLine({
      scenario: "batching gain on the floor (reference): frames of many inserts vs one insert per frame",
      key: "floorBatch",
      floorKey: "floorSingle",
      path: "direct",
      min: null,
    });
  }

  for (const n of fanOutSizes) {
    results.latencyLine({
      scenario: `mutation → all ${n} live subscribers`,
      key: `changes:${n}`,
      floorKey: `broadcastFloor:${n}`,
      peerKey: `broadcastPeer:${n}`,
      path: "direct",
      max: 1.3,
    });
    results.latencyLine({
      scenario: `mutation → ${n} live-window subscribers (tasks.live diff)`,
      key: `liveWindow:${n}`,
      floorKey: `broadcastFloorWindow:${n}`,
      peerKey: `broadcastPeerWindow:${n}`,
      path: "direct",
      max: 1.3,
      maxP99: 1.5,
    });
    results.latencyLine({
      scenario: `cursor update → ${n} presence watchers`,
      key: `presence:${n}`,
      floorKey: `broadcastFloorCursor:${n}`,
      peerKey: `broadcastPeerCursor:${n}`,
      path: "direct",
      max: 1.3,
    });
    results.latencyLine({
      scenario: `broadcast against PartyServer: cursor update → ${n} watchers vs PartyServer broadcast`,
      key: `presence:${n}`,
      floorKey: `broadcastPeerCursor:${n}`,
      path: "direct",
      max: 1.0,
      versus: "peer",
    });
  }

  for (const [key, row] of [
    ["liveUpdateBytes", "a board task"],
    ["liveUpdateBytesLarge", "a ≈ 2.4 KB row"],
  ] as const) {
    const update = valueOf(results, key);
    if (!update) continue;
    const frame = update.value ?? NaN;
    const rowBytes = num(update.detail, "rowJsonBytes");
    const wire = update.detail?.["wireBytes"];
    results.add({
      scenario: `bytes sent per live-query update, ${row}`,
      path: "direct",
      measured: `${frame} B WebSocket frame (${typeof wire === "number" ? `${wire} B read on the wire; ` : ""}envelope ${frame - rowBytes} B, of it superjson meta ${num(update.detail, "superjsonMetaBytes")} B)`,
      floor: `the changed row's JSON: ${rowBytes} B`,
      ratio: { value: frame / rowBytes },
      target: "≤ 1.2× the changed rows' JSON",
      met: frame / rowBytes <= 1.2,
    });
  }

  const debounced = valueOf(results, "debouncedWrites");
  if (debounced) {
    const writes = debounced.value ?? NaN;
    const allowed = num(debounced.detail, "allowedWrites");
    const coalescing = num(debounced.detail, "coalescing");
    results.add({
      scenario: `debounced writer, 60 updates/s × 50 keys for ${num(debounced.detail, "loadSeconds").toFixed(0)} s`,
      path: "direct",
      measured: `${writes} SQLite writes for ${num(debounced.detail, "updatesAccepted")} updates (coalescing ${coalescing.toFixed(1)}×)`,
      floor: `target scaled to the run: ${allowed} writes`,
      ratio: { value: coalescing },
      target: `≤ ${allowed} writes (coalescing ≥ 60×)`,
      met: writes <= allowed && coalescing >= 60,
    });
  }

  const lag = results.getLatency("replicationLag", "direct");
  const batches = valueOf(results, "replicationBatches");
  if (lag && batches) {
    results.add({
      scenario: `replication lag, commit → visible in D1, ${Math.round(num(batches.detail, "writesPerSecond"))} writes/s sustained`,
      path: "direct",
      measured: `${formatLatency(lag)}; ${(batches.value ?? NaN).toFixed(1)} D1 batches/s (${num(batches.detail, "writesPerBatch").toFixed(0)} writes per batch)`,
      floor: "— (absolute target)",
      ratio: null,
      target: "p50 ≤ 100 ms, p99 ≤ 500 ms",
      met: lag.p50 <= 100 && lag.p99 <= 500,
    });
  }

  const replicaMissing = valueOf(results, "replicaReads");
  const replicaRate = results.measurements.get("replicaRate@direct");
  const roomRate = results.measurements.get("roomRate@direct");
  const replicaRead = results.getLatency("replicaRead", "direct");
  const roomRead = results.getLatency("roomRead", "direct");
  if (replicaMissing) {
    results.add({
      scenario: "replica reads: throughput, latency, and a count of room invocations",
      path: "direct",
      measured: `not measured: ${String(replicaMissing.detail?.["notMeasured"] ?? "?")}`,
      floor: "—",
      ratio: null,
      target: "reported; room invocations = 0",
      met: null,
    });
  } else if (replicaRate?.kind === "rate" && roomRate?.kind === "rate" && replicaRead && roomRead) {
    const invocations = num(replicaRate.detail, "roomInvocations");
    const probeSawRoom = num(roomRate.detail, "roomInvocations");
    results.add({
      scenario: "replica reads: throughput, latency, and a count of room invocations",
      path: "direct",
      measured: `${Math.round(replicaRate.median)} reads/s; ${formatLatency(replicaRead)}; room invocations during ${num(replicaRate.detail, "readsCounted")} counted replica reads: ${invocations} (answers from the replica ${num(replicaRate.detail, "answeredFromReplica")}, room fallbacks ${num(replicaRate.detail, "answeredFromRoom")})`,
      floor: `the same read served by the room: ${Math.round(roomRate.median)} reads/s; ${formatLatency(roomRead)}; the probe counted ${probeSawRoom} room invocations for ${num(roomRate.detail, "roomReadsCounted")} of those reads`,
      ratio: { p50: replicaRead.p50 / roomRead.p50, p99: replicaRead.p99 / roomRead.p99 },
      target: "reported; room invocations = 0",
      // Only meaningful when the probe demonstrably counts room invocations.
      met: probeSawRoom > 0 ? invocations === 0 && num(replicaRate.detail, "answeredFromRoom") === 0 : null,
    });
  }

  const memoryFloor = valueOf(results, "memoryFloor");
  const memoryProduct = valueOf(results, "memoryProduct");
  if (memoryFloor && memoryProduct) {
    const ratio = (memoryProduct.value ?? NaN) / (memoryFloor.value ?? NaN);
    // RSS can shrink while sockets open (freed memory returned to the system): then the figure says nothing.
    const valid = (memoryFloor.value ?? 0) > 0 && (memoryProduct.value ?? 0) > 0;
    results.add({
      scenario: "memory per idle socket with one live subscription",
      path: "direct",
      measured: `${formatMs(memoryProduct.value ?? NaN)} KiB/socket`,
      floor: `raw idle socket: ${formatMs(memoryFloor.value ?? NaN)} KiB/socket`,
      ratio: valid ? { value: ratio } : null,
      target: "≤ 2×",
      met: valid ? ratio <= 2 : null,
      ...(valid ? {} : { note: "invalid: RSS did not grow while the sockets opened" }),
    });
  }

  judgeCost(results);

  const hibernation = valueOf(results, "hibernation");
  if (hibernation) {
    const d = hibernation.detail;
    results.add({
      scenario: `idle room with ${num(d, "clients")} clients sending keep-alives hibernates`,
      path: "direct",
      measured: `${hibernation.value === 1 ? "hibernated" : "did not hibernate"}: instance marker ${d?.["markerSeenAfterIdle"] ? "kept" : "gone"} after ${num(d, "idleSeconds")} s idle; ${num(d, "keepAlivePingsSent")} PINGs / ${num(d, "keepAlivePongsReceived")} PONGs; ${num(d, "socketsClosed")} sockets closed; ${num(d, "subscriptionsResumed")}/${num(d, "clients")} subscriptions resumed; first call after idle ${formatMs(num(d, "firstCallAfterIdleMs"))} ms (wake), warm ${formatMs(num(d, "warmCallMs"))} ms`,
      floor: "—",
      ratio: null,
      target: "hibernates",
      met: hibernation.value === 1,
    });
  }
}

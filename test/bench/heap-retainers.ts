/**
 * Who holds the big things in a V8 heap snapshot (.heapsnapshot, e.g. from
 * test/bench/live-retention.ts): lists the largest strings (live results'
 * encoded JSON) and the arrays of many task rows (live results), counts the
 * task rows alive, and prints each one's retainer chain up to a GC root —
 * at every step the retainer closest to the root (weak edges ignored) — then
 * the chains grouped by their shape.
 *
 *   npx tsx test/bench/heap-retainers.ts /tmp/live.heapsnapshot [--min-string 100000] [--min-rows 200] [--chains 6] [--tree 1 --depth 6]
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const FILE = argv.find((arg) => !arg.startsWith("--") && !/^\d+$/.test(arg));
if (!FILE) throw new Error("usage: heap-retainers.ts FILE.heapsnapshot");
const MIN_STRING = option("min-string", 100_000);
const MIN_ROWS = option("min-rows", 200);
const CHAINS = option("chains", 6);

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(FILE, "utf8")) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf("type");
const nName = meta.node_fields.indexOf("name");
const nId = meta.node_fields.indexOf("id");
const nSize = meta.node_fields.indexOf("self_size");
const nEdges = meta.node_fields.indexOf("edge_count");
const eType = meta.edge_fields.indexOf("type");
const eName = meta.edge_fields.indexOf("name_or_index");
const eTo = meta.edge_fields.indexOf("to_node");
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const count = nodes.length / NF;

const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += nodes[i * NF + nEdges]! * EF;
  firstEdge[i + 1] = e;
}
const typeOf = (n: number) => nodeTypes[nodes[n * NF + nType]!]!;
const nameOf = (n: number) => strings[nodes[n * NF + nName]!]!;
const sizeOf = (n: number) => nodes[n * NF + nSize]!;
const idOf = (n: number) => nodes[n * NF + nId]!;
const edgeTypeOf = (e: number) => edgeTypes[edges[e + eType]!]!;
const edgeNameOf = (e: number) => {
  const type = edgeTypeOf(e);
  return type === "element" || type === "hidden" ? `[${edges[e + eName]}]` : strings[edges[e + eName]!]!;
};
const toOf = (e: number) => edges[e + eTo]! / NF;

// Reverse edges (CSR) and distances from the root (node 0), weak edges ignored.
const retainerCount = new Uint32Array(count + 1);
for (let e = 0; e < edges.length; e += EF) retainerCount[toOf(e)]!++;
const firstRetainer = new Uint32Array(count + 1);
for (let i = 0, sum = 0; i < count; i++) {
  firstRetainer[i] = sum;
  sum += retainerCount[i]!;
  firstRetainer[i + 1] = sum;
}
const fill = firstRetainer.slice();
const retainerEdge = new Uint32Array(edges.length / EF);
const retainerNode = new Uint32Array(edges.length / EF);
for (let n = 0; n < count; n++) {
  for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EF) {
    const to = toOf(e);
    retainerEdge[fill[to]!] = e;
    retainerNode[fill[to]!] = n;
    fill[to]!++;
  }
}
const distance = new Int32Array(count).fill(-1);
distance[0] = 0;
for (let queue = [0], head = 0; head < queue.length; head++) {
  const n = queue[head]!;
  for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EF) {
    if (edgeTypeOf(e) === "weak") continue;
    const to = toOf(e);
    if (distance[to] === -1) {
      distance[to] = distance[n]! + 1;
      queue.push(to);
    }
  }
}

const describe = (n: number) => {
  const name = nameOf(n);
  const shown = typeOf(n).includes("string") ? JSON.stringify(name.slice(0, 60)) : name.slice(0, 80);
  return `${typeOf(n)} ${shown} @${idOf(n)} (${sizeOf(n)} B, d=${distance[n]})`;
};

/** The chain from `n` to the root, each step through the retainer closest to the root. */
function chain(n: number): string[] {
  const lines = [describe(n)];
  const seen = new Set<number>([n]);
  while (distance[n]! > 0) {
    let best = -1;
    let bestEdge = -1;
    for (let r = firstRetainer[n]!; r < firstRetainer[n + 1]!; r++) {
      const from = retainerNode[r]!;
      const e = retainerEdge[r]!;
      if (edgeTypeOf(e) === "weak" || distance[from]! < 0 || seen.has(from)) continue;
      if (best < 0 || distance[from]! < distance[best]!) {
        best = from;
        bestEdge = e;
      }
    }
    if (best < 0) {
      lines.push("  (no strong retainer: unreachable, garbage)");
      break;
    }
    lines.push(`  ← ${edgeTypeOf(bestEdge)} "${edgeNameOf(bestEdge)}" of ${describe(best)}`);
    seen.add(best);
    n = best;
  }
  return lines;
}

/** Every direct retainer of `n`. */
function retainers(n: number): string[] {
  const lines: string[] = [];
  for (let r = firstRetainer[n]!; r < firstRetainer[n + 1]!; r++) {
    lines.push(`    ${edgeTypeOf(retainerEdge[r]!)} "${edgeNameOf(retainerEdge[r]!)}" of ${describe(retainerNode[r]!)}`);
  }
  return lines;
}

/** The shape of a chain: its edge and node names without ids and sizes. */
const shape = (lines: string[]) =>
  lines
    .slice(1)
    .map((line) => line.replace(/ \(\d+ B, d=-?\d+\)/, "").replace(/@\d+/g, "@…").replace(/"\d+ \/ part of key/, '"… / part of key').replace(/"\[\d+\]"/, '"[…]"'))
    .join("\n");

function report(title: string, targets: number[]): void {
  console.log(`\n## ${title}: ${targets.length}`);
  const shapes = new Map<string, number>();
  targets.forEach((n, i) => {
    const lines = chain(n);
    shapes.set(shape(lines), (shapes.get(shape(lines)) ?? 0) + 1);
    if (i < CHAINS) {
      console.log(`\n${lines.join("\n")}`);
      console.log("  direct retainers:");
      console.log(retainers(n).join("\n"));
    }
  });
  console.log(`\n### chains of ${title}, grouped by shape`);
  for (const [text, times] of [...shapes].sort((a, b) => b[1] - a[1])) console.log(`\n${times} ×\n${text || "  (root)"}`);
}

// Large strings: encoded results.
const bigStrings: number[] = [];
let bigStringBytes = 0;
// Task rows: objects with a "description" property; arrays holding many of them.
let rows = 0;
let reachableRows = 0;
const rowArrays: number[] = [];
const isRow = new Uint8Array(count);
for (let n = 0; n < count; n++) {
  if (typeOf(n) !== "object") continue;
  for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EF) {
    if (edgeTypeOf(e) === "property" && edgeNameOf(e) === "description") {
      isRow[n] = 1;
      rows++;
      if (distance[n]! >= 0) reachableRows++;
      break;
    }
  }
}
for (let n = 0; n < count; n++) {
  const type = typeOf(n);
  if (type.includes("string") && sizeOf(n) >= MIN_STRING) {
    bigStrings.push(n);
    bigStringBytes += sizeOf(n);
  } else if (type === "array" || (type === "object" && nameOf(n) === "Array")) {
    let held = 0;
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EF) if (edgeTypeOf(e) === "element" && isRow[toOf(e)]) held++;
    if (held >= MIN_ROWS) rowArrays.push(n);
  }
}
bigStrings.sort((a, b) => sizeOf(b) - sizeOf(a));
let total = 0;
for (let n = 0; n < count; n++) total += sizeOf(n);
console.log(`${FILE}: ${count} nodes, ${(total / 2 ** 20).toFixed(1)} MiB of self sizes`);
console.log(`strings ≥ ${MIN_STRING} B: ${bigStrings.length}, ${(bigStringBytes / 2 ** 20).toFixed(1)} MiB`);
console.log(`task rows (objects with a "description"): ${rows}, reachable from the root ignoring weak edges: ${reachableRows}`);
console.log(`arrays holding ≥ ${MIN_ROWS} task rows: ${rowArrays.length}`);
report(`strings ≥ ${MIN_STRING} B`, bigStrings);
report(`arrays of ≥ ${MIN_ROWS} task rows`, rowArrays);

// --tree N: every strong retainer path of the first N task-row arrays, DEPTH levels up (--depth 6).
const TREE = option("tree", 0);
const DEPTH = option("depth", 6);
function tree(n: number, depth: number, indent: string, seen: Set<number>): void {
  if (depth === 0) return;
  for (let r = firstRetainer[n]!; r < firstRetainer[n + 1]!; r++) {
    const from = retainerNode[r]!;
    const e = retainerEdge[r]!;
    if (edgeTypeOf(e) === "weak" || distance[from]! < 0 || seen.has(from)) continue;
    console.log(`${indent}← ${edgeTypeOf(e)} "${edgeNameOf(e)}" of ${describe(from)}`);
    tree(from, depth - 1, `${indent}  `, new Set([...seen, from]));
  }
}
for (const n of rowArrays.slice(0, TREE)) {
  console.log(`\n## every strong retainer path of ${describe(n)}, ${DEPTH} levels up`);
  tree(n, DEPTH, "  ", new Set([n]));
}

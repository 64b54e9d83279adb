/**
 * What grew between two V8 heap snapshots (e.g. two phases of
 * test/bench/socket-heap.ts): node count and self size per node type and
 * name (constructor, closure or string kind), the largest growth first,
 * optionally divided by the number of sockets opened in between.
 *
 *   npx tsx test/bench/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per 200] [--top 40]
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const files = argv.filter((arg, i) => !arg.startsWith("--") && !argv[i - 1]?.startsWith("--"));
if (files.length !== 2) throw new Error("usage: heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 40]");
const PER = option("per", 1);
const TOP = option("top", 40);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Count and self size per "type name" (strings grouped by type only: their names are their contents). */
function groups(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const { node_fields: fields, node_types: types } = snap.snapshot.meta;
  const NF = fields.length;
  const [nType, nName, nSize] = ["type", "name", "self_size"].map((field) => fields.indexOf(field)) as [number, number, number];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += NF) {
    const type = types[0][snap.nodes[i + nType]!]!;
    const name = type.includes("string") || type === "number" ? "" : snap.strings[snap.nodes[i + nName]!]!.slice(0, 70);
    const key = `${type} ${name}`;
    const group = out.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += snap.nodes[i + nSize]!;
    out.set(key, group);
  }
  return out;
}

const before = groups(files[0]!);
const after = groups(files[1]!);
const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
  const a = before.get(key) ?? { count: 0, bytes: 0 };
  const b = after.get(key) ?? { count: 0, bytes: 0 };
  return { key, count: b.count - a.count, bytes: b.bytes - a.bytes };
});
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
console.log(`self size grew by ${(total / 1024).toFixed(1)} KiB${PER > 1 ? `, ${(total / PER).toFixed(0)} B per unit (÷${PER})` : ""}`);
console.log("     bytes/unit   count/unit  type name");
for (const row of rows.sort((x, y) => y.bytes - x.bytes).slice(0, TOP)) {
  console.log(`${(row.bytes / PER).toFixed(0).padStart(14)} ${(row.count / PER).toFixed(2).padStart(12)}  ${row.key}`);
}

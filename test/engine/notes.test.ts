/**
 * What the notes app (examples/notes) adds on the seam, checked through the
 * real runtime: a boolean and a JSON column round-trip through create, get and
 * the D1 replica; the unique slug index; the CRUD builder's per-field
 * overrides, server-set fields and boolean filter; the hand-written slug reads.
 * Runs only in the engine-notes project (APP_FIXTURE = "notes").
 */
import { env } from "cloudflare:test";
import { TRPCClientError } from "@trpc/client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_NOTE_TAGS, MAX_NOTE_TITLE_CHARS } from "../../examples/notes/app";
import type { Note } from "../../examples/notes/schema";
import type { WindowEvent } from "../../src/protocol/live-events";
import { closeClients, uniqueRoom } from "../helpers/clients";
import { pathClientFor } from "../helpers/path-client";
import { recorder } from "../helpers/recorder";
import { replicaRows, roomRows, untilReplicated } from "../helpers/replication";

type Written = Note & { seq: number };
interface ReplicaResult<T> {
  source: "replica" | "room";
  seq: number;
  data: T;
}
interface ErrorData {
  code: string;
  issues: { path: string; message: string; code: string }[] | null;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await closeClients();
});

const withoutSeq = ({ seq: _seq, ...note }: Written): Note => note;

async function refusal(call: Promise<unknown>): Promise<{ message: string; data: ErrorData }> {
  const error = await call.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as { message: string; data: ErrorData };
}

/** The paths and messages of a refusal's validation issues. */
async function issuesOf(call: Promise<unknown>) {
  const { data } = await refusal(call);
  expect(data.code).toBe("BAD_REQUEST");
  return (data.issues ?? []).map(({ path, message }) => ({ path, message }));
}

describe.skipIf(env.APP_FIXTURE !== "notes")("the notes app", () => {
  it("round-trips the boolean and the JSON column through create, get and the replica read", async () => {
    const room = uniqueRoom("notes");
    const writer = await pathClientFor(room, "writer", "carol");
    const meta = { tags: ["a", "b"], color: "#aabbcc" };
    const pinned = await writer.mutate<Written>("notes.create", { title: "Pinned", slug: "pinned", pinned: true, meta });
    const plain = await writer.mutate<Written>("notes.create", { title: "Plain", slug: "plain" });
    expect(pinned).toMatchObject({ pinned: true, meta, body: "", created_by: "carol" });
    expect(pinned.created_at).toBeInstanceOf(Date);
    expect(plain).toMatchObject({ pinned: false, meta: null });
    expect(await writer.query("notes.get", { id: pinned.id })).toEqual(withoutSeq(pinned));

    await untilReplicated(room);
    const fromD1 = await writer.query<ReplicaResult<Note>>("replica.notes.get", { id: pinned.id });
    expect(fromD1).toEqual({ source: "replica", seq: plain.seq, data: withoutSeq(pinned) });
    expect(typeof fromD1.data.pinned).toBe("boolean");
    expect(fromD1.data.meta).toEqual(meta);
    expect(fromD1.data.created_at).toBeInstanceOf(Date);
    expect(fromD1.data.updated_at).toEqual(pinned.updated_at);
    expect((await writer.query<ReplicaResult<Note>>("replica.notes.get", { id: plain.id })).data).toMatchObject({
      pinned: false,
      meta: null,
    });
    // Stored as SQLite has them: an integer and JSON text, in the room and in the replica alike.
    const [raw] = await replicaRows(room, "notes");
    expect(raw).toMatchObject({ pinned: 1, meta: JSON.stringify(meta), created_at: pinned.created_at.getTime() });
    expect(await replicaRows(room, "notes")).toEqual(await roomRows(room, "notes"));
  });

  it("filters list, live and the replica list on the boolean", async () => {
    const room = uniqueRoom("notes");
    const writer = await pathClientFor(room, "writer");
    const kept = await writer.mutate<Written>("notes.create", { title: "kept", slug: "kept", pinned: true });
    await writer.mutate("notes.create", { title: "loose", slug: "loose" });

    const pinned = await writer.query<{ items: Note[] }>("notes.list", { pinned: true });
    expect(pinned.items.map((note) => note.slug)).toEqual(["kept"]);
    const unpinned = await writer.query<{ items: Note[] }>("notes.list", { pinned: false });
    expect(unpinned.items.map((note) => note.slug)).toEqual(["loose"]);

    // The CRUD builder's live query is a live window: a snapshot, then diffs.
    const live = recorder<WindowEvent<Note>>();
    writer.subscribe<{ data: WindowEvent<Note> }>("notes.live", { pinned: true }, (event) => live.push(event.data));
    const [snapshot] = await live.waitFor(1);
    expect(snapshot).toMatchObject({ type: "snapshot", rows: [{ slug: "kept" }] });
    await writer.mutate("notes.update", { id: kept.id, pinned: false });
    expect((await live.waitFor(2))[1]).toMatchObject({ type: "diff", upserts: [], removes: [kept.id] });

    await untilReplicated(room);
    const replica = await writer.query<ReplicaResult<{ items: Note[] }>>("replica.notes.list", { pinned: false });
    expect(replica.source).toBe("replica");
    expect(replica.data.items.map((note) => note.slug)).toEqual(["kept", "loose"]);
    expect((await refusal(writer.query("notes.list", { pinned: "yes" }))).data.code).toBe("BAD_REQUEST");
  });

  it("refuses a duplicate slug on create and on update with CONFLICT naming the slug, and writes nothing", async () => {
    const room = uniqueRoom("notes");
    const writer = await pathClientFor(room, "writer");
    await writer.mutate("notes.create", { title: "first", slug: "same" });
    const other = await writer.mutate<Written>("notes.create", { title: "second", slug: "other" });
    const logged = vi.spyOn(console, "error");

    for (const call of [
      writer.mutate("notes.create", { title: "copy", slug: "same" }),
      writer.mutate("notes.update", { id: other.id, slug: "same" }),
    ]) {
      const error = await refusal(call);
      expect(error.data.code).toBe("CONFLICT");
      expect(error.message).toBe("a row with the same slug already exists (notes.slug)");
    }
    // A caller's mistake, not an internal failure: nothing logged, nothing written, nothing committed.
    expect(logged).not.toHaveBeenCalled();
    const rows = await roomRows(room, "notes");
    expect(rows.map((row) => [row["title"], row["slug"]])).toEqual([
      ["first", "same"],
      ["second", "other"],
    ]);
    expect((await writer.query<{ roomSeq: number }>("sync.status")).roomSeq).toBe(other.seq);
  });

  it("enforces the per-field overrides on create and on update, keeping fields optional on update", async () => {
    const writer = await pathClientFor(uniqueRoom("notes"), "writer");
    const longest = "t".repeat(MAX_NOTE_TITLE_CHARS);
    const note = await writer.mutate<Written>("notes.create", { title: `  ${longest}  `, slug: "edge" });
    expect(note.title).toBe(longest); // trimmed, and exactly at the limit
    expect(await issuesOf(writer.mutate("notes.create", { title: `${longest}t`, slug: "over" }))).toEqual([
      { path: "title", message: `title must be at most ${MAX_NOTE_TITLE_CHARS} characters` },
    ]);
    expect(await issuesOf(writer.mutate("notes.create", { title: "   ", slug: "blank" }))).toEqual([
      { path: "title", message: "title must not be empty" },
    ]);
    expect(await issuesOf(writer.mutate("notes.create", { title: "x", slug: "Not A Slug" }))).toEqual([
      { path: "slug", message: "slug must be lower-case letters and digits, words joined by -" },
    ]);
    expect(await issuesOf(writer.mutate("notes.create", { title: "x", slug: "colour", meta: { tags: [], color: "red" } }))).toEqual([
      { path: "meta.color", message: "color must look like #a1b2c3" },
    ]);
    const tooMany = Array.from({ length: MAX_NOTE_TAGS + 1 }, (_, i) => `tag${i}`);
    expect(await issuesOf(writer.mutate("notes.create", { title: "x", slug: "tags", meta: { tags: tooMany } }))).toEqual([
      { path: "meta.tags", message: `a note has at most ${MAX_NOTE_TAGS} tags` },
    ]);

    const updated = await writer.mutate<Written>("notes.update", { id: note.id, body: "only the body" });
    expect(updated).toMatchObject({ title: longest, slug: "edge", body: "only the body", created_at: note.created_at });
    expect(updated.updated_at.getTime()).toBeGreaterThanOrEqual(note.updated_at.getTime());
    expect(await issuesOf(writer.mutate("notes.update", { id: note.id, title: "" }))).toEqual([
      { path: "title", message: "title must not be empty" },
    ]);
    expect((await writer.mutate<Written>("notes.update", { id: note.id, meta: null })).meta).toBeNull();
  });

  it("never accepts server-set fields from the client and stamps them itself", async () => {
    const writer = await pathClientFor(uniqueRoom("notes"), "writer", "dave");
    for (const field of ["created_by", "created_at", "updated_at", "id"]) {
      const value = field === "created_by" ? "mallory" : field === "id" ? 7 : new Date(0);
      const { data } = await refusal(
        writer.mutate("notes.create", { title: "x", slug: `forged-${field.replace("_", "-")}`, [field]: value }),
      );
      expect(data).toMatchObject({ code: "BAD_REQUEST", issues: [{ code: "unrecognized_keys" }] });
    }
    const note = await writer.mutate<Written>("notes.create", { title: "mine", slug: "mine" });
    expect(note.created_by).toBe("dave");
    expect(note.created_at).toEqual(note.updated_at);
    const { data } = await refusal(writer.mutate("notes.update", { id: note.id, created_by: "mallory" }));
    expect(data.code).toBe("BAD_REQUEST");
  });

  it("serves the hand-written slug reads from the room and, over HTTP, from D1", async () => {
    const room = uniqueRoom("notes");
    const writer = await pathClientFor(room, "writer");
    const note = await writer.mutate<Written>("notes.create", { title: "by slug", slug: "find-me" });
    expect(await writer.query("slugs.resolve", { slug: "find-me" })).toEqual(withoutSeq(note));
    expect(await writer.query("slugs.resolve", { slug: "nowhere" })).toBeNull();
    await untilReplicated(room);
    expect(await writer.query("replica.slugs.resolve", { slug: "find-me" })).toEqual({
      source: "replica",
      seq: note.seq,
      data: withoutSeq(note),
    });
    expect(await issuesOf(writer.query("replica.slugs.resolve", { slug: "No!" }))).toEqual([
      { path: "slug", message: "slug must be lower-case letters and digits, words joined by -" },
    ]);
  });
});

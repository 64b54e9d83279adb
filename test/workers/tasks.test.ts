import { env, evictDurableObject } from "cloudflare:test";
import { TRPCClientError } from "@trpc/client";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import type { Task } from "../../schema";
import type { AppRouter } from "../../src/app";
import { clientFor, closeClients, stockClientFor, uniqueRoom } from "../helpers/clients";

afterEach(closeClients);

describe("tasks over the room client", () => {
  it("works the same through the unmodified stock tRPC client", async () => {
    const client = await stockClientFor(uniqueRoom());
    const created = await client.tasks.create.mutate({ title: "via wsLink" });
    expect(created.created_at).toBeInstanceOf(Date);
    const [a, b] = await Promise.all([
      client.tasks.create.mutate({ title: "batched 1" }),
      client.tasks.create.mutate({ title: "batched 2" }),
    ]);
    expect(b.seq - a.seq).toBe(1);
    expect((await client.tasks.list.query()).items.map((task) => task.title)).toEqual(["via wsLink", "batched 1", "batched 2"]);
    await expect(client.tasks.create.mutate({ title: "" })).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });
  });

  it("creates, gets, lists, updates, completes and deletes a task", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);

    const created = await client.tasks.create.mutate({ title: "Write the docs", priority: 2 });
    expect(created).toMatchObject({ title: "Write the docs", status: "pending", priority: 2, created_by: "alice" });
    expect(created.id).toBeGreaterThan(0);
    expect(created.created_at).toBeInstanceOf(Date);
    expectTypeOf(created).toEqualTypeOf<Task & { seq: number }>();
    expect(created.seq).toBeGreaterThan(0);

    const { seq: _seq, ...row } = created;
    expect(await client.tasks.get.query({ id: created.id })).toEqual(row);

    const page = await client.tasks.list.query();
    expect(page.items.map((task) => task.id)).toEqual([created.id]);
    expect(page.nextCursor).toBeNull();

    const updated = await client.tasks.update.mutate({ id: created.id, title: "Write better docs", status: "in_progress" });
    expect(updated).toMatchObject({ id: created.id, title: "Write better docs", status: "in_progress", completed_at: null });
    expect(updated.updated_at.getTime()).toBeGreaterThanOrEqual(created.updated_at.getTime());

    const completed = await client.tasks.complete.mutate({ id: created.id });
    expect(completed.status).toBe("completed");
    expect(completed.completed_at).toBeInstanceOf(Date);

    expect(await client.tasks.delete.mutate({ id: created.id })).toEqual({ id: created.id, deleted: true, seq: completed.seq + 1 });
    await expect(client.tasks.get.query({ id: created.id })).rejects.toMatchObject({ data: { code: "NOT_FOUND" } });
  });

  it("filters by status and pages with a keyset cursor", async () => {
    const client = await clientFor(uniqueRoom());
    const created = await Promise.all(
      Array.from({ length: 7 }, (_, index) =>
        client.tasks.create.mutate({ title: `task ${index}`, status: index % 2 === 0 ? "pending" : "completed" }),
      ),
    );
    const first = await client.tasks.list.query({ limit: 3 });
    expect(first.items).toHaveLength(3);
    const second = await client.tasks.list.query({ limit: 3, cursor: first.nextCursor });
    const third = await client.tasks.list.query({ limit: 3, cursor: second.nextCursor });
    expect(third.nextCursor).toBeNull();
    const all = [...first.items, ...second.items, ...third.items].map((task) => task.id);
    expect(all).toEqual(created.map((task) => task.id).sort((a, b) => a - b));

    const pending = await client.tasks.list.query({ status: "pending" });
    expect(pending.items.map((task) => task.title)).toEqual(["task 0", "task 2", "task 4", "task 6"]);
  });

  it("rejects invalid input with field details", async () => {
    const client = await clientFor(uniqueRoom());
    const error = await client.tasks.create.mutate({ title: "x".repeat(501) }).catch((cause: unknown) => cause);
    expect(error).toBeInstanceOf(TRPCClientError);
    const data = (error as TRPCClientError<AppRouter>).data;
    expect(data?.code).toBe("BAD_REQUEST");
    expect(data?.issues).toEqual([expect.objectContaining({ path: "title", message: "title must be at most 500 characters" })]);

    await expect(client.tasks.update.mutate({ id: 1 })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST", issues: [expect.objectContaining({ message: "update needs at least one field besides id" })] },
    });
    await expect(client.tasks.list.query({ limit: 10_000 })).rejects.toMatchObject({
      data: { issues: [expect.objectContaining({ path: "limit" })] },
    });
    // Nothing was written by the rejected calls.
    expect((await client.tasks.list.query()).items).toEqual([]);
  });

  it("runs a batch of concurrent mutations and answers each", async () => {
    const client = await clientFor(uniqueRoom());
    const results = await Promise.all(Array.from({ length: 50 }, (_, index) => client.tasks.create.mutate({ title: `t${index}` })));
    expect(new Set(results.map((task) => task.id)).size).toBe(50);
    expect((await client.tasks.list.query({ limit: 200 })).items).toHaveLength(50);
  });

  it("keeps data across eviction and a fresh stub", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    const { seq: _seq, ...task } = await client.tasks.create.mutate({ title: "survives eviction" });
    await closeClients();

    await evictDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), { webSockets: "close" });

    const fresh = await clientFor(room, "reader", "bob");
    expect(await fresh.tasks.get.query({ id: task.id })).toEqual(task);
  });
});

describe("AppRouter types", () => {
  it("infers inputs and outputs from the schema and validators", () => {
    type Create = AppRouter["tasks"]["create"];
    expectTypeOf<Create["_def"]["$types"]["input"]>().toMatchTypeOf<{ title: string }>();
    expectTypeOf<Create["_def"]["$types"]["output"]>().toEqualTypeOf<Task & { seq: number }>();
    expectTypeOf<AppRouter["tasks"]["list"]["_def"]["$types"]["output"]>().toEqualTypeOf<{
      items: Task[];
      nextCursor: number | null;
    }>();
    expectTypeOf<Task["status"]>().toEqualTypeOf<"pending" | "in_progress" | "completed">();
    expectTypeOf<Task["created_at"]>().toEqualTypeOf<Date>();
  });
});

/**
 * tRPC's own TanStack Query integration (`@trpc/tanstack-react-query`, the
 * official `queryOptions` / `mutationOptions` API) over a room's client, in
 * the real runtime: its options fetch through `createRoomClient` with the same
 * types, and a live window's subscription options feed a query cache entry.
 * (Issue 19, item 1; the hooks and the example app come next.)
 */
import { QueryClient } from "@tanstack/react-query";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import type { Task } from "../../schema";
import type { AppRouter } from "../../src/app";
import { clientFor, closeClients, uniqueRoom } from "../helpers/clients";

afterEach(closeClients);

describe("@trpc/tanstack-react-query over createRoomClient", () => {
  it("runs queryOptions and mutationOptions through the room, typed like the room client", async () => {
    const room = uniqueRoom("react-query");
    const client = await clientFor(room, "writer", "alice");
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const trpc = createTRPCOptionsProxy<AppRouter>({ client, queryClient });

    const create = trpc.tasks.create.mutationOptions();
    const created = await create.mutationFn!({ title: "from TanStack Query" }, undefined as never);
    expectTypeOf(created.title).toEqualTypeOf<string>();
    expect(created).toMatchObject({ title: "from TanStack Query", seq: 1 });

    const page = await queryClient.fetchQuery(trpc.tasks.list.queryOptions({ limit: 10 }));
    expectTypeOf(page.items).toEqualTypeOf<Task[]>();
    expect(page.items.map((task) => task.title)).toEqual(["from TanStack Query"]);
    expect(page.items[0]!.created_at).toBeInstanceOf(Date);
    // The cache holds it under tRPC's key for that input.
    expect(queryClient.getQueryData(trpc.tasks.list.queryKey({ limit: 10 }))).toEqual(page);

    // A refused call reaches TanStack Query as the room's typed error.
    const reader = await clientFor(room, "reader", "bob");
    const readerTrpc = createTRPCOptionsProxy<AppRouter>({ client: reader, queryClient });
    await expect(readerTrpc.tasks.create.mutationOptions().mutationFn!({ title: "no" }, undefined as never)).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
    });
  });
});

/**
 * tRPC's own TanStack Query integration (`@trpc/tanstack-react-query`, the
 * official `queryOptions` / `mutationOptions` API) over a room's client, in
 * the real runtime: its query, mutation and subscription options run through
 * `createRoomClient` with the same types as the client itself. The live-query
 * hooks built on it are tested in live-query.test.ts and, rendered, in
 * test/browser/react-board.test.ts.
 */
import { QueryClient } from "@tanstack/react-query";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import type { Task } from "../../schema";
import type { AppRouter } from "../../src/app";
import type { PresenceWatchEvent } from "../../src/rpc/presence-router";
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

    // The same types as the room client: inputs, outputs, subscription events.
    type Client = typeof client;
    expectTypeOf<Parameters<NonNullable<typeof create.mutationFn>>[0]>().toEqualTypeOf<
      Parameters<Client["tasks"]["create"]["mutate"]>[0]
    >();
    expectTypeOf<Awaited<ReturnType<NonNullable<typeof create.mutationFn>>>>().toEqualTypeOf<
      Awaited<ReturnType<Client["tasks"]["create"]["mutate"]>>
    >();
    expectTypeOf<Awaited<ReturnType<Client["tasks"]["list"]["query"]>>>().toEqualTypeOf<typeof page>();

    // A subscription's options subscribe through the room's socket and deliver its typed events.
    const events: string[] = [];
    const watching = trpc.presence.watch.subscriptionOptions(undefined, {});
    const subscription = watching.subscribe({
      onData: (event) => {
        expectTypeOf(event).toEqualTypeOf<PresenceWatchEvent>(); // what the room client's subscribe yields
        events.push(typeof event);
      },
    });
    await client.presence.setPresence.mutate({ status: { activity: "viewing" } });
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5_000 });
    subscription.unsubscribe();

    // A refused call reaches TanStack Query as the room's typed error.
    const reader = await clientFor(room, "reader", "bob");
    const readerTrpc = createTRPCOptionsProxy<AppRouter>({ client: reader, queryClient });
    await expect(readerTrpc.tasks.create.mutationOptions().mutationFn!({ title: "no" }, undefined as never)).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
    });
  });
});

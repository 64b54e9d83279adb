/**
 * An example consumer Worker: a small task API that keeps its tasks in a
 * nanotypeDB room, calling it through a service binding with the typed
 * service client. Routes (the room is `?room=`, default "demo"):
 *
 *   GET    /tasks              list the room's tasks (as a reader)
 *   POST   /tasks              create a task from a JSON body (as a writer; `?as=reader` to see FORBIDDEN)
 *   DELETE /tasks/:id          delete a task (as a writer)
 *
 * Errors from the room arrive as TRPCClientError and are answered as
 * `{ error: { code, message, issues } }` with the room's HTTP status.
 */
import { TRPCClientError } from "@trpc/client";
import { createServiceClient, type ServiceIdentity } from "../../../src/client";
import type { AppRouter } from "../../../src/app";
import type { RoomService } from "../../../src/worker";

/** This Worker's bindings. In its own repository, `wrangler types` generates the same (see the README). */
export interface ConsumerEnv {
  NANOTYPE: Service<RoomService>;
}

/** Who this Worker acts as. The binding is trusted to assert identities, so they are fixed here, never taken from a request. */
const WRITER: ServiceIdentity = { sub: "consumer-worker", role: "writer", name: "Consumer Worker" };
const READER: ServiceIdentity = { sub: "consumer-dashboard", role: "reader" };

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    const room = url.searchParams.get("room") ?? "demo";
    const client = (identity: ServiceIdentity) => createServiceClient<AppRouter>(env.NANOTYPE, { room, identity });
    try {
      if (url.pathname === "/tasks" && request.method === "GET") {
        const { items } = await client(READER).tasks.list.query({ limit: 200 });
        return Response.json(items.map((task) => ({ id: task.id, title: task.title, status: task.status, createdBy: task.created_by })));
      }
      if (url.pathname === "/tasks" && request.method === "POST") {
        // Only ever a downgrade: `?as=reader` shows what a read-only identity gets.
        const identity = url.searchParams.get("as") === "reader" ? READER : WRITER;
        const body = (await request.json()) as { title: string; priority?: number };
        const task = await client(identity).tasks.create.mutate(body);
        // created_at is a Date again: superjson carried it through the binding.
        return Response.json({ id: task.id, title: task.title, createdAt: task.created_at.toISOString(), seq: task.seq }, { status: 201 });
      }
      const remove = /^\/tasks\/(\d+)$/.exec(url.pathname);
      if (remove && request.method === "DELETE") {
        return Response.json(await client(WRITER).tasks.delete.mutate({ id: Number(remove[1]) }));
      }
      return Response.json({ error: { code: "NOT_FOUND", message: `no route for ${request.method} ${url.pathname}` } }, { status: 404 });
    } catch (error) {
      if (error instanceof TRPCClientError) return roomError(error as TRPCClientError<AppRouter>);
      throw error;
    }
  },
} satisfies ExportedHandler<ConsumerEnv>;

function roomError(error: TRPCClientError<AppRouter>): Response {
  const data = error.data;
  return Response.json(
    { error: { code: data?.code ?? "INTERNAL_SERVER_ERROR", message: error.message, issues: data?.issues ?? null } },
    { status: data?.httpStatus ?? 500 },
  );
}

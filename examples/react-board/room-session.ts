/**
 * One member's session in a room: the typed room client (createRoomClient,
 * which reconnects and resumes by itself), a TanStack Query client whose
 * mutation cache reports every failed mutation as a notice, and the notices.
 * Created on join (main.tsx), closed on leave.
 */
import { MutationCache, QueryClient } from "@tanstack/react-query";
import { closeRoomClient, createRoomClient, reconnectRoomClient, type RoomClient } from "../../src/client";
import type { AppRouter } from "../../src/app";
import { devTokenSource, type Member } from "./dev-token";
import { createNoticeStore, describeError, type NoticeStore } from "./notices";

export interface RoomSession {
  member: Member;
  client: RoomClient<AppRouter>;
  queryClient: QueryClient;
  notices: NoticeStore;
  /** Drops the socket now; the client reconnects and resumes its subscriptions (the test hook). */
  dropConnection(): void;
  close(): Promise<void>;
}

/** Mints the first token (throws in plain words when it cannot), then connects. */
export async function openRoomSession(member: Member): Promise<RoomSession> {
  const token = await devTokenSource(member);
  const client = createRoomClient<AppRouter>({ url: location.origin, room: member.room, token });
  const notices = createNoticeStore();
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false } },
    mutationCache: new MutationCache({
      // Every mutation names itself with `meta: { action }`; a refusal shows as a notice even
      // when the component that started it is gone (a deleted card, say).
      onError: (error, _input, _context, mutation) => notices.push(describeError(String(mutation.meta?.["action"] ?? "The change"), error)),
    }),
  });
  return {
    member,
    client,
    queryClient,
    notices,
    dropConnection: () => reconnectRoomClient(client),
    close: async () => {
      queryClient.clear();
      await closeRoomClient(client);
    },
  };
}

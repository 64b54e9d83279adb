/**
 * Error notices: a tiny store the query client's mutation cache writes to
 * (every refused or failed mutation, named by its `meta.action`), read by
 * <Notices> through `useSyncExternalStore`. Also the one place that turns a
 * tRPC error into a sentence.
 */
import { TRPCClientError } from "@trpc/client";
import { useSyncExternalStore } from "react";

/** How long a notice stays unless dismissed. */
const NOTICE_MS = 10_000;

export interface Notice {
  id: number;
  message: string;
}

export interface NoticeStore {
  push(message: string): void;
  dismiss(id: number): void;
  subscribe(listener: () => void): () => void;
  current(): readonly Notice[];
}

export function createNoticeStore(): NoticeStore {
  let notices: readonly Notice[] = [];
  let nextId = 1;
  const listeners = new Set<() => void>();
  const set = (next: readonly Notice[]) => {
    notices = next;
    for (const listener of listeners) listener();
  };
  const store: NoticeStore = {
    push(message) {
      const id = nextId++;
      set([...notices, { id, message }]);
      setTimeout(() => store.dismiss(id), NOTICE_MS);
    },
    dismiss: (id) => set(notices.filter((notice) => notice.id !== id)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    current: () => notices,
  };
  return store;
}

export function useNotices(store: NoticeStore): readonly Notice[] {
  return useSyncExternalStore(store.subscribe, store.current);
}

/** "Renaming the task was refused (FORBIDDEN): …" — `action` names what was tried. */
export function describeError(action: string, error: unknown): string {
  if (error instanceof TRPCClientError) {
    const code = (error.data as { code?: string } | undefined)?.code;
    if (code === "FORBIDDEN") return `${action} was refused (FORBIDDEN): ${error.message}`;
    if (code === undefined) return `${action} failed: the connection to the room was lost (${error.message})`;
    return `${action} failed (${code}): ${error.message}`;
  }
  return `${action} failed: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The React example's entry point (bundled by scripts/build-web.mjs into
 * public/react-board/app.js, served at /react-board/): the join form, then one
 * room session under TanStack Query's and tRPC's providers.
 * `?room=…&name=…&role=…` in the address joins at once.
 */
import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "./styles.css";
import type { Role } from "../../src/client";
import { ROLES, userIdFor, type Member } from "./dev-token";
import { JoinForm } from "./join-form";
import { RoomApp } from "./room-app";
import { openRoomSession, type RoomSession } from "./room-session";
import { TRPCProvider } from "./trpc";

/** A hook for tests and curious people (`__nanotype.dropConnection()` in the console). */
declare global {
  interface Window {
    __nanotype?: { dropConnection(): void } | undefined;
  }
}

function memberFromAddress(): Member | null {
  const params = new URLSearchParams(location.search);
  const name = params.get("name")?.trim();
  const role = params.get("role") as Role | null;
  if (!name) return null;
  return { name, sub: userIdFor(name), room: params.get("room") || "demo", role: role && ROLES.includes(role) ? role : "writer" };
}

function App() {
  const [joining, setJoining] = useState<Member | null>(memberFromAddress);
  const [session, setSession] = useState<RoomSession | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (!joining) return;
    let opened: RoomSession | null = null;
    let cancelled = false;
    openRoomSession(joining).then(
      (next) => {
        if (cancelled) return void next.close();
        opened = next;
        setSession(next);
        window.__nanotype = { dropConnection: () => next.dropConnection() };
        history.replaceState(null, "", `?${new URLSearchParams({ room: joining.room, name: joining.name, role: joining.role })}`);
      },
      (error: unknown) => {
        setProblem(`Could not join: ${error instanceof Error ? error.message : String(error)}.`);
        setJoining(null);
      },
    );
    return () => {
      cancelled = true;
      window.__nanotype = undefined;
      setSession(null);
      void opened?.close();
    };
  }, [joining]);

  const leave = () => {
    setJoining(null);
    history.replaceState(null, "", location.pathname);
  };

  if (!joining) return <JoinForm problem={problem} onJoin={(member) => (setProblem(null), setJoining(member))} />;
  if (!session) return <p className="hint">Joining {joining.room}…</p>;
  return (
    <QueryClientProvider client={session.queryClient}>
      <TRPCProvider trpcClient={session.client} queryClient={session.queryClient}>
        <RoomApp member={session.member} notices={session.notices} onLeave={leave} />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

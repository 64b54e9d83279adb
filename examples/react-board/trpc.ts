/**
 * The app's tRPC context for React: `TRPCProvider` (given a room client and a
 * query client in room-session.tsx), `useTRPC()`, whose procedures hand out
 * TanStack Query options typed by the router, and `useTRPCClient()` (the room client).
 */
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "../../src/app";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

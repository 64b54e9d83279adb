/**
 * The app's tRPC context for React: `TRPCProvider` (given a room client and a
 * query client in room-session.tsx) and `useTRPC()`, whose procedures hand out
 * TanStack Query options typed by the router.
 */
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "../../src/app";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

/**
 * The base of domain errors that know the tRPC code a caller should see
 * (a refused SQL statement, a full debounced buffer, ...). Features throw them
 * freely; one middleware (src/rpc/init.ts) turns them into TRPCErrors, so
 * routers need no try/catch.
 */
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server";

export abstract class CodedError extends Error {
  /** The tRPC error code this error is answered with. */
  abstract get code(): TRPC_ERROR_CODE_KEY;
}

/**
 * Errors in plain words. `describeError` turns a tRPC or network failure into a
 * sentence a person can act on; `notify` shows it in the page's notice area
 * (an aria-live region, so screen readers announce it too).
 */
import { TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../src/app";
import { byId, h } from "./dom";

/** How long a notice stays unless dismissed. */
const NOTICE_MS = 10_000;

/**
 * One sentence for an error from a call (`what` names the action, e.g.
 * "Creating the task"). Validation problems name their field.
 */
export function describeError(what: string, error: unknown): string {
  if (error instanceof TRPCClientError) {
    const data = (error as TRPCClientError<AppRouter>).data;
    const issues = data?.issues;
    if (issues && issues.length > 0) {
      return `${what} failed: ${issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ")}.`;
    }
    switch (data?.code) {
      case "FORBIDDEN":
        return `${what} was refused: ${error.message.replace(/\.$/, "")}.`;
      case "UNAUTHORIZED":
        return `${what} failed: your sign-in expired. The page reconnects with a fresh token.`;
      case "NOT_FOUND":
        return `${what} failed: ${error.message} (someone may have deleted it).`;
      case "TIMEOUT":
        return `${what} took too long and was stopped: ${error.message}.`;
      case "TOO_MANY_REQUESTS":
        return `${what} was refused because the room is busy: ${error.message}.`;
      case undefined:
        return `${what} failed: the connection to the room was lost. It is retried when the page reconnects.`;
      default:
        return `${what} failed: ${error.message}.`;
    }
  }
  return `${what} failed: ${error instanceof Error ? error.message : String(error)}.`;
}

/** Shows a dismissible notice. Errors are announced assertively; information politely. */
export function notify(message: string, kind: "error" | "info" = "error"): void {
  const list = byId<HTMLUListElement>(kind === "error" ? "errors" : "infos");
  const item = h(
    "li",
    { class: `notice notice-${kind}` },
    h("span", {}, message),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  list.appendChild(item);
  setTimeout(() => item.remove(), NOTICE_MS);
}

/** Runs `call`; on failure shows `what` failed in plain words. Resolves to the result or undefined. */
export async function attempt<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    notify(describeError(what, error));
    return undefined;
  }
}

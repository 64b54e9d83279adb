/**
 * Fetches a single-use connect ticket for a room (`POST /rooms/<room>/ticket`
 * with the token as a Bearer header), so the socket URL carries `?ticket=` and
 * never the token. Used by createRoomClient before every connect and reconnect;
 * a failure rejects, and the room link treats it as a failed connect.
 */

/** Longest wait for the ticket route (ms) before the connect attempt counts as failed and backs off. */
const TICKET_FETCH_TIMEOUT_MS = 10_000;

/** The ticket for one connect, or an Error saying why there is none (network, or the route's refusal with its code). */
export async function fetchConnectTicket(fetchImpl: typeof fetch, ticketUrl: string, token: string): Promise<string> {
  let response: Response;
  try {
    response = await fetchImpl(ticketUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(TICKET_FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    // fetch's "fetch failed" keeps the reason (refused, reset, timed out) in `cause`.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    throw new Error(`could not fetch a connect ticket: ${error instanceof Error ? error.message : String(error)}${cause}`);
  }
  const body = (await response.json().catch(() => null)) as { ticket?: unknown; error?: { code?: string; message?: string } } | null;
  if (!response.ok || typeof body?.ticket !== "string") {
    const why = body?.error ? `${body.error.code ?? "ERROR"}: ${body.error.message ?? ""}` : "no ticket in the answer";
    throw new Error(`connect ticket refused (HTTP ${response.status} ${why})`);
  }
  return body.ticket;
}

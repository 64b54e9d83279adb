/** JSON responses of the Worker's HTTP routes: one error shape for every route. */

/** The body of every HTTP error: a machine code and a human message. */
export interface HttpErrorBody {
  error: { code: string; message: string };
}

export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  const response = Response.json(body, { status, ...(headers ? { headers } : {}) });
  response.headers.set("cache-control", "no-store");
  return response;
}

export function jsonError(status: number, code: string, message: string, headers?: HeadersInit): Response {
  return json({ error: { code, message } } satisfies HttpErrorBody, status, headers);
}

import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tokenFor } from "../helpers/clients";

const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(`http://example.com${path}`, { headers });

describe("the Worker's routes", () => {
  it("answers /health", async () => {
    const response = await get("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("answers unknown routes with a JSON 404", async () => {
    const response = await get("/nope");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual({ error: { code: "NOT_FOUND", message: "no route for GET /nope" } });
  });

  it("answers a wrong method with 405", async () => {
    const response = await SELF.fetch("http://example.com/health", { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });

  it.each([
    ["characters outside the allowed set", "bad%20room"],
    ["a name over 128 characters", "r".repeat(129)],
    ["an empty segment", "a//b"],
    ["a dot segment", "a%2F..%2Fb"],
    ["a segment starting with a dot", "a/.hidden"],
    ["broken URL encoding", "%E0%A4%A"],
  ])("refuses a room name with %s with a JSON 400", async (_case, room) => {
    const response = await get(`/rooms/${room}/ws`, { upgrade: "websocket" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "BAD_ROOM_NAME" } });
  });

  it("accepts a 128-character room name and names with slashes, encoded or not", async () => {
    for (const [path, room] of [
      ["r".repeat(128), "r".repeat(128)],
      ["team-1/board", "team-1/board"],
      ["team-1%2Fboard", "team-1/board"],
    ] as const) {
      const response = await get(`/rooms/${path}/ws?token=${await tokenFor(room)}`, { upgrade: "websocket" });
      expect(response.status).toBe(101);
      response.webSocket?.accept();
      response.webSocket?.close();
    }
  });

  it("asks for a WebSocket upgrade on the socket route", async () => {
    const response = await get("/rooms/plain/ws");
    expect(response.status).toBe(426);
    expect(await response.json()).toMatchObject({ error: { code: "UPGRADE_REQUIRED" } });
  });
});

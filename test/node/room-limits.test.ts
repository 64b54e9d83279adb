/**
 * Parsing the room limits an app (`defineApp({ limits })`) and a deployment
 * (`ROOM_LIMITS`) set: defaults, precedence field by field, and errors that
 * name every bad field. Their effect in a room is tested in test/limits/.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_ROOM_LIMITS, resolveRoomLimits, RoomLimitsError, tableQuota } from "../../src/protocol/room-limits";

describe("resolveRoomLimits", () => {
  it("gives the documented defaults when nothing is set", () => {
    expect(resolveRoomLimits(undefined, undefined)).toEqual(DEFAULT_ROOM_LIMITS);
    expect(resolveRoomLimits({}, "")).toEqual(DEFAULT_ROOM_LIMITS);
  });

  it("applies the app's limits, then the deployment's, field by field (JSON text or an object)", () => {
    const limits = resolveRoomLimits(
      { requestsPerSecond: 50, requestBurst: 100, table: { rows: 500 }, tables: { notes: { bytes: 1_000 } } },
      JSON.stringify({ requestBurst: 60, table: { bytes: 9_999 } }),
    );
    expect(limits.requestsPerSecond).toBe(50);
    expect(limits.requestBurst).toBe(60);
    expect(limits.table).toEqual({ rows: 500, bytes: 9_999 });
    // A per-table quota starts from the room's table quota and replaces what it names.
    expect(tableQuota(limits, "notes")).toEqual({ rows: 500, bytes: 1_000 });
    expect(tableQuota(limits, "tasks")).toEqual({ rows: 500, bytes: 9_999 });
    expect(resolveRoomLimits(undefined, { socketsPerRoom: 10 }).socketsPerRoom).toBe(10);
  });

  it("refuses bad settings with an error naming each bad field and where it came from", () => {
    expect(() => resolveRoomLimits({ requestsPerSecond: 0 }, undefined)).toThrow(RoomLimitsError);
    expect(() => resolveRoomLimits({ requestsPerSecond: 0 }, undefined)).toThrow(/^defineApp\(\{ limits \}\): requestsPerSecond: /);
    expect(() => resolveRoomLimits(undefined, '{"socketsPerUser": 1.5, "tabel": {}}')).toThrow(
      /^ROOM_LIMITS: .*socketsPerUser: .*(tabel|Unrecognized)/,
    );
    expect(() => resolveRoomLimits(undefined, "{not json")).toThrow("ROOM_LIMITS is not valid JSON");
    expect(() => resolveRoomLimits(undefined, { subscriptionsPerUser: 3 })).toThrow(/subscriptionsPerUser/);
    expect(() => resolveRoomLimits({ requestsPerSecond: 100, requestBurst: 10 }, undefined)).toThrow(
      "room limits: requestBurst (10) must be at least requestsPerSecond (100)",
    );
  });
});

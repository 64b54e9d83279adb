/**
 * drizzle-kit configuration for both table sets. Select the target with
 * DB_TARGET: `room` (default; Durable Object SQLite → drizzle/) or `replica`
 * (D1 → migrations/). `npm run db:generate` runs both.
 * DRIZZLE_OUT and DRIZZLE_SCHEMA_DIR override the output and schema folders
 * (used by the staleness test in test/node/migrations.test.ts).
 */
import { defineConfig } from "drizzle-kit";

const target = process.env["DB_TARGET"] ?? "room";
if (target !== "room" && target !== "replica") {
  throw new Error(`DB_TARGET must be "room" or "replica", got "${target}"`);
}

const schemaDir = process.env["DRIZZLE_SCHEMA_DIR"] ?? "./schema";

export default target === "room"
  ? defineConfig({
      dialect: "sqlite",
      driver: "durable-sqlite",
      schema: `${schemaDir}/room.ts`,
      out: process.env["DRIZZLE_OUT"] ?? "./drizzle",
    })
  : defineConfig({
      dialect: "sqlite",
      schema: `${schemaDir}/replica.ts`,
      out: process.env["DRIZZLE_OUT"] ?? "./migrations",
    });

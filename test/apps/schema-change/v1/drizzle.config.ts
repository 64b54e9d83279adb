/**
 * drizzle-kit configuration of version 1 of the schema-change test app. Run
 * from the repository root (see test/node/schema-change.test.ts for the commands).
 */
import { appDrizzleConfig } from "../../../../schema/drizzle-config";
import * as app from "./schema";

const DIR = "./test/apps/schema-change/v1";

export default appDrizzleConfig({ app, appModule: `${DIR}/schema.ts`, room: `${DIR}/drizzle`, replica: `${DIR}/migrations` });

/**
 * The task board's procedure builders: the engine's, typed with the board's
 * tables (`ctx.db`) and its one service (`ctx.services.tasks`). Every file of
 * the app builds on this; it is the app's only import of the engine's API.
 */
import * as schema from "../../schema/app";
import { createAppApi } from "../rpc/app-api";
import { TaskStore } from "./task-store";

export const api = createAppApi({ schema, services: (db) => ({ tasks: new TaskStore(db) }) });

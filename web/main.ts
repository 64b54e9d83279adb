/**
 * The demo page's entry point (bundled by scripts/build-web.mjs into public/app.js):
 * the join form, then one Session and its panels. `?room=…&name=…&role=…` in
 * the address joins at once, so a link brings a second person into the room.
 */
import type { Role } from "../src/client";
import { mountBoard } from "./board-panel";
import { mountConnectionBadge } from "./connection-badge";
import { CursorsLayer } from "./cursors-layer";
import { byId } from "./dom";
import { mountInspector } from "./inspector-panel";
import { mountPresence } from "./presence-panel";
import { mintToken, Session, userIdFor, type ConnectionInfo, type Member, type MintedToken } from "./session";
import { mountSlider } from "./slider-panel";
import { mountSqlConsole } from "./sql-console";
import { mountSyncPanel } from "./sync-panel";

/** A hook for tests and curious people (`__nanotype.dropConnection()` in the console). */
interface DevHook {
  dropConnection(): void;
  goOffline(): void;
  goOnline(): void;
  connection(): ConnectionInfo | null;
}

declare global {
  interface Window {
    __nanotype?: DevHook | undefined;
  }
}

const ROLES: readonly Role[] = ["reader", "writer", "admin"];
const ROOM_NAME = /^[A-Za-z0-9._~:@-]+(\/[A-Za-z0-9._~:@-]+)*$/;

const joinForm = byId<HTMLFormElement>("join-form");
const joinError = byId("join-error");
const joinButton = byId<HTMLButtonElement>("join-button");
const nameInput = byId<HTMLInputElement>("join-name");
const roomInput = byId<HTMLInputElement>("join-room");
const roleInput = byId<HTMLSelectElement>("join-role");

let current: { session: Session; dispose: () => void } | null = null;

function readMemberFromForm(): Member | string {
  const name = nameInput.value.trim();
  const room = roomInput.value.trim();
  const role = roleInput.value as Role;
  if (!name) return "Please type your name.";
  if (!ROOM_NAME.test(room) || room.length > 128 || room.split("/").some((segment) => segment.startsWith("."))) {
    return "Room names use letters, digits and . _ ~ : @ -, up to 128 characters, with / between parts (like team-1/board).";
  }
  if (!ROLES.includes(role)) return "Pick a role.";
  return { name, sub: userIdFor(name), room, role };
}

async function join(): Promise<void> {
  const member = readMemberFromForm();
  if (typeof member === "string") return showJoinError(member);
  joinButton.disabled = true;
  joinButton.textContent = "Joining…";
  joinError.hidden = true;
  try {
    const token = await mintToken(member);
    start(member, token);
  } catch (error) {
    showJoinError(`Could not join: ${(error as Error).message}.`);
  } finally {
    joinButton.disabled = false;
    joinButton.textContent = "Join room";
  }
}

function start(member: Member, token: MintedToken): void {
  const session = new Session(member, token);
  const cursors = new CursorsLayer(session, byId("board"));
  const names = new Map<string, string>();
  const disposers = [
    mountConnectionBadge(session),
    mountBoard(session),
    mountPresence(session, cursors, names),
    mountSlider(session, names),
    mountSqlConsole(session),
    mountSyncPanel(session),
    mountInspector(session),
    () => cursors.dispose(),
  ];
  current = { session, dispose: () => disposers.forEach((dispose) => dispose()) };
  window.__nanotype = {
    dropConnection: () => session.dropConnection(),
    goOffline: () => session.goOffline(),
    goOnline: () => session.goOnline(),
    connection: () => session.connection,
  };

  byId("whoami-name").textContent = member.name;
  byId("whoami-role").textContent = member.role;
  byId("whoami-room").textContent = member.room;
  document.title = `${member.room} — nanotypeDB`;
  history.replaceState(null, "", `?${new URLSearchParams({ room: member.room, name: member.name, role: member.role })}`);
  byId("join").hidden = true;
  byId("app").hidden = false;
  byId("whoami").hidden = false;
  byId<HTMLInputElement>("new-task-title").focus();
}

async function leave(): Promise<void> {
  const leaving = current;
  current = null;
  window.__nanotype = undefined;
  byId("app").hidden = true;
  byId("whoami").hidden = true;
  byId("join").hidden = false;
  document.title = "nanotypeDB — live task board";
  history.replaceState(null, "", location.pathname);
  nameInput.focus();
  if (leaving) {
    leaving.dispose();
    await leaving.session.close();
  }
}

function showJoinError(message: string): void {
  joinError.textContent = message;
  joinError.hidden = false;
}

joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void join();
});
byId("leave").addEventListener("click", () => void leave());

const params = new URLSearchParams(location.search);
nameInput.value = params.get("name") ?? "";
roomInput.value = params.get("room") ?? "demo";
roleInput.value = ROLES.includes(params.get("role") as Role) ? params.get("role")! : "admin";
if (params.get("name")) void join();
else nameInput.focus();

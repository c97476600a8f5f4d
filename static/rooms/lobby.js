// @ts-check
/**
 * Admission: the waiting screen for those who knock or are held without a host, the mediator's
 * list of knocks (with a chime and the count in the title), lock, removal and the end of the
 * session.
 */

import { chime, unlockOnFirstGesture } from "./sound.js";

/** @typedef {import("./room.js").Room} Room */
/** @typedef {import("./store.js").Member} Member */

/** @param {Room} room */
export function install(room) {
  const { $, t } = room;
  const diag = /** @type {any} */ (window).mediationRoom;
  Object.assign(diag, { knocks: 0, chimes: 0 });
  let lobbySize = 0;
  /** @type {Member[]} */
  let waiting = [];
  let checkOpened = false; // the device check was opened by the lobby, not by the person

  /** @param {boolean} wait @param {string} [reason] */
  function showLobby(wait, reason = "lobby") {
    room.store.state.waitingReason = wait ? reason : null;
    $("lobby-screen").hidden = !wait;
    $("lobby-text").textContent = reason === "no-host" ? t("noHost") : t("waitingBody");
    $("room").classList.toggle("in-lobby", wait);
    const check = $("device-check");
    if (wait && check.hidden) {
      check.hidden = false; // time to check one's devices
      checkOpened = true;
    } else if (!wait && checkOpened) {
      // In the room the stage shows one's camera: the check closes, and its preview and level
      // meter stop drawing while the connections are being set up.
      check.hidden = true;
      checkOpened = false;
    }
  }

  function renderList() {
    const list = document.getElementById("waiting-list");
    if (!list) return;
    const items = waiting.map((member) => {
      const item = document.createElement("li");
      item.dataset.member = String(member.id);
      const name = document.createElement("span");
      name.textContent = room.label(member);
      item.append(name, button("primary admit", t("admit"), { type: "admit", member: member.id }));
      item.append(button("decline", t("decline"), { type: "remove", member: member.id }));
      return item;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = t("noneWaiting");
      items.push(empty);
    }
    list.replaceChildren(...items);
    $("lobby-panel").classList.toggle("has-waiting", waiting.length > 0);
    $("admit-all").hidden = waiting.length < 2;
  }

  /** @param {string} cls @param {string} text @param {Record<string, unknown>} msg */
  function button(cls, text, msg) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", () => room.send(msg));
    return b;
  }

  async function knock() {
    diag.knocks += 1;
    if (await chime()) diag.chimes += 1;
  }

  function renderRoomState() {
    const locked = room.store.state.room.state === "locked";
    const lock = document.getElementById("lock-button");
    if (lock) {
      lock.hidden = false;
      lock.textContent = locked ? t("unlock") : t("lock");
      lock.setAttribute("aria-pressed", String(locked));
    }
    $("room").classList.toggle("locked", locked);
  }

  /** @param {string} text */
  function end(text) {
    room.store.state.ended = true;
    room.conn.stop();
    room.mesh.dropAll();
    room.media.stopAll();
    room.store.state.members.clear();
    $("ended-text").textContent = text;
    $("ended-screen").hidden = false;
    $("stage").hidden = true;
    $("controls").hidden = true;
    showLobby(false);
    room.setStatus("");
    room.announce(text);
  }
  Object.assign(room, { end });

  room.conn.on("welcome", (msg) => {
    showLobby(msg.you.admission !== "admitted");
    renderRoomState();
  });
  room.conn.on("waiting", (msg) => showLobby(true, msg.reason));
  room.conn.on("admitted", () => {
    showLobby(false);
    room.announce(t("connected"));
  });
  room.conn.on("moved", () => showLobby(false));
  room.conn.on("lobby", (msg) => {
    waiting = msg.waiting;
    if (waiting.length > lobbySize) knock();
    lobbySize = waiting.length;
    room.title("knock", waiting.length ? `(${waiting.length}) ${t("knocking")}` : null);
    renderList();
  });
  room.conn.on("room-state", (msg) => {
    room.store.state.room.state = msg.state;
    renderRoomState();
    room.notice(msg.state === "locked" ? t("locked") : "");
  });
  room.conn.on("removed", () => end(t("removed")));
  room.conn.on("ended", () => end(t("sessionEnded")));
  room.conn.on("error", (msg) => {
    if (msg.code === "replaced") end(t("replaced"));
    if (msg.code === "not-open-yet" && msg.data?.opensAt) {
      const at = new Date(msg.data.opensAt).toLocaleString(room.config.locale.replace("_", "-"));
      room.lastError = t("notOpenYet", { time: at });
      room.notice(room.lastError);
    }
  });
  room.quietErrors.add("not-open-yet");
  room.listen("status", ({ status, code }) => {
    if (room.store.state.ended) return;
    if (status === "open") room.setStatus(t("connected"));
    else if (status === "closed") end(code === 4000 ? t("left") : room.lastError || t("ended"));
    else room.setStatus(t(status === "reconnecting" ? "reconnecting" : "connecting"));
  });

  $("admit-all")?.addEventListener("click", () => {
    for (const member of waiting) room.send({ type: "admit", member: member.id });
  });
  document.getElementById("lock-button")?.addEventListener("click", () =>
    room.send({ type: room.store.state.room.state === "locked" ? "unlock" : "lock" }),
  );
  $("leave-button").addEventListener("click", () => {
    if (!window.confirm(t("confirmLeave"))) return;
    room.send({ type: "leave" });
    end(t("left"));
  });
  document.getElementById("end-button")?.addEventListener("click", () => {
    if (window.confirm(t("confirmEnd"))) room.send({ type: "end" });
  });
  if (room.isHost()) unlockOnFirstGesture();
}

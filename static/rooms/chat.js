// @ts-check
/**
 * Chat of the sub-room one is in: the server delivers each message only to those who could hear
 * it and sends the history one was present for (`chat` in welcome, admitted, moved).
 */

/** @typedef {import("./room.js").Room} Room */
/** @typedef {{id: number, from: {id: number, name: string, role: string}, text: string, subroom: string, at: string}} ChatMessage */

export const MAX_TEXT = 1000;

/** @param {Room} room */
export function install(room) {
  const { $, t, store } = room;
  const panel = $("chat-panel");
  const log = $("chat-log");
  const toggle = $("chat-button");
  const unread = $("chat-unread");
  const input = /** @type {HTMLInputElement} */ ($("chat-text"));
  let missed = 0;
  /** @type {Set<number>} */
  const shown = new Set();

  /** @param {ChatMessage} message */
  function line(message) {
    const item = document.createElement("li");
    item.dataset.id = String(message.id);
    item.classList.toggle("mine", message.from.id === store.state.me?.id);
    const who = document.createElement("strong");
    who.textContent = `${message.from.name} · ${t(`role:${message.from.role}`)}`;
    const time = document.createElement("time");
    time.dateTime = message.at;
    time.textContent = new Date(message.at).toLocaleTimeString(room.config.locale.replace("_", "-"), {
      hour: "2-digit",
      minute: "2-digit",
    });
    const text = document.createElement("p");
    text.textContent = message.text;
    item.append(who, " ", time, text);
    return item;
  }

  /** @param {ChatMessage} message */
  function add(message) {
    if (shown.has(message.id)) return;
    shown.add(message.id);
    log.append(line(message));
    log.scrollTop = log.scrollHeight;
    if (panel.hidden && message.from.id !== store.state.me?.id) {
      missed += 1;
      unread.textContent = String(missed);
      unread.hidden = false;
    }
  }

  /** A new sub-room: its history replaces what was shown. @param {{chat?: ChatMessage[], you: {subroom: string}}} msg */
  function history(msg) {
    if (!msg.chat) return;
    shown.clear();
    log.replaceChildren();
    for (const message of msg.chat) add(message);
    $("chat-audience").textContent = t(msg.you.subroom === "main" ? "chatMain" : "chatPrivate");
  }

  /** @param {boolean} open */
  function show(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      missed = 0;
      unread.hidden = true;
      input.focus();
    }
  }

  room.conn.on("welcome", history);
  room.conn.on("admitted", history);
  room.conn.on("moved", history);
  room.conn.on("chat", (msg) => add(msg.message));
  room.conn.on("error", (msg) => {
    if (msg.code === "too-long") room.notice(t("chatTooLong"));
  });
  room.quietErrors.add("too-long");
  toggle.addEventListener("click", () => show(panel.hidden));
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      room.notice(t("chatTooLong"));
      return;
    }
    if (room.send({ type: "chat", text })) input.value = "";
  });
}

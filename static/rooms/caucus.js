// @ts-check
/**
 * Caucus (背靠背): the mediator moves a party, or a group, into a private sub-room with itself
 * and back with one click, and moves between sub-rooms; a banner always says where one is and
 * who can hear; anyone can call the mediator, who hears a chime and sees the call in the title.
 * The server enforces the isolation; this module only asks and shows.
 */

import { chime } from "./sound.js";

/** @typedef {import("./room.js").Room} Room */
/** @typedef {import("./store.js").Member} Member */

export const MAIN = "main";

/** The sub-room a party (or a group, named after its first member) is taken to. @param {number[]} ids */
export function caucusName(ids) {
  return `caucus-${Math.min(...ids)}`;
}

/** @param {Room} room */
export function install(room) {
  const { $, t, store } = room;
  const diag = /** @type {any} */ (window).mediationRoom;
  diag.calls = 0;
  /** @type {Set<number>} */
  const selected = new Set();

  /** @param {string} subroom */
  function where(subroom) {
    return subroom === MAIN ? t("main") : t("privateRoom", { n: subroom.replace(/^caucus-/, "") });
  }

  /** Moves members, then the mediator itself, to a sub-room. @param {number[]} ids @param {string} subroom */
  function take(ids, subroom) {
    for (const id of ids) room.send({ type: "move", member: id, subroom });
    const me = store.state.me;
    if (me && me.subroom !== subroom) room.send({ type: "move", member: me.id, subroom });
  }

  function banner() {
    const me = store.state.me;
    const node = $("where-banner");
    node.hidden = !me || me.admission !== "admitted" || store.state.waitingReason !== null;
    if (!me) return;
    const names = [...store.state.members.values()].filter((m) => m.online !== false).map((m) => m.name);
    const list = names.length ? names.join("、") : t("nobodyElse");
    node.textContent = t(me.subroom === MAIN ? "hearsYouMain" : "hearsYouPrivate", { names: list });
    node.classList.toggle("private", me.subroom !== MAIN);
    $("room").dataset.subroom = me.subroom;
  }

  function panel() {
    const list = document.getElementById("subroom-list");
    const me = store.state.me;
    if (!list || !me) return;
    /** @type {Map<string, Member[]>} */
    const rooms = new Map([[MAIN, []]]);
    for (const m of store.state.directory.values()) {
      if (m.admission !== "admitted" || m.online === false || m.id === me.id) continue;
      rooms.set(m.subroom, [...(rooms.get(m.subroom) || []), m]);
    }
    rooms.set(me.subroom, rooms.get(me.subroom) || []);
    list.replaceChildren(...[...rooms].map(([name, members]) => subroomItem(name, members, me)));
    $("caucus-group").hidden = selected.size < 2;
  }

  /** @param {string} name @param {Member[]} members @param {Member} me */
  function subroomItem(name, members, me) {
    const item = document.createElement("li");
    item.dataset.subroom = name;
    const title = document.createElement("strong");
    title.textContent = where(name) + (name === me.subroom ? ` · ${t("you")}` : "");
    item.append(title);
    for (const m of members) item.append(memberLine(m, name));
    if (name !== me.subroom) item.append(button("go-there", t("goThere"), () => take([], name)));
    if (name !== MAIN && members.length) {
      item.append(button("to-main", t("toMain"), () => take(members.map((m) => m.id), MAIN)));
    }
    return item;
  }

  /** @param {Member} m @param {string} subroom */
  function memberLine(m, subroom) {
    const line = document.createElement("label");
    line.className = "check";
    if (subroom === MAIN && m.role === "party") {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = selected.has(m.id);
      box.addEventListener("change", () => {
        if (box.checked) selected.add(m.id);
        else selected.delete(m.id);
        panel();
      });
      line.append(box);
    }
    line.append(` ${room.label(m)}`);
    return line;
  }

  /** @param {string} cls @param {string} text @param {() => void} fn */
  function button(cls, text, fn) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", fn);
    return b;
  }

  // One click on a party's tile: into a private room with the mediator, or back.
  if (room.isMediator()) {
    room.tileTools.push((member, tools) => {
      if (member.role !== "party") return;
      tools.append(
        button("to-private", t("toPrivate"), () => take([member.id], caucusName([member.id]))),
        button("to-main", t("toMain"), () => take([member.id], MAIN)),
      );
    });
    $("caucus-group").addEventListener("click", () => {
      const ids = [...selected];
      selected.clear();
      take(ids, caucusName(ids));
    });
  }

  function render() {
    banner();
    panel();
    const inCaucus = store.state.me?.subroom !== MAIN;
    for (const b of document.querySelectorAll(".tile .to-private")) /** @type {HTMLElement} */ (b).hidden = inCaucus;
    for (const b of document.querySelectorAll(".tile .to-main")) /** @type {HTMLElement} */ (b).hidden = !inCaucus;
  }

  room.conn.on("moved", (msg) => room.announce(t("movedAnn", { where: where(msg.you.subroom) })));
  room.conn.on("member-joined", (msg) => room.announce(t("joinedAnn", { name: msg.member.name })));
  room.conn.on("member-left", (msg) => {
    if (!room.store.superseded(msg.member)) room.announce(t("leftAnn", { name: msg.member.name }));
  });
  room.conn.on("host-called", async (msg) => {
    diag.calls += 1;
    const text = t("hostCalled", { name: msg.member.name });
    room.notice(text);
    room.announce(text);
    room.title("call", `📞 ${msg.member.name}`);
    setTimeout(() => room.title("call", null), 30000);
    document.querySelector(`.tile[data-member="${msg.member.id}"]`)?.classList.add("calling");
    if (await chime([660, 880, 660])) diag.callChimes = (diag.callChimes || 0) + 1;
  });
  document.getElementById("call-host-button")?.addEventListener("click", () => {
    room.send({ type: "call-host" });
    room.notice(t("callSent"));
    room.announce(t("callSent"));
  });
  store.subscribe(render);
}

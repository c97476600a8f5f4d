// @ts-check
/**
 * The mediation room page: wires the DOM-free core (connection, mesh, media, store) to the
 * feature modules, each of which registers the server messages it handles (rooms/PROTOCOL.md).
 */

import { Connection } from "./connection.js";
import { Mesh } from "./mesh.js";
import { LocalMedia } from "./media.js";
import { createStore, isHost } from "./store.js";
import * as stage from "./stage.js";
import * as lobby from "./lobby.js";
import * as controls from "./controls.js";
import * as caucus from "./caucus.js";
import * as chat from "./chat.js";
import * as recording from "./recording.js";
import * as devicecheck from "./devicecheck.js";
import * as network from "./network.js";
import * as draft from "./draft.js";

/** @typedef {import("./store.js").Member} Member */
/** @typedef {import("./connection.js").Message} Message */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const config = JSON.parse($("room-config").textContent || "{}");
const strings = { ...config.strings, ...JSON.parse($("room-ui").textContent || "{}") };
const BASE_TITLE = document.title;
// `?relay=1`: media to the others only through the TURN server (no address of ours reaches them;
// also the way to test TURN). The server's own peers (echo, recorder) are reached directly.
const RELAY_ONLY = new URLSearchParams(location.search).get("relay") === "1";

/** A translated string with {placeholders} filled in. @param {string} key @param {Record<string, unknown>} [params] */
function t(key, params = {}) {
  let text = String(strings[key] ?? key);
  for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

const store = createStore();
const events = new EventTarget();
/** @type {RTCIceServer[]} */
let iceServers = [];
/** @type {Map<string, string>} */
const titleFlags = new Map();

const media = new LocalMedia({
  onTrack: (slot, track) => {
    mesh.setTrack(slot, track);
    emit("local-track", { slot, track });
  },
});
const conn = new Connection({
  url: `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${config.wsPath}`,
  finalCodes: config.finalCloseCodes,
  onStatus: (status, code) => emit("status", { status, code }),
});
const mesh = new Mesh({
  send: (msg) => conn.send(msg),
  me: () => store.state.me?.id ?? 0,
  iceServers: () => iceServers,
  track: (slot) => media.track(slot),
  stream: (slot) => media.stream(slot),
  onTrack: (id, slot, track) => emit("remote-track", { id, slot, track }),
  onState: (id, state) => emit("peer-state", { id, state }),
  onPeer: (id, pc) => emit("peer", { id, pc }),
  onClosed: (id) => emit("peer-closed", { id }),
  relayOnly: () => RELAY_ONLY,
});

// Arrival times, taken before any handler runs (registered first).
const timings = { pageStart: performance.now() };
conn.on("welcome", () => Object.assign(timings, { welcomeAt: performance.now() }));
conn.on("admitted", () => Object.assign(timings, { admittedAt: performance.now() }));

/** @param {string} type @param {unknown} detail */
function emit(type, detail) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
}

export const room = {
  config,
  t,
  $,
  store,
  conn,
  mesh,
  media,
  events,
  /** @param {string} type @param {(detail: any) => void} fn */
  listen(type, fn) {
    events.addEventListener(type, (e) => fn(/** @type {CustomEvent} */ (e).detail));
  },
  /** @param {Record<string, unknown>} msg */
  send: (msg) => conn.send(msg),
  isHost: () => isHost(store.state.me) || ["mediator", "coordinator"].includes(config.role),
  isMediator: () => config.role === "mediator",
  /** Says it to screen-reader users (a polite live region). @param {string} text */
  announce(text) {
    const region = $("announcer");
    region.textContent = "";
    setTimeout(() => (region.textContent = text), 50);
  },
  /** @param {string} text */
  notice(text) {
    const box = $("room-notice");
    box.textContent = text;
    box.hidden = !text;
  },
  /** @param {string} text */
  setStatus(text) {
    $("room-status").textContent = text;
  },
  /** A flag shown before the page title (knocks, calls). @param {string} key @param {string | null} text */
  title(key, text) {
    if (text) titleFlags.set(key, text);
    else titleFlags.delete(key);
    document.title = [...titleFlags.values(), BASE_TITLE].join(" · ");
  },
  /** Features add buttons to a remote member's tile: (member, tools element) → void. */
  tileTools: /** @type {Array<(member: Member, tools: HTMLElement) => void>} */ ([]),
  /** The chosen speaker (setSinkId), "" for the default. */
  speaker: "",
  /** Error codes a feature explains itself (the generic notice stays quiet). */
  // not-reachable: signaling that crossed a move under way (the connection is rebuilt anyway).
  quietErrors: new Set(["not-reachable"]),
  lastError: "",
  /** @param {Member} member */
  label(member) {
    return `${member.name} · ${t(`role:${member.role}`)}`;
  },
  /** Reads what we send from the local media, shows it and tells everyone who sees us. */
  syncLocal() {
    const local = store.state.local;
    local.audio = media.micOn && media.audio !== null;
    local.video = media.track("video") !== null;
    local.screen = media.screen !== null;
    local.audioOnly = media.audioOnly;
    store.changed("local");
    room.sendMedia();
  },
  /** Tells everyone who sees us what we send. */
  sendMedia() {
    const local = store.state.local;
    conn.send({ type: "media", audio: local.audio, video: local.video, screen: local.screen, audioOnly: local.audioOnly });
  },
};

/** @typedef {typeof room} Room */

// --- the core: who we may see, and the connections to them ------------------------------------

/** @param {Member[]} members */
function see(members) {
  for (const member of members) {
    store.remember(member);
    store.state.members.set(member.id, member);
  }
}

/** @param {Member[]} members */
function call(members) {
  see(members);
  for (const member of members) mesh.call(member);
}

conn.on("welcome", (msg) => {
  store.state.me = msg.you;
  store.remember(msg.you);
  store.state.room = { ...store.state.room, ...msg.room };
  iceServers = msg.iceServers || [];
  store.state.members.clear();
  mesh.dropAll(); // a new session: every old connection is stale
  if (msg.you.admission === "admitted") call(msg.members);
  else {
    see(msg.members);
    mesh.prepare(); // our offer is ready when we are admitted
  }
  room.lastError = "";
  room.sendMedia(); // the server keeps nothing of our last socket's state
});
conn.on("waiting", (msg) => {
  store.state.me = msg.you;
  store.state.members.clear();
  mesh.dropAll();
  mesh.prepare();
});
conn.on("admitted", (msg) => {
  store.state.me = msg.you;
  call(msg.members);
});
conn.on("moved", (msg) => {
  store.state.me = msg.you;
  store.remember(msg.you);
  const keep = new Set(msg.members.map((/** @type {Member} */ m) => m.id));
  for (const id of [...store.state.members.keys()]) if (!keep.has(id)) store.state.members.delete(id);
  mesh.keepOnly(keep);
  call(msg.members);
});
conn.on("member-joined", (msg) => {
  const peer = mesh.peers.get(msg.member.id);
  if (peer && peer.session !== msg.member.session) mesh.drop(msg.member.id);
  see([msg.member]); // the newcomer calls us
});
conn.on("member-left", (msg) => {
  if (store.superseded(msg.member)) return; // the old socket's late departure: still here
  store.remember(msg.member);
  store.state.members.delete(msg.member.id);
  mesh.drop(msg.member.id);
});
conn.on("member-updated", (msg) => store.remember(msg.member));
conn.on("signal", (msg) => {
  if (!store.state.members.has(msg.from.id)) see([{ ...msg.from, admission: "admitted", online: true }]);
  mesh.signal(msg);
});
conn.on("pong", () => {});
conn.on("error", (msg) => {
  console.warn("room error", msg.code);
  room.lastError = msg.message?.[config.locale] || msg.message?.en || msg.code;
  if (!room.quietErrors.has(msg.code)) room.notice(room.lastError);
});
for (const type of ["welcome", "waiting", "admitted", "moved", "member-joined", "member-left", "member-updated"]) {
  conn.on(type, () => store.changed(type));
}

// --- diagnostics for tests and benchmarks ----------------------------------------------------

Object.assign(window, {
  mediationRoom: {
    peers: mesh.pcs,
    members: store.state.members,
    firstFrame: new Map(),
    timings,
    room,
    handledTypes: () => conn.handledTypes(),
    get me() {
      return store.state.me;
    },
    get waitingReason() {
      return store.state.waitingReason;
    },
    get connected() {
      return conn.open;
    },
    get fromSpare() {
      return mesh.fromSpare;
    },
  },
});

/** Keeps a phone's screen on while in the room (the lock is dropped whenever the page hides). */
function keepAwake() {
  /** @type {{released: boolean} | null} */
  let lock = null;
  const request = async () => {
    const nav = /** @type {any} */ (navigator);
    if (!nav.wakeLock || document.visibilityState !== "visible" || store.state.ended) return;
    if (lock && !lock.released) return;
    try {
      lock = await nav.wakeLock.request("screen");
    } catch {
      // refused (battery saver, an in-app browser): the room works, the screen may dim
    }
  };
  document.addEventListener("visibilitychange", request);
  conn.on("welcome", request);
  conn.on("admitted", request);
  Object.assign(/** @type {any} */ (window).mediationRoom, { awake: () => !!lock && !lock.released });
}

async function main() {
  for (const feature of [stage, lobby, controls, caucus, chat, recording, devicecheck, network, draft]) {
    feature.install(room);
  }
  keepAwake();
  const audioOnly = devicecheck.prefersAudioOnly();
  store.state.local.audioOnly = audioOnly;
  window.addEventListener("online", () => conn.now()); // back online: no need to wait for the backoff
  conn.start(); // in parallel: tracks join the connections when they are ready (replaceTrack)
  await media.start(audioOnly);
  Object.assign(timings, { mediaReady: performance.now() });
  emit("media-ready", media);
  room.syncLocal();
}

main();

// The mediation room: signaling client and browser mesh (one RTCPeerConnection per remote member).
// Protocol: rooms/PROTOCOL.md. Negotiation follows the "perfect negotiation" pattern: the member
// with the higher id is polite. Whoever's view of the room changed (it joined, was admitted,
// was moved) opens the connections; the others answer.

const config = JSON.parse(document.getElementById("room-config").textContent);
const T = config.strings;
const $ = (id) => document.getElementById(id);
const FINAL = new Set(config.finalCloseCodes);
const BASE_TITLE = document.title;

const state = {
  socket: null,
  me: null,
  room: { state: "open" },
  iceServers: [],
  members: new Map(), // member id → member (as the server describes it)
  peers: new Map(), // member id → {pc, session, polite, makingOffer, ...}
  pcs: new Map(), // member id → RTCPeerConnection (diagnostics)
  firstFrame: new Map(), // member id → ms from connection start to first decoded frame
  localStream: null,
  mediaReady: null,
  attempt: 0,
  ended: false,
  lastError: "", // the server's last error text: shown when it closes the socket for good
  waitingReason: null, // "lobby" | "no-host" while we wait, else null
  lobbySize: 0, // knocking members the mediator was last told about
  knocks: 0, // knocks announced to the mediator (diagnostics)
  chimes: 0, // knock tones actually played (diagnostics)
  audio: null, // AudioContext for the knock tone, created on demand
  timings: { pageStart: performance.now() },
};

window.mediationRoom = {
  peers: state.pcs,
  members: state.members,
  firstFrame: state.firstFrame,
  timings: state.timings,
  get me() {
    return state.me;
  },
  get waitingReason() {
    return state.waitingReason;
  },
  get knocks() {
    return state.knocks;
  },
  get chimes() {
    return state.chimes;
  },
  get connected() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  },
};

// --- media -------------------------------------------------------------------------------------

async function startMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    notice(T.noMedia);
    return null;
  }
  const video = { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video });
  } catch (err) {
    console.warn("camera unavailable, trying sound only", err);
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    notice(T.audioOnly);
    return stream;
  } catch (err) {
    console.warn("microphone unavailable", err);
    notice(T.noMedia);
    return null;
  }
}

function addLocalMedia(pc) {
  const stream = state.localStream;
  const kinds = new Set();
  if (stream) {
    for (const track of stream.getTracks()) {
      pc.addTrack(track, stream);
      kinds.add(track.kind);
    }
  }
  // Still receive what we cannot send, and always give negotiation something to do.
  for (const kind of ["audio", "video"]) {
    if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
  }
}

// --- tiles -------------------------------------------------------------------------------------

function makeVideo(muted) {
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = muted;
  // WeChat's in-app browsers (iOS WebKit and Android X5) need these to play inline.
  video.setAttribute("playsinline", "");
  video.setAttribute("webkit-playsinline", "");
  video.setAttribute("x5-playsinline", "");
  if (muted) video.setAttribute("muted", "");
  return video;
}

function tileFor(id, label, local = false) {
  let tile = document.querySelector(`.tile[data-member="${id}"]`);
  if (!tile) {
    tile = document.createElement("figure");
    tile.className = local ? "tile local" : "tile";
    tile.dataset.member = String(id);
    const video = makeVideo(local);
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "name";
    const status = document.createElement("span");
    status.className = "peer-status";
    caption.append(name, status);
    tile.append(video, caption);
    if (!local && config.role === "mediator") {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "tile-remove";
      remove.textContent = T.remove;
      remove.addEventListener("click", () => send({ type: "remove", member: id }));
      tile.append(remove);
    }
    $("stage").append(tile);
  }
  tile.querySelector(".name").textContent = label;
  return tile;
}

function labelOf(member) {
  const role = T[`role:${member.role}`] || member.role;
  return `${member.name} · ${role}`;
}

function playVideo(video) {
  // Autoplay can be refused (WeChat, iOS without a gesture): offer a tap to start.
  const attempt = video.play();
  if (attempt && attempt.catch) {
    attempt.catch(() => {
      const button = $("tap-to-play") || document.createElement("button");
      button.id = "tap-to-play";
      button.className = "tap-to-play primary";
      button.type = "button";
      button.textContent = T.tapToPlay;
      button.onclick = () => {
        for (const v of document.querySelectorAll(".tile video")) v.play().catch(() => {});
        button.remove();
      };
      if (!button.isConnected) $("room").prepend(button);
    });
  }
}

function showLocal() {
  const me = state.me;
  const tile = tileFor("local", `${T.you} · ${me ? me.name : config.name}`, true);
  const video = tile.querySelector("video");
  if (state.localStream && video.srcObject !== state.localStream) {
    video.srcObject = state.localStream;
    playVideo(video);
  }
}

function watchFirstFrame(id, video, started) {
  const record = () => {
    if (!state.firstFrame.has(id)) state.firstFrame.set(id, Math.round(performance.now() - started));
  };
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(record);
  else video.addEventListener("playing", record, { once: true });
}

// --- peers -------------------------------------------------------------------------------------

function ensurePeer(member) {
  let peer = state.peers.get(member.id);
  if (peer && peer.session === member.session) return peer;
  if (peer) dropPeer(member.id);
  const pc = new RTCPeerConnection({ iceServers: state.iceServers });
  peer = {
    id: member.id,
    session: member.session,
    pc,
    polite: state.me.id > member.id,
    makingOffer: false,
    ignoreOffer: false,
    settingAnswer: false,
    chain: Promise.resolve(),
    started: performance.now(),
  };
  state.peers.set(member.id, peer);
  state.pcs.set(member.id, pc);
  const tile = tileFor(member.id, labelOf(member));
  const video = tile.querySelector("video");
  const status = tile.querySelector(".peer-status");
  status.textContent = T["peer:connecting"];
  watchFirstFrame(member.id, video, peer.started);

  pc.ontrack = ({ track, streams }) => {
    const stream = streams[0] || new MediaStream([track]);
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      playVideo(video);
    }
  };
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) send({ type: "signal", to: member.id, candidate: candidate.toJSON() });
  };
  pc.onnegotiationneeded = async () => {
    try {
      peer.makingOffer = true;
      await pc.setLocalDescription();
      send({ type: "signal", to: member.id, description: pc.localDescription.toJSON() });
    } catch (err) {
      console.warn("negotiation failed", err);
    } finally {
      peer.makingOffer = false;
    }
  };
  pc.onconnectionstatechange = () => {
    const s = pc.connectionState;
    status.textContent = s === "connected" ? "" : s === "failed" ? T["peer:failed"] : T["peer:connecting"];
    if (s === "failed") pc.restartIce();
  };
  addLocalMedia(pc);
  return peer;
}

function dropPeer(id) {
  const peer = state.peers.get(id);
  if (peer) {
    peer.pc.close();
    state.peers.delete(id);
    state.pcs.delete(id);
    state.firstFrame.delete(id);
  }
  const tile = document.querySelector(`.tile[data-member="${id}"]`);
  if (tile) tile.remove();
}

function dropAllPeers() {
  for (const id of [...state.peers.keys()]) dropPeer(id);
  state.members.clear();
}

function connectTo(members) {
  for (const member of members) {
    state.members.set(member.id, member);
    ensurePeer(member);
  }
}

function onSignal(msg) {
  const from = msg.from;
  let peer = state.peers.get(from.id);
  if (!peer || peer.session !== from.session) {
    const known = state.members.get(from.id) || { ...from, admission: "admitted" };
    const member = { ...known, session: from.session };
    state.members.set(from.id, member);
    peer = ensurePeer(member);
  }
  // One message at a time per peer, in arrival order.
  peer.chain = peer.chain.then(() => applySignal(peer, msg)).catch((err) => console.warn("signal", err));
}

async function applySignal(peer, msg) {
  const pc = peer.pc;
  if (msg.description) {
    const description = msg.description;
    const ready = !peer.makingOffer && (pc.signalingState === "stable" || peer.settingAnswer);
    const collision = description.type === "offer" && !ready;
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    peer.settingAnswer = description.type === "answer";
    await pc.setRemoteDescription(description);
    peer.settingAnswer = false;
    if (description.type === "offer") {
      await pc.setLocalDescription();
      send({ type: "signal", to: peer.id, description: pc.localDescription.toJSON() });
    }
  } else if (msg.candidate) {
    try {
      await pc.addIceCandidate(msg.candidate);
    } catch (err) {
      if (!peer.ignoreOffer) throw err;
    }
  }
}

// --- screens -----------------------------------------------------------------------------------

function setStatus(text) {
  $("room-status").textContent = text;
}

function notice(text) {
  const box = $("room-notice");
  box.textContent = text;
  box.hidden = !text;
}

function showLobby(waiting, reason = "lobby") {
  state.waitingReason = waiting ? reason : null;
  $("lobby-screen").hidden = !waiting;
  $("lobby-text").textContent = reason === "no-host" ? T.noHost : T.waitingBody;
  $("room").classList.toggle("in-lobby", waiting);
}

// --- knocks (the mediator hears and sees them) ------------------------------------------------

function audioContext() {
  const AudioContext = window.AudioContext || window.webkitAudioContext;
  if (!AudioContext) return null;
  if (!state.audio) state.audio = new AudioContext();
  return state.audio;
}

function playKnockTone() {
  // Browsers keep an AudioContext suspended until the page has had a gesture (unlockAudio()
  // resumes it on the first tap). A chime refused now must not ring late, at that tap: play it
  // only if the context runs within a second. The title tells the mediator either way.
  state.knocks += 1;
  const ctx = audioContext();
  if (!ctx) return;
  if (ctx.state === "running") {
    chime(ctx);
    return;
  }
  const asked = performance.now();
  ctx
    .resume()
    .then(() => {
      if (performance.now() - asked < 1000) chime(ctx);
    })
    .catch(() => {});
}

function chime(ctx) {
  // A short two-note chime from an oscillator: no audio file to load.
  const start = ctx.currentTime + 0.01;
  for (const [offset, frequency] of [[0, 880], [0.18, 660]]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.32);
  }
  state.chimes += 1;
}

function unlockAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

function announceKnocks(waiting) {
  if (waiting.length > state.lobbySize) playKnockTone();
  state.lobbySize = waiting.length;
  document.title = waiting.length ? `(${waiting.length}) ${T.knocking} · ${BASE_TITLE}` : BASE_TITLE;
}

function renderLobby(waiting) {
  const list = $("waiting-list");
  if (!list) return;
  list.replaceChildren();
  if (waiting.length === 0) {
    const empty = document.createElement("li");
    empty.className = "muted";
    empty.textContent = T.noneWaiting;
    list.append(empty);
  }
  for (const member of waiting) {
    const item = document.createElement("li");
    item.dataset.member = String(member.id);
    const name = document.createElement("span");
    name.textContent = labelOf(member);
    const admit = document.createElement("button");
    admit.type = "button";
    admit.className = "primary admit";
    admit.textContent = T.admit;
    admit.addEventListener("click", () => send({ type: "admit", member: member.id }));
    const decline = document.createElement("button");
    decline.type = "button";
    decline.textContent = T.decline;
    decline.addEventListener("click", () => send({ type: "remove", member: member.id }));
    item.append(name, admit, decline);
    list.append(item);
  }
  $("lobby-panel").classList.toggle("has-waiting", waiting.length > 0);
  announceKnocks(waiting);
}

function renderRoomState() {
  const button = $("lock-button");
  const locked = state.room.state === "locked";
  if (button) {
    button.hidden = false;
    button.textContent = locked ? T.unlock : T.lock;
  }
  $("room").classList.toggle("locked", locked);
}

function end(text) {
  state.ended = true;
  dropAllPeers();
  if (state.localStream) for (const track of state.localStream.getTracks()) track.stop();
  $("ended-text").textContent = text;
  $("ended-screen").hidden = false;
  $("stage").hidden = true;
  showLobby(false);
  setStatus("");
}

// --- socket ------------------------------------------------------------------------------------

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  }
}

const handlers = {
  welcome(msg) {
    state.me = msg.you;
    state.room = msg.room;
    state.iceServers = msg.iceServers;
    dropAllPeers(); // a new session: every old connection is stale
    showLocal();
    renderRoomState();
    showLobby(msg.you.admission !== "admitted");
    connectTo(msg.members);
  },
  waiting(msg) {
    // In the lobby, or admitted but without a host (the mediator left): connected to nobody.
    state.me = msg.you;
    dropAllPeers();
    showLobby(true, msg.reason);
  },
  admitted(msg) {
    state.me = msg.you;
    state.timings.admittedAt = performance.now();
    showLobby(false);
    connectTo(msg.members);
  },
  moved(msg) {
    state.me = msg.you;
    showLobby(false);
    const keep = new Set(msg.members.map((m) => m.id));
    for (const id of [...state.peers.keys()]) if (!keep.has(id)) dropPeer(id);
    connectTo(msg.members);
  },
  lobby(msg) {
    renderLobby(msg.waiting);
  },
  "member-joined"(msg) {
    const member = msg.member;
    const peer = state.peers.get(member.id);
    if (peer && peer.session !== member.session) dropPeer(member.id);
    state.members.set(member.id, member);
    tileFor(member.id, labelOf(member)); // the newcomer will call us
  },
  "member-left"(msg) {
    state.members.delete(msg.member.id);
    dropPeer(msg.member.id);
  },
  "room-state"(msg) {
    state.room.state = msg.state;
    renderRoomState();
    notice(msg.state === "locked" ? T.locked : "");
  },
  signal: onSignal,
  removed() {
    end(T.removed);
  },
  pong() {},
  error(msg) {
    console.warn("room error", msg.code);
    state.lastError = msg.message[config.locale] || msg.message.en;
    if (msg.code === "replaced") end(T.replaced);
    else notice(state.lastError);
  },
};

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${config.wsPath}`);
  state.socket = socket;
  setStatus(state.attempt ? T.reconnecting : T.connecting);
  socket.onopen = () => {
    state.timings.socketOpen = performance.now();
    socket.send(JSON.stringify({ type: "join" }));
  };
  socket.onmessage = (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg.type === "welcome") {
      state.attempt = 0;
      state.lastError = "";
      setStatus(T.connected);
    }
    const handler = handlers[msg.type];
    if (handler) handler(msg);
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (state.ended) return;
    if (FINAL.has(event.code)) {
      end(event.code === 4000 ? T.left : state.lastError || T.ended);
      return;
    }
    dropAllPeers();
    setStatus(T.reconnecting);
    // Exponential backoff with jitter; the server restores our place from the database.
    const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
    state.attempt += 1;
    setTimeout(connect, delay);
  };
}

function wireControls() {
  $("leave-button").addEventListener("click", () => {
    if (!window.confirm(T.confirmLeave)) return;
    send({ type: "leave" });
    end(T.left);
  });
  if (config.role === "mediator") {
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, unlockAudio, { once: true, capture: true });
    }
  }
  const lock = $("lock-button");
  if (lock) {
    lock.addEventListener("click", () =>
      send({ type: state.room.state === "locked" ? "unlock" : "lock" }),
    );
  }
}

async function main() {
  wireControls();
  state.localStream = await startMedia();
  state.timings.mediaReady = performance.now();
  showLocal();
  connect();
}

main();

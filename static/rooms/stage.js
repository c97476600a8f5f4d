// @ts-check
/**
 * The stage: one tile per member this page sees (and one per shared screen), showing video or,
 * without video, an avatar; name, role, microphone, hand, network quality. A host's tile tools.
 */

/** @typedef {import("./room.js").Room} Room */
/** @typedef {import("./store.js").Member} Member */

/** @param {boolean} muted */
function makeVideo(muted) {
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = muted;
  // WeChat's in-app browsers (iOS WebKit and Android X5) need these to play inline.
  for (const name of ["playsinline", "webkit-playsinline", "x5-playsinline"]) video.setAttribute(name, "");
  if (muted) video.setAttribute("muted", "");
  return video;
}

/** @param {string} tag @param {string} className @param {string} [text] */
function el(tag, className, text = "") {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** @param {Room} room */
export function install(room) {
  const stage = room.$("stage");
  /** @type {Map<number, {camera: MediaStream, screen: MediaStream}>} */
  const remote = new Map();
  const firstFrame = /** @type {any} */ (window).mediationRoom.firstFrame;

  /** Autoplay can be refused (WeChat, iOS without a gesture): offer a tap to start. @param {HTMLVideoElement} video */
  function play(video) {
    if (room.speaker && "setSinkId" in video) /** @type {any} */ (video).setSinkId(room.speaker).catch(() => {});
    video.play()?.catch(() => {
      if (document.getElementById("tap-to-play")) return;
      const button = el("button", "tap-to-play primary", room.t("tapToPlay"));
      button.id = "tap-to-play";
      button.addEventListener("click", () => {
        for (const v of document.querySelectorAll(".tile video")) /** @type {HTMLVideoElement} */ (v).play().catch(() => {});
        button.remove();
      });
      room.$("room").prepend(button);
    });
  }

  /** @param {string} key @param {boolean} local */
  function tile(key, local) {
    let node = /** @type {HTMLElement | null} */ (stage.querySelector(`.tile[data-member="${key}"]`));
    if (node) return node;
    node = el("figure", local ? "tile local" : "tile");
    node.dataset.member = key;
    const caption = el("figcaption", "");
    caption.append(el("span", "name"), el("span", "badges"));
    const avatar = el("div", "avatar");
    avatar.setAttribute("aria-hidden", "true");
    node.append(makeVideo(local), avatar, caption, el("div", "tile-tools"));
    if (local) stage.prepend(node);
    else stage.append(node);
    return node;
  }

  /** @param {Member} member */
  function addTools(member, node) {
    const tools = /** @type {HTMLElement} */ (node.querySelector(".tile-tools"));
    if (!room.isHost() || tools.childElementCount) return;
    /** @param {string} cls @param {string} text @param {Record<string, unknown>} msg */
    const button = (cls, text, msg) => {
      const b = el("button", cls, text);
      b.setAttribute("aria-label", `${text}: ${member.name}`);
      b.addEventListener("click", () => room.send(msg));
      tools.append(b);
    };
    button("ask-mute", room.t("askMute"), { type: "ask", member: member.id, what: "mute" });
    button("ask-camera-off", room.t("askCameraOff"), { type: "ask", member: member.id, what: "camera-off" });
    button("mute-member", room.t("muteThem"), { type: "mute", member: member.id });
    for (const fn of room.tileTools) fn(member, tools);
    if (room.isMediator()) button("tile-remove", room.t("remove"), { type: "remove", member: member.id });
  }

  /** @param {HTMLElement} node @param {Member | null} member @param {{audio: boolean, video: boolean, audioOnly: boolean}} state */
  function caption(node, member, state, you = false) {
    const name = member ? member.name : room.config.name;
    const role = room.t(`role:${member ? member.role : room.config.role}`);
    const label = you ? `${room.t("you")} · ${name}` : `${name} · ${role}`;
    /** @type {HTMLElement} */ (node.querySelector(".name")).textContent = label;
    node.setAttribute("aria-label", label);
    /** @type {HTMLElement} */ (node.querySelector(".avatar")).textContent = [...name][0] || "?";
    node.classList.toggle("no-video", !state.video);
    const badges = /** @type {HTMLElement} */ (node.querySelector(".badges"));
    const status = badges.querySelector(".peer-status") || el("span", "peer-status");
    const parts = [];
    if (state.audioOnly) parts.push(el("span", "voice-only", room.t("voiceOnly")));
    else if (!state.video) parts.push(el("span", "camera-off", room.t("cameraIsOff")));
    if (!state.audio) parts.push(badge("mic-off", "🔇", room.t("micMuted")));
    if (member?.hand) parts.push(badge("hand", "✋", room.t("handUp")));
    const level = member?.quality;
    if (level) parts.push(badge(`quality q-${level}`, "", room.t(`quality:${level}`)));
    badges.replaceChildren(...parts, status);
  }

  /** An icon with its words for screen readers. @param {string} cls @param {string} icon @param {string} words */
  function badge(cls, icon, words) {
    const node = el("span", cls, icon);
    node.setAttribute("role", "img");
    node.setAttribute("aria-label", words);
    node.title = words;
    return node;
  }

  /** @param {Member} member */
  function remoteState(member) {
    const video = remote.get(member.id)?.camera.getVideoTracks()[0];
    const media = member.media;
    return {
      audio: media ? media.audio : true,
      video: (media ? media.video : true) && !member.audioOnly && !!video && !video.muted,
      audioOnly: !!member.audioOnly,
    };
  }

  function render() {
    const local = room.store.state.local;
    const mine = tile("local", true);
    caption(mine, room.store.state.me, local, true);
    const video = /** @type {HTMLVideoElement} */ (mine.querySelector("video"));
    // A stream without video never reaches "have data" and would hold the page's load event.
    const source = room.media.video ? room.media.camera : null;
    if (video.srcObject !== source) {
      video.srcObject = source;
      if (source) play(video);
    }
    const members = room.store.state.members;
    for (const node of stage.querySelectorAll(".tile:not(.local)")) {
      const id = Number(/** @type {HTMLElement} */ (node).dataset.member?.replace("-screen", ""));
      if (!members.has(id)) node.remove();
    }
    for (const member of members.values()) {
      const node = tile(String(member.id), false);
      addTools(member, node);
      caption(node, member, remoteState(member));
      screenTile(member);
    }
  }

  /** @param {Member} member */
  function screenTile(member) {
    const stream = remote.get(member.id)?.screen;
    const key = `${member.id}-screen`;
    if (!stream || !member.media?.screen) {
      stage.querySelector(`.tile[data-member="${key}"]`)?.remove();
      return;
    }
    const node = tile(key, false);
    node.classList.add("screen");
    /** @type {HTMLElement} */ (node.querySelector(".name")).textContent = room.t("screenOf", { name: member.name });
    const video = /** @type {HTMLVideoElement} */ (node.querySelector("video"));
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      play(video);
    }
  }

  room.listen("remote-track", ({ id, slot, track }) => {
    const streams = remote.get(id) || { camera: new MediaStream(), screen: new MediaStream() };
    remote.set(id, streams);
    const stream = slot === "screen" ? streams.screen : streams.camera;
    for (const old of stream.getTracks()) if (old.kind === track.kind) stream.removeTrack(old);
    stream.addTrack(track);
    track.addEventListener("unmute", render);
    track.addEventListener("mute", render);
    if (slot === "screen") return render();
    const node = tile(String(id), false);
    const video = /** @type {HTMLVideoElement} */ (node.querySelector("video"));
    if (video.srcObject !== streams.camera) {
      video.srcObject = streams.camera;
      watchFirstFrame(id, video);
    }
    play(video);
    render();
  });

  /** @param {number} id @param {HTMLVideoElement} video */
  function watchFirstFrame(id, video) {
    const started = room.mesh.peers.get(id)?.started ?? performance.now();
    const record = () => {
      if (!firstFrame.has(id)) firstFrame.set(id, Math.round(performance.now() - started));
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(record);
    else video.addEventListener("playing", record, { once: true });
  }

  room.listen("peer-closed", ({ id }) => {
    remote.delete(id);
    firstFrame.delete(id);
    const node = stage.querySelector(`.tile[data-member="${id}"] video`);
    if (node) /** @type {HTMLVideoElement} */ (node).srcObject = null;
  });
  room.listen("peer-state", ({ id, state }) => {
    const status = stage.querySelector(`.tile[data-member="${id}"] .peer-status`);
    if (!status) return;
    status.textContent =
      state === "connected" ? "" : state === "failed" ? room.t("peer:failed") : room.t("peer:connecting");
  });
  room.listen("speaker", () => {
    for (const v of stage.querySelectorAll("video")) play(/** @type {HTMLVideoElement} */ (v));
  });
  room.listen("local-track", render);
  room.store.subscribe(render);
  render();
}

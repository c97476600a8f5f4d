// @ts-check
/**
 * The control bar: microphone, camera, front/back camera, audio only, screen sharing, raised
 * hand; and what a host asks of us (`asked`) or does to us (`muted`). A party can always unmute.
 */

import { LocalMedia } from "./media.js";

/** @typedef {import("./room.js").Room} Room */

/** @param {Room} room */
export function install(room) {
  const { $, t, media, store } = room;
  const local = store.state.local;
  const mic = $("mic-button");
  const camera = $("camera-button");
  const flip = $("flip-button");
  const audioOnly = $("audio-only-button");
  const screen = $("screen-button");
  const hand = $("hand-button");
  let cameras = 0;

  /** @param {HTMLElement} button @param {boolean} pressed @param {string} text */
  function toggle(button, pressed, text) {
    button.setAttribute("aria-pressed", String(pressed));
    button.textContent = text;
  }

  function render() {
    toggle(mic, !local.audio, local.audio ? t("mute") : t("unmute"));
    toggle(camera, !local.video, local.video ? t("cameraOff") : t("cameraOn"));
    toggle(audioOnly, local.audioOnly, local.audioOnly ? t("audioOnlyOff") : t("audioOnlyOn"));
    toggle(screen, local.screen, local.screen ? t("stopShare") : t("shareScreen"));
    toggle(hand, local.hand, local.hand ? t("lowerHand") : t("raiseHand"));
    camera.hidden = local.audioOnly;
    flip.hidden = local.audioOnly || !local.video || cameras < 2;
  }

  /** @param {boolean} on */
  function setMic(on) {
    media.setMic(on);
    room.syncLocal();
    room.announce(on ? t("unmutedAnn") : t("mutedAnn"));
  }

  /** Runs a device change; a refused or busy camera is explained, never thrown at the user. @param {() => Promise<void>} change */
  async function attempt(change) {
    try {
      await change();
    } catch (err) {
      console.warn("device change failed", err);
      const trouble = media.trouble || "other";
      room.notice(t(trouble === "none" ? "noDevice" : trouble === "busy" ? "busy" : "denied"));
    }
    room.syncLocal();
  }

  mic.addEventListener("click", () => setMic(!local.audio));
  camera.addEventListener("click", () => attempt(() => media.setCamera(!local.video)));
  flip.addEventListener("click", () => attempt(() => media.flipCamera()));
  audioOnly.addEventListener("click", () => attempt(() => media.setAudioOnly(!local.audioOnly)));
  hand.addEventListener("click", () => {
    local.hand = !local.hand;
    room.send({ type: "hand", raised: local.hand });
    store.changed("local");
  });
  screen.hidden = !navigator.mediaDevices?.getDisplayMedia || /Mobi|Android/i.test(navigator.userAgent);
  screen.addEventListener("click", () => {
    if (local.screen) {
      media.stopScreen();
      room.syncLocal();
    } else attempt(() => media.startScreen(() => room.syncLocal()));
  });

  room.conn.on("asked", (msg) => ask(room, msg.what));
  room.conn.on("muted", () => {
    media.setMic(false);
    room.syncLocal();
    room.notice(t("mutedBy"));
    room.announce(t("mutedBy"));
  });
  room.conn.on("welcome", () => {
    if (local.hand) room.send({ type: "hand", raised: true });
  });

  room.listen("media-ready", async () => {
    cameras = (await LocalMedia.devices("videoinput")).length;
    render();
  });
  store.subscribe((what) => what === "local" && render());
  render();
}

/** The host asks us to mute or to turn the camera off: we may agree or decline. @param {Room} room @param {string} what */
function ask(room, what) {
  const { t } = room;
  const box = room.$("room-notice");
  const text = what === "mute" ? t("askedMute") : t("askedCameraOff");
  const yes = document.createElement("button");
  yes.type = "button";
  yes.className = "primary asked-yes";
  yes.textContent = t("agree");
  const no = document.createElement("button");
  no.type = "button";
  no.textContent = t("keep");
  const done = () => room.notice("");
  yes.addEventListener("click", async () => {
    done();
    if (what === "mute") room.media.setMic(false);
    else await room.media.setCamera(false);
    room.syncLocal();
  });
  no.addEventListener("click", done);
  const words = document.createElement("span");
  words.textContent = text;
  box.replaceChildren(words, yes, no);
  box.hidden = false;
  room.announce(text);
  yes.focus();
}

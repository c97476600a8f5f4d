// @ts-check
/**
 * The device and network check, open while one waits in the lobby and from the control bar:
 * camera preview, microphone level, device and speaker choice, a test sound, help when access is
 * refused or a device is busy, and a network check against the server's echo peer
 * (POST /rooms/{id}/echo) that recommends audio only when poor.
 */

import { LocalMedia } from "./media.js";
import { audioContext, tones } from "./sound.js";
import { levelOf } from "./network.js";
import { offerToServer } from "./serverpeer.js";

/** @typedef {import("./room.js").Room} Room */

const PREFERENCE = "mediation-room.audio-only";

/** Audio only chosen before joining: `?audio=only` or the choice kept from the last time. */
export function prefersAudioOnly() {
  if (new URLSearchParams(location.search).get("audio") === "only") return true;
  try {
    return localStorage.getItem(PREFERENCE) === "1";
  } catch {
    return false; // storage refused (private mode, some in-app browsers)
  }
}

/** @param {Room} room */
export function install(room) {
  const { $, t, media } = room;
  const section = $("device-check");
  const toggle = $("settings-button");
  const diag = /** @type {any} */ (window).mediationRoom;
  diag.micLevel = 0;

  function help() {
    const node = $("check-help");
    const trouble = media.trouble;
    node.hidden = !trouble || trouble === "other";
    if (trouble === "denied") node.textContent = t("denied");
    else if (trouble === "busy") node.textContent = t("busy");
    else if (trouble === "none") node.textContent = t("noDevice");
  }

  /** @param {string} id @param {MediaDeviceKind} kind @param {string} current */
  async function fill(id, kind, current) {
    const select = /** @type {HTMLSelectElement} */ ($(id));
    const devices = await LocalMedia.devices(kind);
    const options = devices.map((d, i) => new Option(d.label || `${kind} ${i + 1}`, d.deviceId));
    options.unshift(new Option(t("default"), ""));
    select.replaceChildren(...options);
    select.value = current;
  }

  async function refresh() {
    help();
    const preview = /** @type {HTMLVideoElement} */ ($("check-preview"));
    const source = media.video ? media.camera : null; // (see stage.js: no stream without video)
    if (preview.srcObject !== source) preview.srcObject = source;
    if (source) preview.play().catch(() => {});
    await fill("mic-select", "audioinput", media.micId);
    await fill("camera-select", "videoinput", media.cameraId);
    const sinkable = "setSinkId" in HTMLMediaElement.prototype;
    $("speaker-label").hidden = !sinkable;
    if (sinkable) await fill("speaker-select", "audiooutput", room.speaker);
  }

  /** @type {MediaStreamTrack | null} */
  let metered = null;

  /** Microphone level from an analyser, while the check is open. */
  function meter() {
    const ctx = audioContext();
    if (!ctx || !media.audio || section.hidden || metered === media.audio) return;
    metered = media.audio;
    const source = ctx.createMediaStreamSource(new MediaStream([media.audio]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const bar = /** @type {HTMLMeterElement} */ ($("mic-level"));
    const track = media.audio;
    const tick = () => {
      if (section.hidden || media.audio !== track) {
        metered = null;
        return source.disconnect();
      }
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / samples.length);
      bar.value = diag.micLevel = Math.min(1, rms * 4);
      requestAnimationFrame(tick);
    };
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    tick();
  }

  /** @param {boolean} open */
  function show(open) {
    section.hidden = !open; // the observer below refreshes it
  }

  /** A test sound through the chosen speaker. */
  async function speakerTest() {
    const ctx = audioContext();
    if (!ctx) return;
    await ctx.resume().catch(() => {});
    const out = ctx.createMediaStreamDestination();
    const player = new Audio();
    player.srcObject = out.stream;
    if (room.speaker && "setSinkId" in player) await /** @type {any} */ (player).setSinkId(room.speaker).catch(() => {});
    await player.play().catch(() => {});
    tones(ctx, out, [523, 659, 784]);
    setTimeout(() => player.pause(), 1200);
  }

  toggle.addEventListener("click", () => show(section.hidden));
  $("speaker-test").addEventListener("click", speakerTest);
  $("network-test").addEventListener("click", () => networkCheck(room));
  $("use-audio-only").addEventListener("click", async () => {
    await media.setAudioOnly(true);
    room.syncLocal();
    $("use-audio-only").hidden = true;
  });
  $("mic-select").addEventListener("change", async (e) => {
    await media.chooseMic(/** @type {HTMLSelectElement} */ (e.target).value).catch(() => help());
    room.syncLocal();
    meter();
  });
  $("camera-select").addEventListener("change", async (e) => {
    await media.chooseCamera(/** @type {HTMLSelectElement} */ (e.target).value).catch(() => help());
    room.syncLocal();
  });
  $("speaker-select").addEventListener("change", (e) => {
    room.speaker = /** @type {HTMLSelectElement} */ (e.target).value;
    room.events.dispatchEvent(new CustomEvent("speaker", { detail: room.speaker }));
  });
  room.listen("media-ready", () => {
    if (!section.hidden) refresh().then(meter);
    else help();
  });
  room.store.subscribe((what) => {
    if (what !== "local") return;
    try {
      localStorage.setItem(PREFERENCE, room.store.state.local.audioOnly ? "1" : "0");
    } catch {
      // storage refused: the choice lasts for this page only
    }
  });
  new MutationObserver(() => {
    toggle.setAttribute("aria-expanded", String(!section.hidden));
    if (!section.hidden) refresh().then(meter);
  }).observe(section, { attributes: true, attributeFilter: ["hidden"] });
}

/**
 * Sends our media to the server's echo peer for a few seconds and measures what comes back.
 * @param {Room} room
 * @returns {Promise<{rtt: number, loss: number, kbps: number, level: string} | null>}
 */
export async function networkCheck(room) {
  const { $, t } = room;
  const out = $("network-result");
  out.textContent = t("netChecking");
  const pc = new RTCPeerConnection();
  try {
    for (const track of [room.media.audio, room.media.track("video")]) if (track) pc.addTrack(track);
    if (!room.media.audio) pc.addTransceiver("audio");
    await offerToServer(pc, `/rooms/${room.config.roomId}/echo`);
    await connected(pc);
    const result = await measure(pc, 3000);
    out.textContent = `${t("netResult", result)} ${t(result.level === "poor" ? "netPoor" : "netGood")}`;
    $("use-audio-only").hidden = result.level !== "poor" || room.media.audioOnly;
    /** @type {any} */ (window).mediationRoom.networkCheck = result;
    return result;
  } catch (err) {
    console.warn("network check", err);
    out.textContent = t("netFailed");
    return null;
  } finally {
    pc.close();
  }
}

/** @param {RTCPeerConnection} pc */
function connected(pc) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve(undefined);
      if (pc.connectionState === "failed") reject(new Error("echo connection failed"));
    };
    pc.addEventListener("connectionstatechange", check);
    setTimeout(() => reject(new Error("echo connection timed out")), 10000);
    check();
  });
}

/** @param {RTCPeerConnection} pc @param {number} ms */
async function measure(pc, ms) {
  const bytes = async () => {
    let received = 0;
    (await pc.getStats()).forEach((r) => r.type === "inbound-rtp" && (received += r.bytesReceived || 0));
    return received;
  };
  const before = await bytes();
  await new Promise((r) => setTimeout(r, ms));
  let rtt = 0;
  let lost = 0;
  let sent = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime) rtt = r.currentRoundTripTime;
    if (r.type === "remote-inbound-rtp") lost += Math.max(0, r.packetsLost || 0);
    if (r.type === "outbound-rtp") sent += r.packetsSent || 0;
  });
  const loss = sent ? lost / (sent + lost) : 0;
  const kbps = Math.round(((await bytes()) - before) * 8 / ms);
  return { rtt: Math.round(rtt * 1000), loss: Math.round(loss * 1000) / 10, kbps, level: levelOf(rtt, loss) };
}

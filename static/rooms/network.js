// @ts-check
/**
 * Network quality from getStats on every connection: a level (good, fair, poor) shown on one's
 * tile and sent as `quality`, and the camera paused automatically when the uplink cannot carry
 * video (sound continues), with a message and a way to try again.
 */

/** @typedef {import("./room.js").Room} Room */
/** @typedef {{rtt: number, loss: number, bitrate: number | null, limited: boolean}} Sample */

const EVERY = 2000;
export const PAUSE_BELOW = 120000; // bit/s available for sending: too little for video
const PAUSE_AFTER = 3; // consecutive samples

/** @param {number} rtt seconds @param {number} loss fraction */
export function levelOf(rtt, loss) {
  if (rtt < 0.25 && loss < 0.03) return "good";
  if (rtt < 0.6 && loss < 0.1) return "fair";
  return "poor";
}

/** Whether the last samples say video cannot be carried. @param {Sample[]} recent */
export function shouldPause(recent) {
  if (recent.length < PAUSE_AFTER) return false;
  return recent
    .slice(-PAUSE_AFTER)
    .every((s) => (s.bitrate !== null && s.bitrate < PAUSE_BELOW) || (s.limited && s.loss > 0.1));
}

/** The worst figures over every connection. @param {Iterable<RTCPeerConnection>} pcs @returns {Promise<Sample | null>} */
export async function sample(pcs) {
  /** @type {Sample | null} */
  let worst = null;
  for (const pc of pcs) {
    if (pc.connectionState !== "connected") continue;
    const s = { rtt: 0, loss: 0, bitrate: /** @type {number | null} */ (null), limited: false };
    (await pc.getStats()).forEach((r) => {
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
        s.rtt = r.currentRoundTripTime ?? s.rtt;
        if (typeof r.availableOutgoingBitrate === "number") s.bitrate = r.availableOutgoingBitrate;
      }
      if (r.type === "remote-inbound-rtp" && typeof r.fractionLost === "number") s.loss = Math.max(s.loss, r.fractionLost);
      if (r.type === "outbound-rtp" && r.kind === "video" && r.qualityLimitationReason === "bandwidth") s.limited = true;
    });
    worst = !worst
      ? s
      : {
          rtt: Math.max(worst.rtt, s.rtt),
          loss: Math.max(worst.loss, s.loss),
          bitrate: s.bitrate === null ? worst.bitrate : Math.min(worst.bitrate ?? Infinity, s.bitrate),
          limited: worst.limited || s.limited,
        };
  }
  return worst;
}

/** @param {Room} room */
export function install(room) {
  const { t, media, store } = room;
  /** @type {Sample[]} */
  const recent = [];
  let sent = /** @type {string | null} */ (null);

  async function tick() {
    const s = await sample(room.mesh.pcs.values());
    if (!s) return;
    recent.push(s);
    if (recent.length > 10) recent.shift();
    // The mean of the last three samples: one slow round trip does not flap everyone's tiles.
    const last = recent.slice(-3);
    const mean = (/** @type {(s: Sample) => number} */ f) => last.reduce((sum, x) => sum + f(x), 0) / last.length;
    const level = levelOf(mean((x) => x.rtt), mean((x) => x.loss));
    if (level !== sent && room.send({ type: "quality", level })) sent = level;
    if (store.state.me && store.state.me.quality !== level) {
      store.remember({ ...store.state.me, quality: level });
      store.changed("quality");
    }
    if (!media.paused && media.track("video") && shouldPause(recent)) pause();
  }

  function pause() {
    media.setPaused(true);
    room.syncLocal();
    const box = room.$("room-notice");
    const words = document.createElement("span");
    words.textContent = t("videoPaused");
    const again = document.createElement("button");
    again.type = "button";
    again.className = "try-video";
    again.textContent = t("tryVideo");
    again.addEventListener("click", () => {
      recent.length = 0;
      media.setPaused(false);
      room.syncLocal();
      room.notice("");
    });
    box.replaceChildren(words, again);
    box.hidden = false;
    room.announce(t("videoPaused"));
  }

  room.conn.on("welcome", () => (sent = null)); // a new socket: tell the server again
  setInterval(() => tick().catch((err) => console.warn("stats", err)), EVERY);
}

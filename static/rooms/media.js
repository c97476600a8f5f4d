// @ts-check
/**
 * Local media: microphone, camera (front/back, chosen device), screen, audio-only. Every change
 * of track is reported through `onTrack(slot, track)` so the mesh can swap it on every
 * connection (replaceTrack). No DOM.
 */

/** @typedef {import("./mesh.js").Slot} Slot */
/** @typedef {"denied" | "busy" | "none" | "other"} Trouble */

export const PHONE = /Android|iPhone|iPad|Mobile|MicroMessenger/i.test(navigator.userAgent);

/** Camera constraints: phones send less (their uplinks are the weak ones). */
export function videoConstraints(/** @type {{facing?: string, deviceId?: string}} */ choice, phone = PHONE) {
  /** @type {MediaTrackConstraints} */
  const size = phone
    ? { width: { ideal: 480 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 20 } }
    : { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } };
  if (choice.deviceId) return { ...size, deviceId: { exact: choice.deviceId } };
  return { ...size, facingMode: choice.facing || "user" };
}

/** What went wrong with getUserMedia, in words the page can explain. @param {unknown} err @returns {Trouble} */
export function trouble(err) {
  const name = err instanceof Error || err instanceof DOMException ? err.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") return "busy";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "none";
  return "other";
}

export class LocalMedia {
  /** @param {{onTrack: (slot: Slot, track: MediaStreamTrack | null) => void}} options */
  constructor({ onTrack }) {
    this.onTrack = onTrack;
    /** @type {MediaStreamTrack | null} */ this.audio = null;
    /** @type {MediaStreamTrack | null} */ this.video = null;
    /** @type {MediaStreamTrack | null} */ this.screen = null;
    this.camera = new MediaStream(); // what the local tile shows and what the msid groups
    this.screenStream = new MediaStream();
    this.facing = "user";
    this.micId = "";
    this.cameraId = "";
    this.micOn = true;
    this.cameraOn = true;
    this.audioOnly = false;
    this.paused = false; // video paused for a weak uplink (network.js)
    /** @type {Trouble | null} */ this.trouble = null;
  }

  /** @param {Slot} slot */
  track(slot) {
    if (slot === "audio") return this.audio;
    if (slot === "video") return this.cameraOn && !this.audioOnly && !this.paused ? this.video : null;
    return this.screen;
  }

  /** @param {Slot} slot */
  stream(slot) {
    return slot === "screen" ? this.screenStream : this.camera;
  }

  /** Opens microphone and camera (camera skipped for audio-only); falls back to sound only. */
  async start(audioOnly = false) {
    this.audioOnly = audioOnly;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.trouble = "none";
      return;
    }
    const audio = this.micId ? { deviceId: { exact: this.micId } } : true;
    try {
      const video = audioOnly ? false : videoConstraints({ facing: this.facing, deviceId: this.cameraId });
      this.adopt(await navigator.mediaDevices.getUserMedia({ audio, video }));
      return;
    } catch (err) {
      this.trouble = trouble(err);
      if (audioOnly) return;
    }
    try {
      this.adopt(await navigator.mediaDevices.getUserMedia({ audio }));
    } catch (err) {
      console.warn("microphone unavailable", err);
    }
  }

  /** @param {MediaStream} stream */
  adopt(stream) {
    for (const track of stream.getTracks()) this.put(track.kind === "audio" ? "audio" : "video", track);
  }

  /** Replaces the track of a slot, stops the old one, tells the mesh. @param {Slot} slot @param {MediaStreamTrack | null} track */
  put(slot, track) {
    const old = this[slot];
    if (old && old !== track) {
      old.stop();
      (slot === "screen" ? this.screenStream : this.camera).removeTrack(old);
    }
    this[slot] = track;
    if (track) (slot === "screen" ? this.screenStream : this.camera).addTrack(track);
    if (slot === "audio" && track) track.enabled = this.micOn;
    this.onTrack(slot, this.track(slot));
  }

  /** Mute keeps the track but sends silence. @param {boolean} on */
  setMic(on) {
    this.micOn = on;
    if (this.audio) this.audio.enabled = on;
  }

  /** Camera off releases the camera (its light goes out). @param {boolean} on */
  async setCamera(on) {
    this.cameraOn = on;
    if (!on) {
      this.put("video", null);
      return;
    }
    if (!this.audioOnly) await this.openCamera();
  }

  /** Stops or resumes sending the camera without closing it. @param {boolean} paused */
  setPaused(paused) {
    this.paused = paused;
    this.onTrack("video", this.track("video"));
  }

  /** @param {boolean} on */
  async setAudioOnly(on) {
    this.audioOnly = on;
    if (on) this.put("video", null);
    else if (this.cameraOn) await this.openCamera();
  }

  async openCamera() {
    const video = videoConstraints({ facing: this.facing, deviceId: this.cameraId });
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video });
      this.put("video", stream.getVideoTracks()[0] || null);
      this.trouble = null;
    } catch (err) {
      this.trouble = trouble(err);
      throw err;
    }
  }

  async flipCamera() {
    this.facing = this.facing === "user" ? "environment" : "user";
    this.cameraId = "";
    if (this.video) this.put("video", null); // phones cannot open both cameras at once
    if (this.cameraOn && !this.audioOnly) await this.openCamera();
  }

  /** @param {string} deviceId */
  async chooseCamera(deviceId) {
    this.cameraId = deviceId;
    if (this.cameraOn && !this.audioOnly) await this.openCamera();
  }

  /** @param {string} deviceId */
  async chooseMic(deviceId) {
    this.micId = deviceId;
    const audio = deviceId ? { deviceId: { exact: deviceId } } : true;
    const stream = await navigator.mediaDevices.getUserMedia({ audio });
    this.put("audio", stream.getAudioTracks()[0] || null);
  }

  /** @param {() => void} onEnded called when the browser's own "stop sharing" is used */
  async startScreen(onEnded) {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 10 } });
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail";
    track.addEventListener("ended", () => {
      if (this.screen === track) this.put("screen", null);
      onEnded();
    });
    this.put("screen", track);
  }

  stopScreen() {
    this.put("screen", null);
  }

  stopAll() {
    for (const slot of /** @type {Slot[]} */ (["audio", "video", "screen"])) {
      this[slot]?.stop();
    }
  }

  /** @param {MediaDeviceKind} kind */
  static async devices(kind) {
    if (!navigator.mediaDevices?.enumerateDevices) return [];
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) => d.kind === kind);
  }
}

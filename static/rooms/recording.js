// @ts-check
/**
 * Consented recording of the joint session: each member's consent box, the host's record
 * button, the indicator everyone sees while the server records — and the microphone sent to
 * the server's recording peer (POST /rooms/{id}/recorder).
 *
 * Each member's browser sends its own microphone while the joint session is recorded and it is
 * there (admitted, in `main`, not held) with its consent; the server keeps one file per member.
 * No mixing in the host's browser: the host never receives the voices of a caucus it is not in
 * nor can it be trusted to be in `main` the whole time, while each member's own microphone is
 * exactly that member's voice in the joint session. Leaving `main` (a caucus), withdrawing
 * consent, the recording stopping or the session ending closes the connection at once.
 */

import { offerToServer } from "./serverpeer.js";

/** @typedef {import("./room.js").Room} Room */
/** @typedef {import("./store.js").RoomState} RoomState */

/** Whether this page must send its microphone to the recorder now. @param {RoomState} state */
export function sendsToRecorder(state) {
  const me = state.me;
  return (
    !!state.room.recording &&
    state.consent &&
    !state.ended &&
    state.waitingReason === null &&
    !!me &&
    me.admission === "admitted" &&
    me.subroom === "main"
  );
}

/** @param {Room} room */
export function install(room) {
  const { $, t, store } = room;
  const consent = /** @type {HTMLInputElement} */ ($("consent-box"));
  const record = document.getElementById("record-button");
  const indicator = $("recording-indicator");

  function render() {
    const on = !!store.state.room.recording;
    indicator.hidden = !on;
    $("room").classList.toggle("recording", on);
    if (record) {
      record.textContent = on ? t("stopRecording") : t("startRecording");
      record.setAttribute("aria-pressed", String(on));
      record.hidden = store.state.me?.subroom !== "main";
    }
  }

  consent.addEventListener("change", () => {
    store.state.consent = consent.checked;
    room.send({ type: "consent", recording: consent.checked });
    store.changed("consent");
  });
  record?.addEventListener("click", () => room.send({ type: "record", on: !store.state.room.recording }));
  room.conn.on("recording", (msg) => {
    store.state.room.recording = msg.on;
    const text = msg.on ? t("recordingOn") : t("recordingOff");
    room.notice(text);
    room.announce(text);
    render();
  });
  room.conn.on("welcome", (msg) => {
    consent.checked = !!msg.you.consent;
    store.state.consent = consent.checked;
    render();
  });
  room.conn.on("error", (msg) => {
    if (msg.code === "no-consent") room.notice(t("noConsent"));
  });
  room.quietErrors.add("no-consent");
  store.subscribe(render);
  installSender(room);
}

/** Keeps one connection to the recorder open exactly while `sendsToRecorder`. @param {Room} room */
function installSender(room) {
  const { store } = room;
  /** @type {RTCPeerConnection | null} */
  let pc = null;

  async function open() {
    const peer = new RTCPeerConnection();
    pc = peer;
    const track = room.media.audio;
    if (track) peer.addTransceiver(track, { direction: "sendonly" });
    else peer.addTransceiver("audio", { direction: "sendonly" }); // the microphone joins later
    try {
      await offerToServer(peer, `/rooms/${room.config.roomId}/recorder`);
    } catch (err) {
      console.warn("recorder", err); // refused (the state moved on meanwhile): sync decides
      if (pc === peer) close();
    }
  }

  function close() {
    pc?.close();
    pc = null;
  }

  function sync() {
    const wanted = sendsToRecorder(store.state);
    if (wanted && !pc) open();
    else if (!wanted && pc) close();
    /** @type {any} */ (window).mediationRoom.recorder = pc;
  }

  store.subscribe(sync);
  for (const type of ["recording", "waiting", "admitted", "moved", "ended"]) room.conn.on(type, sync);
  room.conn.on("welcome", () => {
    close(); // a new socket: the server stopped our last recording with the old one, or will
    sync();
  });
  room.listen("local-track", (/** @type {{slot: string, track: MediaStreamTrack | null}} */ d) => {
    if (d.slot !== "audio" || !pc) return;
    const sender = pc.getSenders()[0];
    if (sender) sender.replaceTrack(d.track);
  });
}

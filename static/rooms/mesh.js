// @ts-check
/**
 * The browser mesh: one RTCPeerConnection per remote member, "perfect negotiation" (the member
 * with the higher id is polite). No DOM.
 *
 * Every connection carries three transceivers in a fixed order — microphone, camera, screen —
 * created by the offerer and adopted by the answerer, always "sendrecv". Muting, turning the
 * camera off, switching devices or sharing the screen only swap a sender's track
 * (replaceTrack): no renegotiation, and the receiver knows a track's role by its position.
 */

/** @typedef {"audio" | "video" | "screen"} Slot */
/** @typedef {{id: number, session: string | null}} Remote */
/**
 * @typedef {{id: number, session: string | null, pc: RTCPeerConnection, polite: boolean,
 *   makingOffer: boolean, ignoreOffer: boolean, settingAnswer: boolean, adopted: boolean,
 *   remoteOrigin: string | null, chain: Promise<void>, started: number,
 *   rebuild: ReturnType<typeof setTimeout> | undefined}} Peer
 */
/**
 * @typedef {{send: (msg: Record<string, unknown>) => void, me: () => number,
 *   iceServers: () => RTCIceServer[], track: (slot: Slot) => MediaStreamTrack | null,
 *   stream: (slot: Slot) => MediaStream,
 *   onTrack?: (id: number, slot: Slot, track: MediaStreamTrack) => void,
 *   onState?: (id: number, state: RTCPeerConnectionState) => void,
 *   onPeer?: (id: number, pc: RTCPeerConnection) => void,
 *   onClosed?: (id: number) => void, relayOnly?: () => boolean}} MeshOptions
 */

export const SLOTS = /** @type {Slot[]} */ (["audio", "video", "screen"]);
const KIND = { audio: "audio", video: "video", screen: "video" };
const REBUILD_AFTER = 10000; // not connected by then (or ICE restart did not help): a new one

/** The session id of an SDP's origin line: it changes only with a new peer connection. */
export function sdpOrigin(/** @type {string} */ sdp) {
  const match = /^o=\S+ (\d+)/m.exec(sdp || "");
  return match ? match[1] : null;
}

/** The slot of a transceiver: its position on the connection. */
export function slotOf(/** @type {RTCPeerConnection} */ pc, /** @type {RTCRtpTransceiver} */ t) {
  return SLOTS[pc.getTransceivers().indexOf(t)] || null;
}

export class Mesh {
  /** @param {MeshOptions} options */
  constructor(options) {
    this.o = options;
    /** @type {Map<number, Peer>} */
    this.peers = new Map();
    /** @type {Map<number, RTCPeerConnection>} id → connection (what tests and stats read) */
    this.pcs = new Map();
    this.rebuilt = 0; // connections replaced after ICE failed (diagnostics)
    /** @type {{pc: RTCPeerConnection, ready: boolean} | null} */
    this.spare = null;
    this.fromSpare = 0; // calls that sent an offer prepared in the lobby (diagnostics)
  }

  /** Calls a member (we offer). @param {Remote} member */
  call(member) {
    const peer = this.peers.get(member.id);
    if (peer && peer.session === member.session) return peer;
    const spare = this.takeSpare();
    if (!spare) return this.create(member, true);
    this.fromSpare += 1;
    const ready = this.create(member, true, spare);
    this.sendDescription(ready); // the offer made in the lobby, its candidates included
    return ready;
  }

  /**
   * Readies a connection and its offer while we wait in the lobby, before anyone is known: the
   * offer (≈ 50 ms in Chromium) and the gathering of candidates are then off the path from
   * admission to the first frame. The first `call` after admission takes it.
   */
  prepare() {
    if (this.spare) return;
    const pc = this.connection();
    this.addTransceivers(pc);
    const spare = { pc, ready: false };
    this.spare = spare;
    pc.setLocalDescription().then(
      () => (spare.ready = true),
      (err) => console.warn("spare offer", err),
    );
  }

  /** The spare connection if its offer is made (else it is dropped: a fresh one is as quick). */
  takeSpare() {
    const spare = this.spare;
    this.spare = null;
    if (spare && spare.ready && spare.pc.signalingState === "have-local-offer") return spare.pc;
    spare?.pc.close();
    return null;
  }

  connection() {
    return new RTCPeerConnection({
      iceServers: this.o.iceServers(),
      iceTransportPolicy: this.o.relayOnly?.() ? "relay" : "all", // relay: only through TURN
    });
  }

  /** The offerer's transceivers, in slot order. @param {RTCPeerConnection} pc */
  addTransceivers(pc) {
    for (const slot of SLOTS) {
      const track = this.o.track(slot);
      const init = { direction: /** @type {const} */ ("sendrecv"), streams: [this.o.stream(slot)] };
      pc.addTransceiver(track || KIND[slot], init);
    }
  }

  /** @param {Remote} member @param {boolean} offer @param {RTCPeerConnection | null} [ready] a spare */
  create(member, offer, ready = null) {
    this.drop(member.id);
    const pc = ready || this.connection();
    /** @type {Peer} */
    const peer = {
      ...{ id: member.id, session: member.session, pc, polite: this.o.me() > member.id },
      ...{ makingOffer: false, ignoreOffer: false, settingAnswer: false, adopted: offer },
      ...{ remoteOrigin: null, chain: Promise.resolve(), started: performance.now() },
      rebuild: undefined,
    };
    this.peers.set(member.id, peer);
    this.pcs.set(member.id, pc);
    this.wire(peer);
    this.watch(peer);
    if (offer && !ready) this.addTransceivers(pc);
    this.o.onPeer?.(member.id, pc);
    return peer;
  }

  /** @param {Peer} peer */
  wire(peer) {
    const { pc, id } = peer;
    pc.ontrack = ({ track, transceiver }) => {
      const slot = slotOf(pc, transceiver);
      if (slot) this.o.onTrack?.(id, slot, track);
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.o.send({ type: "signal", to: id, candidate: candidate.toJSON() });
    };
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.sendDescription(peer);
      } catch (err) {
        console.warn("negotiation failed", err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => this.stateChanged(peer);
  }

  /** @param {Peer} peer */
  sendDescription(peer) {
    const description = peer.pc.localDescription;
    if (description) this.o.send({ type: "signal", to: peer.id, description: description.toJSON() });
  }

  /** ICE failed: the impolite side restarts ICE, then rebuilds this pair's connection only. */
  stateChanged(/** @type {Peer} */ peer) {
    const state = peer.pc.connectionState;
    this.o.onState?.(peer.id, state);
    if (state === "connected") {
      clearTimeout(peer.rebuild);
      peer.rebuild = undefined;
    }
    if (state !== "failed" || peer.polite) return;
    peer.pc.restartIce();
    this.watch(peer);
  }

  /**
   * Rebuilds the connection if it is not connected in time. Also armed at creation: a
   * connection whose candidates were lost (sent while a move was under way, say) sits in
   * "checking" for ever instead of failing. Only the impolite side acts.
   * @param {Peer} peer
   */
  watch(peer) {
    clearTimeout(peer.rebuild);
    if (peer.polite) return;
    peer.rebuild = setTimeout(() => {
      if (this.peers.get(peer.id) !== peer || peer.pc.connectionState === "connected") return;
      this.rebuild(peer.id);
    }, REBUILD_AFTER);
  }

  /**
   * A new connection to this member only, the others untouched; we offer, and the other side
   * sees a new SDP origin and starts over as answerer. @param {number} id
   */
  rebuild(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.rebuilt += 1;
    this.create({ id, session: peer.session }, true);
  }

  /** A relayed `signal`. @param {{from: Remote, description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} msg */
  signal(msg) {
    const from = msg.from;
    let peer = this.peers.get(from.id);
    if (!peer || peer.session !== from.session) peer = this.create(from, false);
    const current = peer;
    peer.chain = peer.chain
      .then(() => this.apply(current, msg))
      .catch((err) => console.warn("signal", err));
  }

  /** @param {Peer} peer @param {{from: Remote, description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} msg */
  async apply(peer, msg) {
    if (this.peers.get(peer.id) !== peer) return;
    const description = msg.description;
    if (description) {
      const origin = sdpOrigin(description.sdp || "");
      if (description.type === "offer" && this.isNewConnection(peer, origin)) {
        peer = this.create(msg.from, false); // the other side rebuilt its connection
      }
      await this.describe(peer, description, origin);
    } else if (msg.candidate) {
      try {
        await peer.pc.addIceCandidate(msg.candidate);
      } catch (err) {
        if (!peer.ignoreOffer) throw err;
      }
    }
  }

  /** @param {Peer} peer @param {string | null} origin */
  isNewConnection(peer, origin) {
    if (peer.remoteOrigin !== null) return origin !== peer.remoteOrigin;
    // An offer collision before anything was exchanged: the polite side starts over as answerer.
    const colliding = peer.makingOffer || peer.pc.signalingState !== "stable";
    return peer.polite && colliding;
  }

  /** @param {Peer} peer @param {RTCSessionDescriptionInit} description @param {string | null} origin */
  async describe(peer, description, origin) {
    const pc = peer.pc;
    const ready = !peer.makingOffer && (pc.signalingState === "stable" || peer.settingAnswer);
    const collision = description.type === "offer" && !ready;
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    peer.settingAnswer = description.type === "answer";
    await pc.setRemoteDescription(description);
    peer.settingAnswer = false;
    peer.remoteOrigin = origin;
    if (description.type !== "offer") return;
    // The answer does not wait for our tracks: directions and streams are set at once, the
    // tracks follow on the connection's own queue.
    const adopting = peer.adopted ? null : this.adopt(peer);
    await pc.setLocalDescription();
    this.sendDescription(peer);
    await adopting;
  }

  /** The answerer puts its tracks on the offerer's transceivers. @param {Peer} peer */
  adopt(peer) {
    peer.adopted = true;
    const transceivers = peer.pc.getTransceivers();
    return Promise.all(
      SLOTS.map((slot, i) => {
        const t = transceivers[i];
        if (!t) return undefined;
        t.direction = "sendrecv";
        t.sender.setStreams?.(this.o.stream(slot));
        return t.sender.replaceTrack(this.o.track(slot));
      }),
    );
  }

  /** Puts a new local track (or none) on every connection. @param {Slot} slot @param {MediaStreamTrack | null} track */
  async setTrack(slot, track) {
    const index = SLOTS.indexOf(slot);
    const jobs = [];
    const offered = [...this.peers.values()].filter((peer) => peer.adopted).map((peer) => peer.pc);
    for (const pc of this.spare ? [...offered, this.spare.pc] : offered) {
      const t = pc.getTransceivers()[index];
      if (t && t.sender.track !== track) jobs.push(t.sender.replaceTrack(track));
    }
    await Promise.allSettled(jobs);
  }

  /** Caps our camera's bitrate on every connection (weak networks). @param {number | null} bps */
  async limitVideo(bps) {
    const jobs = [];
    for (const peer of this.peers.values()) {
      const sender = peer.pc.getTransceivers()[1]?.sender;
      if (!sender) continue;
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) continue;
      for (const encoding of params.encodings) {
        if (bps) encoding.maxBitrate = bps;
        else delete encoding.maxBitrate;
      }
      jobs.push(sender.setParameters(params));
    }
    await Promise.allSettled(jobs);
  }

  /** @param {number} id */
  drop(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    clearTimeout(peer.rebuild);
    peer.pc.close();
    this.peers.delete(id);
    this.pcs.delete(id);
    this.o.onClosed?.(id);
  }

  /** Keeps only the listed members' connections. @param {Set<number>} keep */
  keepOnly(keep) {
    for (const id of [...this.peers.keys()]) if (!keep.has(id)) this.drop(id);
  }

  /** Closes every connection, the spare too (a new session may bring other ICE servers). */
  dropAll() {
    this.keepOnly(new Set());
    this.spare?.pc.close();
    this.spare = null;
  }
}

// @ts-check
/** The room's shared state and a change signal. No DOM: feature modules read it and subscribe. */

/** @typedef {{audio: boolean, video: boolean, screen: boolean}} Media */
/**
 * @typedef {{id: number, role: string, name: string, admission: string, subroom: string,
 *   online: boolean, session: string | null, media?: Media, audioOnly?: boolean, hand?: boolean,
 *   quality?: "good" | "fair" | "poor" | null, consent?: boolean}} Member
 */
/**
 * @typedef {{me: Member | null, room: {id?: number, state: string, recording?: boolean,
 *   opensAt?: string | null}, members: Map<number, Member>, directory: Map<number, Member>,
 *   waitingReason: string | null, local: Media & {audioOnly: boolean, hand: boolean},
 *   consent: boolean, ended: boolean}} RoomState
 */

export const HOST_ROLES = ["mediator", "coordinator"];

/** @param {Member | null | undefined} member */
export function isHost(member) {
  return !!member && HOST_ROLES.includes(member.role);
}

/**
 * Whether the member we know (`known`) is a newer session than the one a message is about.
 * @param {Member | undefined} known @param {Member} about
 */
export function supersedes(known, about) {
  return !!known && !!known.session && !!about.session && known.session !== about.session;
}

export function createStore() {
  /** @type {Set<(what: string) => void>} */
  const listeners = new Set();
  /** @type {RoomState} */
  const state = {
    me: null,
    room: { state: "open", recording: false, opensAt: null },
    members: new Map(), // the members this page may see now (same sub-room)
    directory: new Map(), // every member this page has heard of, with its last known sub-room
    waitingReason: null,
    local: { audio: true, video: true, screen: false, audioOnly: false, hand: false },
    consent: false,
    ended: false,
  };
  return {
    state,
    /** @param {(what: string) => void} fn */
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** @param {string} what */
    changed(what) {
      for (const fn of listeners) fn(what);
    },
    /**
     * Whether a `member-left` is about a session already replaced by the one we know (a late
     * departure of the member's previous socket): then it must not remove the member.
     * @param {Member} member
     */
    superseded(member) {
      return supersedes(state.members.get(member.id), member);
    },
    /** Records what the server says about a member, wherever it is. @param {Member} member */
    remember(member) {
      state.directory.set(member.id, { ...state.directory.get(member.id), ...member });
      if (state.members.has(member.id)) state.members.set(member.id, member);
      if (state.me && member.id === state.me.id) state.me = member;
    },
  };
}

/** @typedef {ReturnType<typeof createStore>} Store */

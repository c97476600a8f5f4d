// @ts-check
/**
 * The signaling socket (rooms/PROTOCOL.md): joins on every open, dispatches each server message
 * to the callbacks registered for its type, reconnects with backoff. No DOM.
 */

/** @typedef {{type: string, [key: string]: any}} Message */
/** @typedef {(msg: Message) => void} Handler */
/** @typedef {"connecting" | "reconnecting" | "open" | "closed"} Status */

export const FIRST_DELAY = 500;
export const MAX_DELAY = 10000;
const HEARTBEAT = 5000; // a cut network leaves the socket "open": we ping and expect an answer
const SILENCE = 12000;

/** Exponential backoff with jitter. @param {number} attempt @param {() => number} random */
export function backoffDelay(attempt, random = Math.random) {
  return Math.min(MAX_DELAY, FIRST_DELAY * 2 ** attempt) * (0.5 + random() / 2);
}

export class Connection {
  /**
   * @param {{url: string, finalCodes: number[],
   *   onStatus?: (status: Status, code?: number) => void}} options
   */
  constructor({ url, finalCodes, onStatus = () => {} }) {
    this.url = url;
    this.final = new Set(finalCodes);
    this.onStatus = onStatus;
    /** @type {Map<string, Handler[]>} */
    this.handlers = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.lastHeard = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retry = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.beat = undefined;
    this.opens = 0; // sockets opened so far (diagnostics)
  }

  /** Registers a callback for a server message type. @param {string} type @param {Handler} fn */
  on(type, fn) {
    const list = this.handlers.get(type) || [];
    list.push(fn);
    this.handlers.set(type, list);
    return this;
  }

  handledTypes() {
    return [...this.handlers.keys()];
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** @param {Record<string, unknown>} message */
  send(message) {
    if (!this.open || !this.socket) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  start() {
    clearTimeout(this.retry);
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.onStatus(this.attempt ? "reconnecting" : "connecting");
    socket.onopen = () => {
      this.opens += 1;
      this.lastHeard = Date.now();
      socket.send(JSON.stringify({ type: "join" }));
    };
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event.code);
    clearInterval(this.beat);
    this.beat = setInterval(() => this.heartbeat(socket), HEARTBEAT);
  }

  /** @param {WebSocket} socket @param {unknown} data */
  receive(socket, data) {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    /** @type {Message} */
    let msg;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return;
    }
    if (msg.type === "welcome") {
      this.attempt = 0;
      this.onStatus("open");
    }
    for (const fn of this.handlers.get(msg.type) || []) {
      try {
        fn(msg);
      } catch (err) {
        console.error(`handling ${msg.type}`, err);
      }
    }
  }

  /** @param {WebSocket} socket */
  heartbeat(socket) {
    if (socket !== this.socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE) {
      this.cut(); // no answer to our pings: the network is gone, the socket only looks open
      return;
    }
    socket.send(JSON.stringify({ type: "ping" }));
  }

  /** Abandons the current socket and reconnects (network lost, or back online). */
  cut() {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    socket.onclose = null;
    socket.close();
    this.closed(socket, 1006);
  }

  /** Reconnects at once (the browser is back online). */
  now() {
    if (this.stopped) return;
    this.attempt = 0;
    if (!this.open) {
      if (this.socket) this.cut();
      else this.start();
    }
  }

  /** @param {WebSocket} socket @param {number} code */
  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    clearInterval(this.beat);
    if (this.stopped) return;
    if (this.final.has(code)) {
      this.stopped = true;
      this.onStatus("closed", code);
      return;
    }
    this.onStatus("reconnecting", code);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retry = setTimeout(() => this.start(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.beat);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}

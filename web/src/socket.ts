// The WebSocket half of the protocol: one connection at a time, reconnected
// with exponential backoff and jitter, with a heartbeat that notices a
// connection which went silent. It knows nothing of messages: frames go to
// `onFrame`, state changes to `onState`.

import type { ClientFrame, ServerFrame } from './types';

export type ConnState = 'connecting' | 'online' | 'offline';

export interface SocketEvents {
  onFrame(frame: ServerFrame): void;
  onState(state: ConnState): void;
  /** Called after a failed attempt; may decide the token is bad. */
  onFailure?(attempt: number): void;
}

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 5000;
const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000;

export class Socket {
  state: ConnState = 'offline';
  /** When the next attempt is due while offline (ms since epoch), else 0. */
  retryAt = 0;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private stopped = true;

  constructor(
    private readonly url: () => string,
    private readonly events: SocketEvents,
  ) {}

  start(): void {
    this.stopped = false;
    window.addEventListener('online', this.retryNow);
    document.addEventListener('visibilitychange', this.onVisible);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.retryNow);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'bye');
    this.setState('offline');
  }

  /** Sends a frame if the connection is up; false when it is not. */
  send(frame: ClientFrame): boolean {
    if (this.state !== 'online' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Skips the wait of the backoff (the "retry now" button, the browser going online). */
  retryNow = (): void => {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  };

  private onVisible = (): void => {
    if (document.visibilityState === 'visible') this.retryNow();
  };

  private open(): void {
    this.retryAt = 0;
    this.setState('connecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (frame.type === 'hello') {
        this.attempt = 0;
        this.setState('online');
        this.startHeartbeat(ws);
      }
      this.events.onFrame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (!opened) this.events.onFailure?.(this.attempt + 1);
      this.scheduleRetry();
    };
  }

  private startHeartbeat(ws: WebSocket): void {
    clearInterval(this.pingTimer);
    this.lastHeard = Date.now();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        ws.close(4000, 'silent');
        // onclose may come late on a dead network; do not wait for it.
        ws.onclose?.(new CloseEvent('close'));
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping' }));
    }, PING_EVERY_MS);
  }

  private scheduleRetry(): void {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState('offline');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private setState(state: ConnState): void {
    if (this.state === state) return;
    this.state = state;
    this.events.onState(state);
  }
}

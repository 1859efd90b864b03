// Fakes for the browser pieces the queue and transport use: one origin's localStorage
// (shared by the "tabs" of a test), Web Locks, timers and WebSockets.
import { store } from '../src/storage.js';
import { queue } from '../src/queue.js';
import { tabs } from '../src/tabs.js';
import { transport } from '../src/transport.js';

// localStorage: quota in characters (keys + values), like browsers count it.
export class FakeStorage {
  constructor(quota = Infinity) {
    this.m = new Map();
    this.quota = quota;
  }
  get length() { return this.m.size; }
  key(i) { return [...this.m.keys()][i] ?? null; }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) {
    let used = 0;
    for (const [a, b] of this.m) if (a !== k) used += a.length + b.length;
    if (used + k.length + String(v).length > this.quota) {
      const e = new Error('quota exceeded');
      e.name = 'QuotaExceededError';
      throw e;
    }
    this.m.set(k, String(v));
  }
  removeItem(k) { this.m.delete(k); }
  queued() { return [...this.m.keys()].filter((k) => k.startsWith('ck:q:')); }
}

export class FakeTimers {
  constructor() {
    this.now = 0;
    this.due = new Map();
    this.n = 0;
  }
  setTimeout = (fn, ms) => {
    this.due.set(++this.n, { fn, at: this.now + (ms || 0) });
    return this.n;
  };
  clearTimeout = (id) => this.due.delete(id);
  tick(ms) {
    const end = this.now + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.due) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
      if (!next) break;
      this.due.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

// Web Locks: exclusive, granted in request order, released when the callback's promise
// settles or when the page holding it dies.
export class FakeLocks {
  constructor() {
    this.holder = new Map(); // name -> page
    this.waiting = []; // {page, name, cb}
  }
  for(page) {
    return { request: (name, opts, cb) => this.request(page, name, opts, cb) };
  }
  async request(page, name, opts, cb) {
    await null;
    if (this.holder.has(name)) {
      if (opts.ifAvailable) return cb(null);
      this.waiting.push({ page, name, cb });
      return;
    }
    this.grant(page, name, cb);
  }
  grant(page, name, cb) {
    this.holder.set(name, page);
    Promise.resolve(cb({ name })).then(() => this.free(name, page));
  }
  free(name, page) {
    if (this.holder.get(name) !== page) return;
    this.holder.delete(name);
    const i = this.waiting.findIndex((w) => w.name === name);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      this.grant(w.page, w.name, w.cb);
    }
  }
  kill(page) {
    this.waiting = this.waiting.filter((w) => w.page !== page);
    for (const [name, p] of [...this.holder]) if (p === page) this.free(name, page);
  }
}

export class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
  }
  open() {
    this.readyState = 1;
    this.onopen && this.onopen();
  }
  send(raw) { this.sent.push(JSON.parse(raw)); }
  reply(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
  ack(batch, more = {}) {
    this.reply({ id: batch.id, accepted: batch.events.length, duplicates: 0, rejected: [], ...more });
  }
  close(code = 1005) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose && this.onclose({ code });
  }
}

export const flush = () => new Promise((r) => setTimeout(r, 0));

let pages = 0;
// One page of the origin: storage, ownership, queue and transport wired as index.js does.
export const page = ({ storage, locks, timers = new FakeTimers(), now, max = 40,
  fetch = () => new Promise(() => {}),
  key = 'k', ws = true } = {}) => {
  const name = 'page' + ++pages;
  const socks = [];
  const WS = ws && class extends FakeSocket {
    constructor(url) {
      super(url);
      socks.push(this);
    }
  };
  let ids = 0;
  const LS = store(() => storage);
  const counts = { made: 0, accepted: 0, duplicates: 0, rejected: 0, dropped: 0 };
  const acked = [];
  const log = { warn: () => {}, error: () => {} };
  const p = { name, LS, counts, acked, timers };
  const pump = () => {
    p.tabs.scan(p.queue.ids());
    p.net.pump();
  };
  p.tabs = tabs({ store: LS, locks: locks && locks.for(name), now: now || (() => timers.now),
    newId: () => `${name}-${++ids}`, onOwn: pump });
  p.queue = queue({ store: LS, tabs: p.tabs, counts, max, timers, onSeal: pump, warn: log.warn });
  p.net = transport({ queue: p.queue, counts, endpoint: 'http://c.test', key, off: () => false,
    random: () => 0.5, WS, fetch, timers, log, onAck: (events) => acked.push(...events) });
  p.tabs.start();
  let n = 0;
  p.add = (count = 1) => {
    const mids = [];
    for (let i = 0; i < count; i++) {
      const ev = { eid: 'INTERACT', mid: `${name}:${++n}`, edata: { type: 'CLICK', id: 'b' },
        context: { sid: 's' } };
      counts.made++;
      p.queue.add(ev);
      mids.push(ev.mid);
    }
    return mids;
  };
  p.socks = socks;
  p.sock = () => socks.filter((s) => s.readyState !== 3).at(-1);
  p.pump = pump;
  return p;
};

// The persistent queue: every event is written to storage, in a batch, before anything is
// sent. The open batch collects events for up to BATCH_MS or BATCH_EVENTS; once sealed a
// batch never changes, and it leaves storage only when its owner saw it acked (or had to
// drop it, counted). Keys: ck:q:<queue id>:<batch id>; batch ids begin with the time.
import { parse, uuid } from './storage.js';

export const Q = 'ck:q:';
export const BATCH_EVENTS = 25;
export const BATCH_MS = 250;

export const ownerOf = (k) => {
  const p = k.slice(Q.length).split(':');
  return p.length > 1 ? p[0] : ''; // '' = a key of a tracker before queue ids
};
const age = (k) => k.slice(k.lastIndexOf(':') + 1);

export const queue = ({ store, tabs, counts, max = 40, timers = globalThis, onSeal, warn }) => {
  let open = null; // {key, batch}: the batch still collecting events
  let timer = 0;
  let last = 0;

  const fresh = (events) => {
    last = Math.max(Date.now(), last + 1); // this page's batches sort in the order made
    const id = last.toString(36) + '-' + uuid().slice(0, 8);
    return { key: Q + tabs.id() + ':' + id, batch: { id, events } };
  };
  // Every batch of the ids this page owns, oldest first (the open one included).
  const mine = () => store.keys(Q).filter((k) => tabs.owns(ownerOf(k)))
    .sort((a, b) => (age(a) < age(b) ? -1 : 1));
  const lost = (n) => {
    counts.dropped += n;
    store.put('ck:dropped', '' + ((+store.get('ck:dropped') || 0) + n));
    warn(`[ck] offline queue full: dropped ${n} unsent events`);
  };
  // The batch leaves the queue; its events are returned.
  const take = (k) => {
    const b = parse(store.get(k));
    store.del(k);
    return (b && b.events) || [];
  };
  // Write a batch; over the bound, this page's oldest batches make room.
  const write = (o) => {
    for (;;) {
      const others = mine().filter((k) => k !== o.key);
      if (others.length < max) return store.put(o.key, JSON.stringify(o.batch));
      lost(take(others[0]).length);
    }
  };
  const seal = () => {
    timers.clearTimeout(timer);
    timer = 0;
    open = null;
    onSeal();
  };

  return {
    mine,
    take,
    seal,
    read: (k) => store.get(k),
    add: (ev) => {
      // A page that moved to a new queue id takes its open batch along (see tabs.js).
      if (!open || ownerOf(open.key) !== tabs.id()) open = fresh(open ? open.batch.events : []);
      open.batch.events.push(ev);
      write(open);
      if (open.batch.events.length >= BATCH_EVENTS) seal();
      else if (!timer) timer = timers.setTimeout(seal, BATCH_MS);
    },
    // Sealed batches this page may send.
    ready: () => mine().filter((k) => !open || k !== open.key),
    // Queue ids with batches in storage (the ones to adopt are among them).
    ids: () => new Set(store.keys(Q).map(ownerOf)),
    // Too large for the collector: the halves become two new batches. Returns the number
    // of events that cannot go at all (a single event over the limit), 0 otherwise.
    split: (k) => {
      const b = parse(store.get(k));
      const ev = (b && b.events) || [];
      if (ev.length > 1) {
        write(fresh(ev.slice(0, ev.length >> 1)));
        write(fresh(ev.slice(ev.length >> 1)));
      }
      store.del(k);
      return ev.length > 1 ? 0 : ev.length;
    },
    clear: () => {
      for (const k of store.keys(Q)) store.del(k);
      open = null;
    },
  };
};

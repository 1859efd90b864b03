// Which page may send which queued batches, with any number of tabs on one origin.
//
// Every page (each load of a document) has its own queue id, and a batch key names it:
// ck:q:<queue id>:<batch id>. A page sends only the batches of ids it owns: its own, and
// those of pages that are gone, which it adopts. Only the owner deletes a batch, after
// the collector acked it, so no tab can delete a batch another is still filling.
//
// With Web Locks a page holds the lock ck:tab:<id> while it lives and waits for the lock
// of every other id it has seen for YOUNG_MS (a new page asks for its own lock before it
// writes, and that request must be first): the browser grants it only when that page is
// gone (closed, crashed, reloaded), which proves it will never write to its queue again.
// An adopted id stays with its adopter for good, so a write of the dead page that reaches
// this tab late still has an owner; when the adopter goes, the next waiting page gets it.
// Without them (pages served over plain http) a lease stands in: ck:l:<id> = "<holder> <ms>", renewed
// every BEAT_MS while the holder lives, removed on pagehide; an id whose lease is missing
// or older than LEASE_MS is adopted. A page whose own lease was taken (it slept longer than
// the lease) moves to a new id; its open batch moves with it, and what the adopter also
// sends is de-duplicated by mid.
export const LEASE_MS = 180000;
export const BEAT_MS = 10000;
export const YOUNG_MS = 2000;
const L = 'ck:l:';

export const tabs = ({ store, locks, now = Date.now, newId, onOwn }) => {
  const owned = new Set();
  let asked = new Set(); // ids whose lock this page has asked for
  const held = {}; // id -> releases its lock
  const seen = {}; // id -> when this page first saw it
  let me = '';

  const own = (id) => {
    owned.add(id);
    onOwn();
  };
  const lease = (id) => store.put(L + id, me + ' ' + now());
  const hold = (id, ifAvailable, got) => {
    asked.add(id);
    locks.request('ck:tab:' + id, { ifAvailable }, (lock) => {
      if (!lock) return got(0);
      got(1);
      return new Promise((release) => (held[id] = release));
    }).catch(() => {});
  };
  const free = (id) => {
    owned.delete(id);
    if (held[id]) held[id]();
    else if (!locks && (store.get(L + id) || '').split(' ')[0] === me) store.del(L + id);
    delete held[id];
  };

  const start = () => {
    me = newId();
    if (!locks) {
      lease(me);
      own(me);
    } else {
      // A fresh random id is free unless another page adopted it already: then draw again.
      hold(me, true, (ok) => (ok ? own(me) : start()));
    }
  };

  return {
    start,
    id: () => me,
    owns: (id) => owned.has(id),
    // Adopt what pages that are gone left behind: ids = queue ids seen in storage.
    scan: (ids) => {
      for (const id of ids) {
        if (owned.has(id) || (locks && asked.has(id))) continue;
        if (locks) {
          seen[id] ??= now();
          if (now() - seen[id] >= YOUNG_MS) hold(id, false, (ok) => ok && own(id));
        } else {
          const [who, t] = (store.get(L + id) || '').split(' ');
          if (!who || now() - t > LEASE_MS) {
            lease(id);
            own(id);
          }
        }
      }
    },
    // Lease mode, periodically, with the ids that still have batches: renew the leases,
    // notice one another page took, and let go of adopted ids that are empty (their lease
    // goes, so whoever sees a late batch of theirs adopts it).
    beat: (busy) => {
      for (const id of locks ? [] : [...owned]) {
        if ((store.get(L + id) || me).split(' ')[0] !== me) {
          owned.delete(id);
          if (id === me) start();
        } else if (id !== me && !busy.has(id)) {
          free(id);
        } else {
          lease(id);
        }
      }
    },
    // pagehide: everything this page owns becomes adoptable at once.
    release: () => {
      for (const id of [...owned]) free(id);
      asked = new Set();
    },
  };
};

// The persistent queue with several tabs of one origin: ownership, adoption, quota, drops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeLocks, FakeStorage, FakeTimers, flush, page } from './fakes.js';
import { LEASE_MS, YOUNG_MS } from '../src/tabs.js';
import { ownerOf } from '../src/queue.js';

const events = (storage, key) => JSON.parse(storage.getItem(key)).events.map((e) => e.mid);

for (const mode of ['locks', 'lease']) {
  const setup = () => {
    const storage = new FakeStorage();
    const locks = mode === 'locks' ? new FakeLocks() : undefined;
    const timers = new FakeTimers();
    return { storage, locks, timers, tab: () => page({ storage, locks, timers, ws: false }) };
  };

  test(`${mode}: a tab sends only its own batches, never the open one`, async () => {
    const { storage, tab } = setup();
    const a = tab();
    const b = tab();
    await flush();
    a.add(3);
    b.add(2);
    assert.deepEqual(a.queue.ready(), [], 'the open batch is not sendable');
    a.queue.seal();
    b.queue.seal();
    const [ka] = a.queue.ready();
    const [kb] = b.queue.ready();
    assert.equal(a.queue.ready().length, 1);
    assert.equal(b.queue.ready().length, 1);
    assert.notEqual(ka, kb);
    assert.equal(ownerOf(ka), a.tabs.id());
    assert.equal(storage.queued().length, 2);
    // Both tabs' scans leave the other's (live) queue alone.
    a.pump();
    b.pump();
    await flush();
    assert.deepEqual(a.queue.ready(), [ka]);
    assert.deepEqual(b.queue.ready(), [kb]);
  });

  test(`${mode}: a sealed batch never changes; later events go to a new batch`, async () => {
    const { storage, tab, timers } = setup();
    const a = tab();
    await flush();
    const first = a.add(2);
    timers.tick(250); // sealed by time
    const [sealed] = a.queue.ready();
    const before = storage.getItem(sealed);
    const second = a.add(30); // 25 seal a batch at once, 5 stay open
    assert.equal(storage.getItem(sealed), before);
    assert.deepEqual(events(storage, sealed), first);
    const all = storage.queued().flatMap((k) => events(storage, k));
    assert.deepEqual(all.sort(), [...first, ...second].sort());
    assert.equal(a.queue.ready().length, 2);
  });

  test(`${mode}: the batches of a tab that is gone are adopted, the open one included`, async () => {
    const { storage, locks, tab, timers } = setup();
    const a = tab();
    const b = tab();
    await flush();
    const sealed = a.add(25);
    const open = a.add(3);
    b.pump();
    await flush();
    assert.deepEqual(b.queue.ready(), [], 'a live tab is not adopted');
    // a crashes: no pagehide, its lock goes with it, its lease stops being renewed
    if (locks) locks.kill(a.name);
    timers.tick(LEASE_MS + 1);
    b.pump();
    await flush();
    const adopted = b.queue.ready();
    assert.equal(adopted.length, 2);
    assert.deepEqual(adopted.flatMap((k) => events(storage, k)).sort(), [...sealed, ...open].sort());
    assert.ok(adopted.every((k) => ownerOf(k) === a.tabs.id()), 'adopted in place, not copied');
  });

  test(`${mode}: a closed tab (pagehide) is adopted by the next page`, async () => {
    const { storage, locks, tab, timers } = setup();
    const a = tab();
    await flush();
    const mids = a.add(4);
    a.queue.seal();
    a.tabs.release();
    if (locks) locks.kill(a.name);
    const next = tab();
    await flush();
    next.pump();
    await flush();
    if (locks) {
      assert.deepEqual(next.queue.ready(), [], 'an id seen for the first time is left alone');
      timers.tick(YOUNG_MS);
      next.pump();
      await flush();
    }
    assert.deepEqual(next.queue.ready().flatMap((k) => events(storage, k)), mids);
  });

  test(`${mode}: an acked batch is deleted by the tab that sent it, and only then`, async () => {
    const { storage, tab } = setup();
    const a = tab();
    await flush();
    a.add(2);
    a.queue.seal();
    const [k] = a.queue.ready();
    assert.ok(storage.getItem(k));
    assert.equal(a.queue.take(k).length, 2);
    assert.equal(storage.getItem(k), null);
  });
}

test('lease: a tab that slept past its lease moves to a new id and keeps its open batch', () => {
  const storage = new FakeStorage();
  const timers = new FakeTimers();
  const a = page({ storage, timers, ws: false });
  const b = page({ storage, timers, ws: false });
  const old = a.tabs.id();
  const first = a.add(2); // open, in storage under a's id
  timers.now += LEASE_MS + 1; // a slept (no timers ran): b takes its queue
  b.pump();
  assert.ok(b.tabs.owns(old));
  const [adopted] = b.queue.ready();
  assert.deepEqual(events(storage, adopted), first, 'b sends what it adopted');
  const later = a.add(1); // a has not noticed yet: it writes to the adopted batch...
  b.queue.take(adopted); // ...which b deletes when its ack comes
  a.tabs.beat(a.queue.ids()); // a notices, draws a new id
  assert.notEqual(a.tabs.id(), old);
  assert.ok(!a.tabs.owns(old));
  const moved = a.add(1);
  a.queue.seal();
  const mine = a.queue.ready().flatMap((k) => events(storage, k));
  // everything a made after the adoption is in a batch of its new id (the adopted batch
  // got `later` too, before a noticed: those are resent and de-duplicated by mid)
  assert.deepEqual(mine, [...first, ...later, ...moved]);
  assert.ok(a.queue.ready().every((k) => ownerOf(k) === a.tabs.id()));
});

test('lease: an adopted queue that is empty is let go', () => {
  const storage = new FakeStorage();
  const timers = new FakeTimers();
  const a = page({ storage, timers, ws: false });
  a.add(1);
  a.queue.seal();
  a.tabs.release();
  const b = page({ storage, timers, ws: false });
  b.pump();
  const [k] = b.queue.ready();
  b.queue.take(k);
  b.tabs.beat(b.queue.ids());
  assert.ok(!b.tabs.owns(a.tabs.id()));
  assert.deepEqual([...storage.m.keys()].filter((x) => x.startsWith('ck:l:')), ['ck:l:' + b.tabs.id()]);
});

test('a legacy batch (no queue id in its key) is adopted like a closed tab', async () => {
  const storage = new FakeStorage();
  storage.setItem('ck:q:lz00000-abcd1234', JSON.stringify({ id: 'lz00000-abcd1234', events: [{ mid: 'x' }] }));
  const locks = new FakeLocks();
  const timers = new FakeTimers();
  const a = page({ storage, locks, timers, ws: false });
  await flush();
  a.pump();
  timers.tick(YOUNG_MS);
  a.pump();
  await flush();
  assert.deepEqual(a.queue.ready(), ['ck:q:lz00000-abcd1234']);
});

test('locks: a new page is never adopted, even when its first batch is seen at once', async () => {
  const storage = new FakeStorage();
  const locks = new FakeLocks();
  const timers = new FakeTimers();
  const b = page({ storage, locks, timers, ws: false });
  await flush();
  const a = page({ storage, locks, timers, ws: false }); // its lock request is on its way
  a.add(2); // written before that request is granted
  b.pump(); // b sees a's queue id at once
  await flush();
  timers.tick(YOUNG_MS);
  b.pump();
  await flush();
  assert.ok(a.tabs.owns(a.tabs.id()) && !b.tabs.owns(a.tabs.id()));
  assert.equal(locks.holder.get('ck:tab:' + a.tabs.id()), a.name);
});

test('locks: an adopted queue stays with its adopter, so a late write still goes out', async () => {
  const storage = new FakeStorage();
  const locks = new FakeLocks();
  const timers = new FakeTimers();
  const a = page({ storage, locks, timers, ws: false });
  const b = page({ storage, locks, timers, ws: false });
  await flush();
  a.add(1);
  a.queue.seal();
  const dead = a.tabs.id();
  locks.kill(a.name);
  timers.tick(YOUNG_MS);
  b.pump();
  timers.tick(YOUNG_MS);
  b.pump();
  await flush();
  for (const k of b.queue.ready()) b.queue.take(k);
  b.tabs.beat(b.queue.ids()); // empty now, and still b's
  // a's last write reaches b's view of storage after the lock did
  storage.setItem(`ck:q:${dead}:zz-late`, JSON.stringify({ id: 'zz-late', events: [{ mid: 'late' }] }));
  assert.deepEqual(b.queue.ready(), [`ck:q:${dead}:zz-late`]);
});

test('a full queue drops this tab\'s oldest batches, counted; other tabs\' stay', async () => {
  const storage = new FakeStorage();
  const locks = new FakeLocks();
  const other = page({ storage, locks, ws: false });
  await flush();
  other.add(1);
  other.queue.seal();
  const a = page({ storage, locks, ws: false, max: 3 });
  await flush();
  const kept = [];
  for (let i = 0; i < 5; i++) {
    kept.push(a.add(2));
    a.queue.seal();
  }
  assert.equal(a.queue.mine().length, 3);
  assert.equal(a.counts.dropped, 4);
  assert.equal(storage.getItem('ck:dropped'), '4');
  assert.deepEqual(a.queue.mine().flatMap((k) => events(storage, k)), kept.slice(2).flat());
  assert.equal(other.queue.mine().length, 1, 'another tab\'s batch is never dropped');
});

test('storage over its quota keeps the batch in memory, still sent, nothing dropped', async () => {
  const storage = new FakeStorage(1200);
  const locks = new FakeLocks();
  const a = page({ storage, locks, ws: false });
  await flush();
  const mids = a.add(24);
  a.queue.seal();
  assert.equal(a.counts.dropped, 0);
  const ready = a.queue.ready();
  assert.ok(ready.some((k) => storage.getItem(k) !== a.queue.read(k)), 'memory holds what did not fit');
  assert.deepEqual(ready.flatMap((k) => JSON.parse(a.queue.read(k)).events.map((e) => e.mid)), mids);
});

test('disabled storage: a memory queue, and the page keeps working', async () => {
  const broken = {
    getItem() { throw new Error('denied'); },
    setItem() { throw new Error('denied'); },
    removeItem() { throw new Error('denied'); },
    key() { throw new Error('denied'); },
    get length() { throw new Error('denied'); },
  };
  const a = page({ storage: broken, ws: false });
  const mids = a.add(3);
  a.queue.seal();
  const [k] = a.queue.ready();
  assert.deepEqual(JSON.parse(a.queue.read(k)).events.map((e) => e.mid), mids);
  a.queue.take(k);
  assert.deepEqual(a.queue.mine(), []);
});

// Delivery: acks, error frames decided by code and retry alone, close codes, HTTP, and
// several tabs sending at once against one collector.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeLocks, FakeStorage, FakeTimers, flush, page } from './fakes.js';

const setup = async (opts = {}) => {
  const storage = new FakeStorage();
  const locks = new FakeLocks();
  const timers = new FakeTimers();
  const p = page({ storage, locks, timers, ...opts });
  await flush();
  return { storage, locks, timers, p };
};
const frames = (sock) => sock.sent;

test('a batch is sent once sealed and deleted only after its ack', async () => {
  const { storage, p } = await setup();
  const mids = p.add(3);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  const [frame] = frames(sock);
  assert.deepEqual(frame.events.map((e) => e.mid), mids);
  assert.equal(storage.queued().length, 1, 'kept until acked');
  assert.equal(p.net.t.inFlight[frame.id], storage.queued()[0]);
  sock.ack(frame);
  assert.equal(storage.queued().length, 0);
  assert.equal(p.counts.accepted, 3);
  assert.deepEqual(p.acked.map((e) => e.mid), mids);
});

test('rejected events are counted and not retried; the rest of the batch is acked', async () => {
  const { storage, p } = await setup();
  p.add(2);
  p.queue.seal();
  p.sock().open();
  const [frame] = frames(p.sock());
  p.sock().ack(frame, { accepted: 1, rejected: [{ index: 0, mid: frame.events[0].mid, errors: ['x'] }] });
  assert.equal(p.counts.rejected, 1);
  assert.deepEqual(p.acked.map((e) => e.mid), [frame.events[1].mid]);
  assert.equal(storage.queued().length, 0);
});

for (const code of ['RATE_LIMITED', 'STORAGE_UNAVAILABLE']) {
  test(`${code} with retry: the batch stays and is resent after retry_after_ms`, async () => {
    const { storage, timers, p } = await setup();
    p.add(2);
    p.queue.seal();
    const sock = p.sock();
    sock.open();
    const [frame] = frames(sock);
    sock.reply({ id: frame.id, error: 'whatever', code, retry: true, retry_after_ms: 3000 });
    assert.equal(storage.queued().length, 1);
    timers.tick(2900);
    assert.equal(frames(sock).length, 1, 'not before retry_after_ms');
    timers.tick(1600);
    assert.equal(frames(sock).length, 2);
    assert.deepEqual(frames(sock)[1], frame);
    sock.ack(frame);
    assert.equal(storage.queued().length, 0);
    assert.equal(p.counts.rejected, 0);
  });
}

test('INVALID_REQUEST (retry false): the batch is dropped and counted, never resent', async () => {
  const { storage, timers, p } = await setup();
  p.add(4);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  const [frame] = frames(sock);
  sock.reply({ id: frame.id, error: 'not JSON', code: 'INVALID_REQUEST', retry: false });
  assert.equal(storage.queued().length, 0);
  assert.equal(p.counts.rejected, 4);
  timers.tick(60000);
  assert.equal(frames(sock).length, 1);
});

test('the decision reads code and retry, never the text', async () => {
  const { storage, timers, p } = await setup();
  p.add(1);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  let [frame] = frames(sock);
  sock.reply({ id: frame.id, error: 'storage unavailable, retry again later', code: 'INVALID_REQUEST', retry: false });
  assert.equal(storage.queued().length, 0, 'text that sounds retryable changes nothing');
  p.add(1);
  p.queue.seal();
  frame = frames(sock).at(-1);
  sock.reply({ id: frame.id, error: 'invalid request', code: 'SOMETHING_NEW', retry: true });
  assert.equal(storage.queued().length, 1, 'retry true keeps the batch, whatever the text');
  timers.tick(10000);
  assert.deepEqual(frames(sock).at(-1), frame);
  sock.reply({ id: frame.id, error: 'x', code: 'RATE_LIMITED' }); // no flag: the code decides
  assert.equal(storage.queued().length, 1);
});

test('BODY_TOO_LARGE splits the batch in halves; a single event too large is dropped', async () => {
  const { storage, timers, p } = await setup();
  const mids = p.add(4);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  const [frame] = frames(sock);
  sock.reply({ id: frame.id, error: 'too big', code: 'BODY_TOO_LARGE', retry: false });
  timers.tick(100);
  const halves = frames(sock).slice(1);
  assert.deepEqual(halves.map((f) => f.events.length), [2, 2]);
  assert.deepEqual(halves.flatMap((f) => f.events.map((e) => e.mid)), mids);
  sock.ack(halves[0]);
  sock.reply({ id: halves[1].id, error: 'too big', code: 'BODY_TOO_LARGE', retry: false });
  const quarters = frames(sock).slice(3);
  assert.deepEqual(quarters.map((f) => f.events.length), [1, 1]);
  sock.ack(quarters[0]);
  sock.reply({ id: quarters[1].id, error: 'too big', code: 'BODY_TOO_LARGE', retry: false });
  assert.equal(p.counts.rejected, 1);
  assert.equal(storage.queued().length, 0);
});

test('close 1009 splits the largest frame in flight and resends the rest', async () => {
  const { storage, timers, p } = await setup();
  p.add(25); // sealed by count
  const small = p.add(1);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  assert.equal(frames(sock).length, 2);
  sock.close(1009);
  timers.tick(100);
  const next = p.sock();
  assert.notEqual(next, sock);
  next.open();
  const sizes = frames(next).map((f) => f.events.length).sort((a, b) => a - b);
  assert.deepEqual(sizes, [1, 12, 13]);
  for (const f of frames(next)) next.ack(f);
  assert.equal(storage.queued().length, 0);
  assert.ok(p.acked.some((e) => e.mid === small[0]));
});

test('close 4401 / 4403 stop the tracker; the batches stay queued', async () => {
  for (const code of [4401, 4403]) {
    const { storage, timers, p } = await setup();
    p.add(1);
    p.queue.seal();
    p.sock().close(code);
    timers.tick(60000);
    p.pump();
    assert.equal(p.socks.length, 1, 'no reconnect');
    assert.equal(p.net.t.stopped, code);
    assert.equal(storage.queued().length, 1);
  }
});

test('close 1013 (try again later) reconnects with backoff and resends', async () => {
  const { storage, timers, p } = await setup();
  p.add(2);
  p.queue.seal();
  const sock = p.sock();
  sock.open();
  sock.close(1013);
  assert.equal(p.socks.length, 1);
  timers.tick(1000);
  assert.equal(p.socks.length, 2);
  p.sock().open();
  p.sock().ack(frames(p.sock())[0]);
  assert.equal(storage.queued().length, 0);
});

test('HTTP: 429 is retried, 400 dropped, 413 split, 401 stops', async () => {
  const replies = [];
  const posts = [];
  const fetch = (url, init) => {
    posts.push(JSON.parse(init.body));
    const [status, body] = replies.shift();
    return Promise.resolve({ status, ok: status === 200, json: async () => body,
      headers: { get: (h) => (h === 'Retry-After' && status === 429 ? '2' : null) } });
  };
  const { storage, timers, p } = await setup({ ws: false, fetch });
  const ok = (n) => [200, { result: { accepted: n, duplicates: 0, rejected: [] } }];
  p.add(2);
  replies.push([429, { params: { err: 'RATE_LIMITED' } }]);
  p.queue.seal();
  await flush();
  assert.equal(storage.queued().length, 1);
  replies.push(ok(2));
  timers.tick(1900);
  assert.equal(posts.length, 1, 'Retry-After is honoured');
  timers.tick(1200);
  await flush();
  assert.equal(posts.length, 2);
  assert.equal(storage.queued().length, 0);

  p.add(4);
  replies.push([413, { params: { err: 'BODY_TOO_LARGE' } }], ok(2), ok(2));
  p.queue.seal();
  for (let i = 0; i < 5; i++) await flush();
  assert.deepEqual(posts.slice(2).map((b) => b.events.length), [4, 2, 2]);
  assert.equal(storage.queued().length, 0);

  p.add(1);
  replies.push([400, { params: { err: 'INVALID_REQUEST' } }]);
  p.queue.seal();
  await flush();
  await flush();
  assert.equal(storage.queued().length, 0);
  assert.equal(p.counts.rejected, 1);

  p.add(1);
  replies.push([401, { params: { err: 'INVALID_WRITE_KEY' } }]);
  p.queue.seal();
  await flush();
  await flush();
  assert.equal(p.net.t.stopped, 401);
  assert.equal(storage.queued().length, 1);
});

// The old tracker lost about one event in eighty with two tabs: one tab sent and deleted a
// batch the other was still filling. Here three tabs add, seal, send and get acks in a
// random interleaving, and one of them crashes midway; the collector keeps what it acked.
test('three tabs, random interleaving, one crash: every event acked exactly once', async () => {
  for (let round = 0; round < 30; round++) {
    const storage = new FakeStorage();
    const locks = new FakeLocks();
    const timers = new FakeTimers();
    const tabs = [0, 1, 2].map(() => page({ storage, locks, timers }));
    await flush();
    const made = [];
    const stored = new Map(); // mid -> times the collector stored it (dedup happens by mid)
    const collector = (p) => {
      for (const s of p.socks) {
        if (s.readyState === 0) s.open();
        if (s.readyState !== 1) continue;
        while (s.sent.length) {
          const f = s.sent.shift();
          for (const e of f.events) stored.set(e.mid, (stored.get(e.mid) || 0) + 1);
          s.ack(f);
        }
      }
    };
    let rand = round + 1;
    const random = () => ((rand = (rand * 16807) % 2147483647) / 2147483647);
    let alive = tabs.slice();
    for (let step = 0; step < 300; step++) {
      const p = alive[Math.floor(random() * alive.length)];
      const r = random();
      if (r < 0.6) made.push(...p.add(1 + Math.floor(random() * 3)));
      else if (r < 0.7) p.queue.seal();
      else if (r < 0.95) collector(p);
      else timers.tick(100);
      if (step === 150) {
        const dead = alive.pop(); // crash: no pagehide, its sockets and locks vanish
        for (const s of dead.socks) s.onclose = null;
        locks.kill(dead.name);
        await flush();
      }
    }
    for (let i = 0; i < 20; i++) {
      for (const p of alive) {
        p.queue.seal();
        p.pump();
      }
      await flush();
      timers.tick(300);
      for (const p of alive) collector(p);
    }
    assert.deepEqual(storage.queued(), [], `round ${round}: queue drained`);
    assert.deepEqual([...stored.keys()].sort(), made.slice().sort(), `round ${round}: nothing lost`);
  }
});

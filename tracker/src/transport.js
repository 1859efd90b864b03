// Delivery of the sealed batches this page owns: WebSocket /v1/ws, or HTTP
// /v1/telemetry where WebSockets are blocked, and sendBeacon on pagehide. What happens to
// a refused batch is decided by the error's code and retry flag alone, never its text.
import { parse } from './storage.js';

// Codes the collector sends that mean "send it again later" when a frame has no retry flag.
const RETRY = { RATE_LIMITED: 1, STORAGE_UNAVAILABLE: 1 };

export const transport = (o) => {
  // o: queue, counts, endpoint, key, WS, fetch, beacon, off(), onAck(events), timers, random, log
  const { queue, counts } = o;
  const T = o.timers || globalThis;
  const t = { sock: null, stopped: 0, useHttp: !o.WS, inFlight: {} }; // batch id -> key
  let tries = 0; // failures since the last success (backoff exponent)
  let wsWorked = false;
  let retryTimer = 0;
  let idleTimer = 0;
  let ackTimer = 0; // an open socket that stops answering is treated as lost
  let httpBusy = false;
  const busy = () => Object.keys(t.inFlight).length;

  // Exponential backoff capped at 5 s, with jitter so a restarted collector is not hit by
  // every tab at the same instant; the collector's retry_after_ms wins when it gives one.
  const later = (ms) => {
    if (t.stopped || (retryTimer && !ms)) return;
    T.clearTimeout(retryTimer);
    tries++;
    retryTimer = T.setTimeout(() => {
      retryTimer = 0;
      pump();
    }, (ms > 0 ? ms : Math.min(5000, 250 * 2 ** tries)) * (0.5 + o.random() / 2 + (ms > 0) / 2));
  };
  const stop = (code) => {
    t.stopped = code;
    o.log.error('[ck] collector refused the connection: ' + (code % 100 === 1
      ? 'unknown data-key' : 'this origin is not allowed for the key'));
  };
  const refuse = (n, code) => {
    counts.rejected += n;
    if (n) o.log.warn(`[ck] ${n} events refused by the collector (${code})`);
  };
  const tooLarge = (k) => refuse(queue.split(k), 'BODY_TOO_LARGE');

  // The collector answered batch `id`: an ack (stored after commit) or an error frame.
  const answer = (id, f) => {
    const k = t.inFlight[id];
    delete t.inFlight[id];
    if (!k) return;
    if (f.error == null && f.code == null) {
      tries = 0;
      const bad = {};
      for (const r of f.rejected || []) {
        bad[r.index] = 1;
        o.log.warn(`[ck] event ${r.mid} rejected: ${(r.errors || []).join('; ')}`);
      }
      counts.accepted += f.accepted || 0;
      counts.duplicates += f.duplicates || 0;
      counts.rejected += (f.rejected || []).length;
      return o.onAck(queue.take(k).filter((_, i) => !bad[i]));
    }
    // An error frame from a collector that gives no code at all is retried.
    if (typeof f.retry == 'boolean' ? f.retry : !f.code || f.code in RETRY) {
      return later(f.retry_after_ms);
    }
    if (f.code === 'BODY_TOO_LARGE') return tooLarge(k);
    refuse(queue.take(k).length, f.code); // resending would fail the same way forever
  };

  // Frames in flight must be answered within 20 s; otherwise the socket is dead in a way
  // the browser has not noticed (a dropped NAT mapping): reconnect and resend.
  const armAck = (s) => {
    T.clearTimeout(ackTimer);
    ackTimer = busy() ? T.setTimeout(() => s.close(4000, 'no ack'), 20000) : 0;
  };

  const connect = () => {
    let s;
    try {
      s = new o.WS(o.endpoint.replace(/^http/, 'ws') + '/v1/ws?key=' + encodeURIComponent(o.key));
    } catch (e) {
      t.useHttp = true;
      return pump();
    }
    t.sock = s;
    t.inFlight = {};
    const guard = T.setTimeout(() => s.close(), 5000); // a connect that hangs counts as failed
    s.onopen = () => {
      T.clearTimeout(guard);
      tries = 0;
      wsWorked = true;
      pump();
    };
    s.onmessage = (m) => {
      const f = parse(m.data);
      if (!f) return;
      answer(f.id, f);
      armAck(s);
      // Idle sockets hold a server thread each: close ours when there is nothing to send.
      T.clearTimeout(idleTimer);
      if (!busy()) idleTimer = T.setTimeout(() => s.close(1000), 15000);
      pump();
    };
    s.onclose = (e) => {
      T.clearTimeout(guard);
      T.clearTimeout(idleTimer);
      T.clearTimeout(ackTimer);
      ackTimer = 0;
      if (t.sock !== s) return;
      const lost = Object.values(t.inFlight);
      t.sock = null;
      t.inFlight = {};
      const c = e.code;
      if (c === 4401 || c === 4403) {
        stop(c);
      } else if (c === 1009) {
        // A frame was over the collector's size limit: the largest one in flight.
        const len = (k) => (queue.read(k) || '').length;
        const big = lost.sort((a, b) => len(b) - len(a))[0];
        if (big) tooLarge(big);
        pump();
      } else if (c === 1000 && !lost.length) {
        pump();
      } else {
        later(); // 1013 (collector busy or its database down), network loss, ...
      }
    };
  };

  const post = (k) => {
    const raw = queue.read(k);
    const b = parse(raw);
    if (!b || httpBusy) return;
    httpBusy = true;
    t.inFlight[b.id] = k;
    o.fetch(o.endpoint + '/v1/telemetry', {
      method: 'POST', body: raw, keepalive: raw.length < 60000,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + o.key },
    }).then((r) => {
      if (r.status === 401 || r.status === 403) throw stop(r.status);
      return r.json().catch(() => ({})).then((j) => {
        if (r.ok) {
          t.useHttp = true; // WebSockets failed where HTTP works: they are blocked here
          return answer(b.id, j.result || {});
        }
        answer(b.id, {
          code: (j.params && j.params.err) || (r.status === 413 ? 'BODY_TOO_LARGE' : r.status),
          retry: r.status === 429 || r.status > 499,
          retry_after_ms: 1000 * r.headers.get('Retry-After'),
        });
      });
    }).then(() => {
      httpBusy = false;
      pump();
    }, () => {
      httpBusy = false;
      delete t.inFlight[b.id];
      later();
    });
  };

  // Send every sealed batch this page owns that is not already on its way.
  const pump = () => {
    if (t.stopped || retryTimer || !o.key || o.off()) return;
    const sent = Object.values(t.inFlight);
    const ready = queue.ready().filter((k) => !sent.includes(k));
    if (!ready.length) return;
    // WebSocket failed twice without ever opening: try HTTP, which tells a blocked
    // WebSocket (HTTP works) from a collector that is down (both fail).
    if (t.useHttp || (!wsWorked && tries >= 2)) return post(ready[0]);
    if (!t.sock) return connect();
    if (t.sock.readyState !== 1) return;
    T.clearTimeout(idleTimer);
    for (const k of ready) {
      const raw = queue.read(k);
      const b = parse(raw);
      if (b && b.id) {
        t.sock.send(raw);
        t.inFlight[b.id] = k;
      } else {
        refuse(queue.take(k).length, 'unreadable');
      }
    }
    armAck(t.sock);
  };

  const beaconed = {};
  return {
    t,
    pump,
    // The page is going away: what is still unacked also leaves by sendBeacon (the collector
    // de-duplicates by mid, so a later resend of the same batch is harmless).
    beacon: () => {
      if (t.stopped || !o.key || o.off() || !o.beacon) return;
      const url = o.endpoint + '/v1/beacon?key=' + encodeURIComponent(o.key);
      for (const k of queue.mine()) {
        const raw = queue.read(k);
        if (!raw || beaconed[k] === raw) continue;
        if (!o.beacon(url, raw)) break; // the browser's beacon quota is spent
        beaconed[k] = raw;
      }
    },
    online: () => {
      T.clearTimeout(retryTimer);
      retryTimer = 0;
      tries = 0;
      pump();
    },
    close: (code) => t.sock && t.sock.close(code),
  };
};

/*! tracker.js 1.0: learning telemetry from one script tag (Telemetry V3, no dependencies). */
/*
 * Embed:
 *   <script>window.ck=window.ck||function(){(ck.q=ck.q||[]).push(arguments)}</script>
 *   <script async src="https://COLLECTOR/tracker.js" data-key="KEY"></script>
 * then ck('courseStarted', 'algebra'), ck('interact', {...}), ... before or after load.
 *
 * Delivery: every event is written to localStorage (bounded) as part of a batch before
 * anything is sent; a batch leaves storage only when the collector acked it (WebSocket
 * /v1/ws, or HTTP /v1/telemetry when WebSockets are blocked). On pagehide the unacked
 * batches also go out by sendBeacon; the collector de-duplicates by mid, so resending
 * them later is harmless and nothing is lost or stored twice.
 */
(() => {
  'use strict';
  const w = window, d = document, nav = navigator, loc = location;
  if (w.ck && w.ck.version) return; // included twice: the first copy stays in charge
  const VERSION = '1.0';
  const IDLE_MS = 30 * 60 * 1000; // a tab's session rolls over after this much inactivity
  const BATCH_EVENTS = 25;
  const BATCH_MS = 250;
  const Q = 'ck:q:'; // localStorage prefix of unacked batches, shared by the origin's tabs

  // Storage that never throws: disabled storage (privacy modes) falls back to memory,
  // and put() reports a full quota instead of breaking the host page.
  const store = (name) => {
    let s = null;
    const mem = {};
    try {
      s = w[name];
      s.setItem('ck:probe', '1');
      s.removeItem('ck:probe');
    } catch (e) {
      s = null;
    }
    return {
      get: (k) => {
        try {
          return s ? s.getItem(k) : k in mem ? mem[k] : null;
        } catch (e) {
          return null;
        }
      },
      put: (k, v) => {
        try {
          if (s) s.setItem(k, v);
          else mem[k] = v;
          return true;
        } catch (e) {
          return false;
        }
      },
      del: (k) => {
        try {
          if (s) s.removeItem(k);
          else delete mem[k];
        } catch (e) { /* already gone */ }
      },
      keys: (prefix) => {
        const out = [];
        try {
          for (let i = 0; s && i < s.length; i++) {
            const k = s.key(i);
            if (k && k.startsWith(prefix)) out.push(k);
          }
        } catch (e) { /* storage vanished: nothing to list */ }
        for (const k in mem) if (k.startsWith(prefix)) out.push(k);
        return out.sort();
      },
    };
  };
  const LS = store('localStorage');
  const SS = store('sessionStorage');

  const uuid = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  // --- configuration from our own script tag ---------------------------------------
  const me = d.currentScript || d.querySelector('script[data-key][src*="tracker"]');
  const attr = (n) => (me && me.getAttribute('data-' + n)) || '';
  // Lesson pages usually live on another origin than the collector: talk to the origin
  // this file came from unless data-endpoint says otherwise.
  const endpoint = (attr('endpoint') || (me && me.src ? new URL(me.src, loc.href).origin
    : loc.origin)).replace(/\/+$/, '');
  const cfg = {
    key: attr('key'),
    channel: attr('channel') || loc.hostname || 'web',
    env: attr('env') || 'web',
    pdata: { id: attr('pdata-id') || loc.hostname || 'web', ver: attr('pdata-ver') || '1.0',
      pid: 'tracker.js/' + VERSION },
    maxQueued: +attr('max-queued') || 40,
    dnt: !!me && me.hasAttribute('data-respect-dnt'),
  };
  if (!cfg.key) console.error('[ck] no data-key on the tracker script tag: nothing is sent');

  let did = LS.get('ck:did');
  if (!did) LS.put('ck:did', (did = uuid()));
  let uid = attr('uid') || SS.get('ck:uid') || '';

  // --- session: one per tab (sessionStorage), rolled over after 30 idle minutes ---------
  const liveSid = () => {
    const s = SS.get('ck:sid');
    const fresh = SS.get('ck:fixed') || Date.now() - (+SS.get('ck:seen') || 0) <= IDLE_MS;
    return s && fresh ? s : '';
  };
  const sid = () => {
    let s = liveSid();
    if (!s) {
      SS.put('ck:sid', (s = uuid()));
      SS.del('ck:prev');
      SS.del('ck:fixed');
    }
    SS.put('ck:seen', '' + Date.now());
    return s;
  };
  // LMS hand-off: the course_started marks follow the learner to the new sid, and its
  // events name the old one (PreviousSession) so the collector chains the two.
  const setSession = (next) => {
    next = '' + next;
    const old = liveSid();
    if (old && old !== next) {
      for (const kind of ['boot', 'sent']) {
        const from = `ck:cs:${kind}:${old}:`;
        for (const k of SS.keys(from)) {
          SS.put(`ck:cs:${kind}:${next}:` + k.slice(from.length), '1');
          SS.del(k);
        }
      }
      SS.put('ck:prev', old);
    } else if (!old) {
      SS.del('ck:prev');
    }
    SS.put('ck:sid', next);
    SS.put('ck:fixed', '1'); // a session the LMS named does not roll over on its own
    SS.put('ck:seen', '' + Date.now());
  };
  if (attr('sid')) setSession(attr('sid'));

  const off = () => LS.get('ck:optout') === '1' || (cfg.dnt && (nav.doNotTrack === '1' ||
    w.doNotTrack === '1' || nav.globalPrivacyControl === true));

  // --- building events --------------------------------------------------------------
  const lesson = { course: '', lesson: '', attempt: '', startedAt: Date.now() };
  const stack = []; // ck('push', {cdata, object}) for a block inside the lesson
  const pageid = () => loc.pathname + (/^#!?\//.test(loc.hash) ? loc.hash : '');
  const since = (t) => Math.round((Date.now() - t) / 100) / 10;

  const envelope = (eid, edata, opt) => {
    opt = opt || {};
    const s = sid();
    const prev = SS.get('ck:prev');
    let cdata = [];
    let object = opt.object;
    if (lesson.course) cdata.push({ type: 'Course', id: lesson.course });
    if (lesson.lesson) cdata.push({ type: 'Lesson', id: lesson.lesson });
    if (lesson.attempt) cdata.push({ type: 'Attempt', id: lesson.attempt });
    if (prev) cdata.push({ type: 'PreviousSession', id: prev });
    for (let i = stack.length; i--;) {
      cdata = cdata.concat(stack[i].cdata || []);
      object = object || stack[i].object;
    }
    const ev = {
      eid, ets: Date.now(), ver: '3.0', mid: eid + ':' + uuid(),
      actor: { id: uid || did, type: 'User' },
      context: { channel: cfg.channel, pdata: cfg.pdata, env: cfg.env, sid: s, did,
        cdata: cdata.concat(opt.cdata || []) },
      edata: edata || {},
    };
    if (object) ev.object = object;
    if (opt.tags) ev.tags = opt.tags;
    return ev;
  };

  // --- the persistent queue -----------------------------------------------------------
  const counts = { made: 0, accepted: 0, duplicates: 0, rejected: 0, dropped: 0 };
  let open = null; // the batch still collecting events
  let sealTimer = 0;

  const lost = (n) => {
    counts.dropped += n;
    LS.put('ck:dropped', '' + ((+LS.get('ck:dropped') || 0) + n));
    console.warn(`[ck] offline queue full: dropped ${n} unsent events`);
  };
  const drop = (k) => {
    let n = 0;
    try {
      n = JSON.parse(LS.get(k)).events.length;
    } catch (e) { /* unreadable: count the batch as empty */ }
    LS.del(k);
    lost(n);
  };
  // Write a batch; when the queue is full (count or quota) the oldest batches go first.
  const keep = (batch) => {
    const k = Q + batch.id;
    const raw = JSON.stringify(batch);
    for (;;) {
      const others = LS.keys(Q).filter((x) => x !== k);
      if (others.length < cfg.maxQueued && LS.put(k, raw)) return;
      if (!others.length) {
        // This batch alone does not fit in storage: it cannot be kept.
        LS.del(k);
        if (open === batch) open = null;
        return lost(batch.events.length);
      }
      drop(others[0]);
    }
  };
  const seal = () => {
    clearTimeout(sealTimer);
    sealTimer = 0;
    open = null;
    pump();
  };
  const track = (eid, edata, opt) => {
    if (off()) return null;
    const ev = envelope(eid, edata, opt);
    if (!open) open = { id: Date.now().toString(36) + '-' + uuid().slice(0, 8), events: [] };
    open.events.push(ev);
    counts.made++;
    keep(open);
    if (open.events.length >= BATCH_EVENTS) seal();
    else if (!sealTimer) sealTimer = setTimeout(seal, BATCH_MS);
    return ev.mid;
  };

  // --- delivery -------------------------------------------------------------------------
  let sock = null;
  let inFlight = {}; // storage key -> frame sent and not answered yet
  let tries = 0; // failures since the last success (backoff exponent)
  let wsWorked = false;
  let useHttp = !('WebSocket' in w);
  let retryTimer = 0;
  let idleTimer = 0;
  let ackTimer = 0; // an open socket that stops answering is treated as lost
  let stopped = 0; // 401/403 from the collector: a wrong key or origin, retrying is useless
  let httpBusy = false;

  const later = () => {
    if (retryTimer || stopped) return;
    tries++;
    // Exponential backoff capped at 5 s, with jitter so a restarted collector is not hit
    // by every tab at the same instant.
    const wait = Math.min(5000, 250 * 2 ** tries) * (0.5 + Math.random() / 2);
    retryTimer = setTimeout(() => {
      retryTimer = 0;
      pump();
    }, wait);
  };

  const markSent = (ev) => {
    const course = ev.object && ev.object.id;
    for (const s of [ev.context.sid, liveSid()]) {
      if (s && SS.get(`ck:cs:boot:${s}:${course}`)) SS.put(`ck:cs:sent:${s}:${course}`, '1');
    }
  };

  // The collector answered batch `k`: an ack (stored) or an error frame.
  const answer = (k, ack) => {
    const raw = inFlight[k] || LS.get(k);
    delete inFlight[k];
    if (ack.error && /storage|rate limit|retry|again/i.test(ack.error)) return later(); // resend
    LS.del(k);
    let batch = { events: [] };
    try {
      batch = JSON.parse(raw) || batch;
    } catch (e) { /* unreadable: nothing to mark */ }
    if (ack.error) {
      // The frame itself is unusable: resending it would fail the same way forever.
      counts.rejected += batch.events.length;
      console.warn('[ck] batch refused by the collector: ' + ack.error);
      return;
    }
    tries = 0;
    counts.accepted += ack.accepted || 0;
    counts.duplicates += ack.duplicates || 0;
    const bad = {};
    for (const r of ack.rejected || []) {
      bad[r.index] = 1;
      counts.rejected++;
      console.warn(`[ck] event ${r.mid} rejected: ${(r.errors || []).join('; ')}`);
    }
    batch.events.forEach((ev, i) => {
      if (!bad[i] && ev.eid === 'START' && ev.edata.type === 'course') markSent(ev);
    });
    const dropped = +LS.get('ck:dropped') || 0;
    if (dropped) {
      LS.del('ck:dropped');
      track('LOG', { type: 'tracker', level: 'WARN', pageid: pageid(),
        message: `${dropped} events were dropped: the offline queue was full`,
        params: [{ dropped }] });
    }
  };

  // Frames in flight must be answered within 20 s; otherwise the socket is dead in a way
  // the browser has not noticed (a dropped NAT mapping): reconnect and resend.
  const armAck = (s) => {
    clearTimeout(ackTimer);
    ackTimer = Object.keys(inFlight).length ? setTimeout(() => s.close(4000, 'no ack'), 20000) : 0;
  };

  const connect = () => {
    let s;
    try {
      s = new WebSocket(endpoint.replace(/^http/, 'ws') + '/v1/ws?key=' +
        encodeURIComponent(cfg.key));
    } catch (e) {
      useHttp = true;
      return pump();
    }
    sock = s;
    inFlight = {};
    const guard = setTimeout(() => s.close(), 5000); // a connect that hangs counts as failed
    s.onopen = () => {
      clearTimeout(guard);
      tries = 0;
      wsWorked = true;
      pump();
    };
    s.onmessage = (m) => {
      let ack;
      try {
        ack = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      answer(Q + ack.id, ack);
      armAck(s);
      // Idle sockets hold a server thread each: close ours when there is nothing to send.
      clearTimeout(idleTimer);
      if (!Object.keys(inFlight).length) idleTimer = setTimeout(() => s.close(1000), 15000);
      pump();
    };
    s.onclose = (e) => {
      clearTimeout(guard);
      clearTimeout(idleTimer);
      clearTimeout(ackTimer);
      ackTimer = 0;
      if (sock !== s) return;
      const lost = inFlight;
      sock = null;
      inFlight = {};
      if (e.code === 4401 || e.code === 4403) {
        stopped = e.code;
        console.error('[ck] collector refused the connection: ' +
          (e.code === 4401 ? 'unknown data-key' : 'this origin is not allowed for the key'));
      } else if (e.code === 1009) {
        // Over the collector's size limit: the largest frame in flight cannot ever go.
        const big = Object.keys(lost).sort((a, b) => lost[b].length - lost[a].length)[0];
        if (big) answer(big, { error: 'frame too large' });
        pump();
      } else if (e.code === 1000 && !Object.keys(lost).length) {
        pump();
      } else {
        later();
      }
    };
  };

  const post = (k) => {
    const raw = LS.get(k);
    if (!raw || httpBusy) return;
    httpBusy = true;
    inFlight[k] = raw;
    fetch(endpoint + '/v1/telemetry', {
      method: 'POST', body: raw, keepalive: raw.length < 60000,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + cfg.key },
    }).then((r) => {
      if (r.status === 401 || r.status === 403) stopped = r.status;
      if (r.ok) {
        useHttp = true; // WebSockets failed where HTTP works: they are blocked here
        return r.json().then((j) => answer(k, j.result || {}));
      }
      if (r.status === 400 || r.status === 413) return answer(k, { error: 'HTTP ' + r.status });
      throw new Error('HTTP ' + r.status);
    }).then(() => {
      httpBusy = false;
      pump();
    }, () => {
      httpBusy = false;
      delete inFlight[k];
      later();
    });
  };

  // Send every stored batch that is sealed and not already on its way.
  const pump = () => {
    if (stopped || retryTimer || !cfg.key || off()) return;
    const ready = LS.keys(Q).filter((k) => !(open && k === Q + open.id) && !inFlight[k]);
    if (!ready.length) return;
    // WebSocket failed twice without ever opening: try HTTP, which tells a blocked
    // WebSocket (HTTP works) from a collector that is down (both fail).
    if (useHttp || (!wsWorked && tries >= 2)) return post(ready[0]);
    if (!sock) return connect();
    if (sock.readyState !== 1) return;
    clearTimeout(idleTimer);
    for (const k of ready) {
      const raw = LS.get(k);
      if (raw) {
        sock.send(raw);
        inFlight[k] = raw;
      }
    }
    armAck(sock);
  };

  const beaconed = {};
  const beacon = () => {
    if (stopped || !cfg.key || off() || !nav.sendBeacon) return;
    const url = endpoint + '/v1/beacon?key=' + encodeURIComponent(cfg.key);
    for (const k of LS.keys(Q)) {
      const raw = LS.get(k);
      if (!raw || beaconed[k] === raw) continue;
      if (!nav.sendBeacon(url, raw)) break; // the browser's beacon quota is spent
      beaconed[k] = raw;
    }
  };

  // --- automatic events ---------------------------------------------------------------
  let lastHref = '';
  const view = (subtype) => {
    if (loc.href === lastHref) return;
    lastHref = loc.href;
    track('IMPRESSION', { type: 'view', subtype, pageid: pageid(), uri: loc.href.slice(0, 4096) });
  };
  for (const m of ['pushState', 'replaceState']) {
    const orig = history[m];
    history[m] = function () {
      const r = orig.apply(this, arguments);
      view(m);
      return r;
    };
  }
  w.addEventListener('popstate', () => view('popstate'));
  w.addEventListener('hashchange', () => view('hashchange'));
  d.addEventListener('click', (e) => {
    const el = e.target && e.target.closest && e.target.closest('[data-telemetry-id]');
    if (!el) return;
    const raw = el.getAttribute('data-telemetry-extra');
    let extra;
    if (raw) {
      try {
        extra = JSON.parse(raw);
      } catch (err) {
        extra = { raw };
      }
      if (!extra || typeof extra !== 'object' || Array.isArray(extra)) extra = { value: extra };
    }
    track('INTERACT', { type: el.getAttribute('data-telemetry-type') || 'CLICK',
      id: el.getAttribute('data-telemetry-id'), pageid: pageid(), extra });
  }, true);
  w.addEventListener('pagehide', beacon);
  w.addEventListener('pageshow', () => pump());
  d.addEventListener('visibilitychange', () => (d.visibilityState === 'hidden' ? beacon() : pump()));
  w.addEventListener('online', () => {
    clearTimeout(retryTimer);
    retryTimer = 0;
    tries = 0;
    pump();
  });
  w.addEventListener('offline', () => sock && sock.close());

  // --- the API: ck('name', ...args) -----------------------------------------------------
  const api = {};
  const EIDS = 'START END IMPRESSION INTERACT ASSESS RESPONSE INTERRUPT FEEDBACK SHARE ' +
    'AUDIT ERROR HEARTBEAT LOG SEARCH METRICS SUMMARY EXDATA';
  for (const eid of EIDS.split(' ')) {
    api[eid.toLowerCase()] = (edata, opt) => track(eid, edata, opt);
  }
  api.impression = (edata, opt) => track('IMPRESSION',
    Object.assign({ type: 'view', pageid: pageid(), uri: loc.href.slice(0, 4096) }, edata), opt);
  api.interact = (edata, opt) => track('INTERACT',
    Object.assign({ type: 'CLICK', pageid: pageid() }, edata), opt);

  // Lesson API (vocabulary in design.md).
  api.courseStarted = (course) => {
    lesson.course = '' + course;
    const mark = `:${sid()}:${course}`;
    // Once per tab session: a reload or a second lesson page emits nothing; an unacked
    // start is still in the persistent queue and is retried from there.
    if (SS.get('ck:cs:boot' + mark) || SS.get('ck:cs:sent' + mark)) return null;
    SS.put('ck:cs:boot' + mark, '1');
    return track('START', { type: 'course', mode: 'play', pageid: pageid() },
      { object: { id: lesson.course, type: 'Course' } });
  };
  api.courseCompleted = (course) => track('END',
    { type: 'course', mode: 'play', pageid: pageid() },
    { object: { id: '' + (course || lesson.course), type: 'Course' } });
  api.lessonStarted = (id) => {
    lesson.lesson = '' + id;
    lesson.startedAt = Date.now();
    return track('START', { type: 'lesson', mode: 'play', pageid: pageid() },
      { object: { id: lesson.lesson, type: 'Lesson' } });
  };
  api.lessonCompleted = (id) => track('END',
    { type: 'lesson', mode: 'play', pageid: pageid(), duration: since(lesson.startedAt) },
    { object: { id: '' + (id || lesson.lesson), type: 'Lesson' } });
  api.quizAnswered = (check, correct, response, score, maxscore) => {
    score = score == null ? (correct ? 1 : 0) : +score;
    return track('ASSESS', {
      item: { id: '' + check, maxscore: maxscore == null ? Math.max(1, score) : +maxscore },
      pass: correct ? 'Yes' : 'No', score, resvalues: [{ answer: response }],
      duration: since(lesson.startedAt),
    });
  };
  api.quizCompleted = (quiz, raw, max) => track('END', {
    type: 'assessment', mode: 'play', pageid: pageid(), duration: since(lesson.startedAt),
    summary: [{ score: +raw }, { maxscore: +max }],
  }, { object: { id: '' + quiz, type: 'Assessment' } });
  api.interaction = (kind, block, data) => track('INTERACT',
    { type: '' + kind, id: '' + block, pageid: pageid(), extra: data || {} });
  api.timeOnTask = (seconds) => track('HEARTBEAT',
    { type: 'timeOnTask', duration: +seconds, pageid: pageid() });
  api.setSession = setSession;
  api.setAttempt = (id) => {
    lesson.attempt = id ? '' + id : '';
  };
  api.setUser = (id) => {
    uid = id ? '' + id : '';
    SS.put('ck:uid', uid);
  };
  api.push = (c) => stack.push(c || {});
  api.pop = () => stack.pop();

  // Custom named events (edX style): ck('register', name, meta) then ck('emit', name, data).
  const registered = {};
  api.register = (name, meta) => {
    meta = meta || {};
    registered[name] = meta;
    return track('EXDATA', { type: 'collector.register', data: { name,
      description: meta.description, fields: meta.fields, version: meta.version } });
  };
  api.emit = (name, data) => track('EXDATA', { type: '' + name, data: data || {},
    version: Math.floor(+(registered[name] || {}).version) || 1 });

  api.optOut = () => {
    LS.put('ck:optout', '1');
    for (const k of LS.keys(Q)) LS.del(k);
    open = null;
    if (sock) sock.close(1000);
  };
  api.optIn = () => LS.del('ck:optout');
  api.flush = seal;
  api.state = () => Object.assign({
    version: VERSION, sid: liveSid(), did, uid, endpoint, optedOut: off(), stopped,
    transport: useHttp ? 'http' : 'websocket', connected: !!sock && sock.readyState === 1,
    queued: LS.keys(Q).length, inFlight: Object.keys(inFlight).length,
  }, counts);

  const ck = function (name) {
    const fn = api[name];
    if (!fn) return console.warn('[ck] unknown call: ' + name);
    try {
      return fn.apply(null, [].slice.call(arguments, 1));
    } catch (e) {
      console.error(`[ck] ${name} failed`, e);
    }
  };
  ck.version = VERSION;
  const queued = (w.ck && w.ck.q) || [];
  w.ck = ck;
  for (const args of queued) ck.apply(null, args);

  // The page view waits for the document so inline ck() calls after this tag (course,
  // lesson, user) are already in effect; batches left by earlier pages go out now.
  const ready = () => {
    view('load');
    pump();
  };
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', ready);
  else setTimeout(ready);
})();

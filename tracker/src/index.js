/*! tracker.js 1.1 | learning telemetry, Telemetry V3 */
/*
 * Embed:
 *   <script>window.ck=window.ck||function(){(ck.q=ck.q||[]).push(arguments)}</script>
 *   <script async src="https://COLLECTOR/tracker.js" data-key="KEY"></script>
 * then ck('courseStarted', 'algebra'), ck('interact', {...}), ... before or after load.
 *
 * Delivery: every event is written to localStorage as part of a batch before anything is
 * sent; a batch leaves storage only when the page that owns it saw the collector ack it
 * (WebSocket /v1/ws, or HTTP /v1/telemetry when WebSockets are blocked). Each page owns
 * its own batches, and adopts those of pages that are gone (tabs.js). On pagehide the
 * unacked batches also go out by sendBeacon; the collector de-duplicates by mid, so
 * resending them later is harmless and nothing is lost or stored twice.
 */
import { api } from './api.js';
import { autocapture, route } from './autocapture.js';
import { config, VERSION } from './config.js';
import { queue } from './queue.js';
import { session } from './session.js';
import { store, uuid } from './storage.js';
import { BEAT_MS, tabs } from './tabs.js';
import { transport } from './transport.js';

(() => {
  const w = window, d = document, nav = navigator, loc = location;
  if (w.ck && w.ck.version) return; // included twice: the first copy stays in charge
  const LS = store(() => w.localStorage);
  const SS = store(() => w.sessionStorage);
  const cfg = config(d, loc);
  if (!cfg.key) console.error('[ck] no data-key on the tracker script tag: nothing is sent');

  let did = LS.get('ck:did');
  if (!did) LS.put('ck:did', (did = uuid()));
  let uid = cfg.attr('uid') || SS.get('ck:uid') || '';
  const ses = session(SS);
  if (cfg.attr('sid')) ses.set(cfg.attr('sid'));
  const off = () => LS.get('ck:optout') === '1' || (cfg.dnt && (nav.doNotTrack === '1' ||
    w.doNotTrack === '1' || nav.globalPrivacyControl === true));
  const pageid = () => loc.pathname + route(loc.hash);

  const counts = { made: 0, accepted: 0, duplicates: 0, rejected: 0, dropped: 0 };
  const pump = () => {
    owners.scan(q.ids());
    net.pump();
  };
  const owners = tabs({ store: LS, locks: nav.locks, newId: () => uuid().slice(0, 8), onOwn: pump });
  const q = queue({ store: LS, tabs: owners, counts, max: cfg.maxQueued, onSeal: pump,
    warn: console.warn });
  const track = (ev) => {
    if (off()) return null;
    counts.made++;
    q.add(ev);
    return ev.mid;
  };
  const calls = api({ cfg, ses, LS, did, uid: () => uid, uuid, track, pageid,
    uri: () => loc.href.slice(0, 4096) });
  const net = transport({
    queue: q, counts, endpoint: cfg.endpoint, key: cfg.key, off, random: Math.random,
    WS: w.WebSocket, fetch: (u, o) => fetch(u, o), beacon: nav.sendBeacon && ((u, b) => nav.sendBeacon(u, b)),
    log: console,
    onAck: (events) => {
      for (const ev of events) if (ev.eid === 'START' && ev.edata.type === 'course') ses.sent(ev);
      const dropped = +LS.get('ck:dropped') || 0;
      if (dropped) {
        LS.del('ck:dropped');
        calls.log({ type: 'tracker', level: 'WARN', pageid: pageid(),
          message: `${dropped} events were dropped: the offline queue was full`,
          params: [{ dropped }] });
      }
    },
  });
  owners.start();
  setInterval(() => {
    owners.beat(q.ids());
    pump();
  }, BEAT_MS);

  calls.setUser = (id) => {
    uid = id ? '' + id : '';
    SS.put('ck:uid', uid);
  };
  calls.optOut = () => {
    LS.put('ck:optout', '1');
    q.clear();
    net.close(1000);
  };
  calls.optIn = () => LS.del('ck:optout');
  calls.flush = q.seal;
  calls.state = () => ({
    version: VERSION, sid: ses.live(), did, uid, endpoint: cfg.endpoint, optedOut: off(),
    stopped: net.t.stopped, transport: net.t.useHttp ? 'http' : 'websocket',
    connected: !!net.t.sock && net.t.sock.readyState === 1, queued: q.mine().length,
    inFlight: Object.keys(net.t.inFlight).length, queue: owners.id(), ...counts,
  });

  const ck = function (name) {
    const fn = calls[name];
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

  const view = autocapture(w, d, loc, ck);
  const leave = () => {
    q.seal();
    net.beacon();
  };
  w.addEventListener('pagehide', () => {
    leave();
    owners.release(); // a surviving tab, or the next page, adopts what is left
  });
  w.addEventListener('pageshow', (e) => {
    if (e.persisted) owners.start(); // back from the back/forward cache: a new queue id
    pump();
  });
  d.addEventListener('visibilitychange', () => (d.visibilityState === 'hidden' ? net.beacon() : pump()));
  w.addEventListener('online', net.online);
  w.addEventListener('offline', () => net.close());

  // The page view waits for the document so inline ck() calls after this tag (course,
  // lesson, user) are already in effect; batches left by earlier pages go out now.
  const ready = () => {
    view('load');
    pump();
  };
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', ready);
  else setTimeout(ready);
})();

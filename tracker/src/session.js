// The tab session (sessionStorage): one sid per tab, rolled over after 30 idle minutes
// unless the LMS named it, and the course_started marks that keep a course START to one
// per tab session.
import { uuid } from './storage.js';

const IDLE_MS = 30 * 60 * 1000;

export const session = (SS, now = Date.now) => {
  const mark = (kind, s, course) => `ck:cs:${kind}:${s}:${course}`;
  const live = () => {
    const s = SS.get('ck:sid');
    const fresh = SS.get('ck:fixed') || now() - (+SS.get('ck:seen') || 0) <= IDLE_MS;
    return s && fresh ? s : '';
  };
  const sid = () => {
    let s = live();
    if (!s) {
      SS.put('ck:sid', (s = uuid()));
      SS.del('ck:prev');
      SS.del('ck:fixed');
    }
    SS.put('ck:seen', '' + now());
    return s;
  };
  return {
    live,
    sid,
    prev: () => SS.get('ck:prev'),
    // LMS hand-off: the marks follow the learner to the new sid, and its events name the
    // old one (PreviousSession) so the collector chains the two.
    set: (next) => {
      next = '' + next;
      const old = live();
      if (old && old !== next) {
        for (const kind of ['boot', 'sent']) {
          const from = mark(kind, old, '');
          for (const k of SS.keys(from)) {
            SS.put(mark(kind, next, k.slice(from.length)), '1');
            SS.del(k);
          }
        }
        SS.put('ck:prev', old);
      } else if (!old) {
        SS.del('ck:prev');
      }
      SS.put('ck:sid', next);
      SS.put('ck:fixed', '1'); // a session the LMS named does not roll over on its own
      SS.put('ck:seen', '' + now());
    },
    // true the first time a course starts in this tab session (then it is marked)
    boot: (course) => {
      const s = sid();
      if (SS.get(mark('boot', s, course)) || SS.get(mark('sent', s, course))) return false;
      return SS.put(mark('boot', s, course), '1') || true;
    },
    // the collector stored this course START: a later page of the tab need not resend it
    sent: (ev) => {
      const course = ev.object && ev.object.id;
      for (const s of [ev.context.sid, live()]) {
        if (s && SS.get(mark('boot', s, course))) SS.put(mark('sent', s, course), '1');
      }
    },
  };
};

// The calls behind ck('name', ...args): V3 events, the lesson vocabulary, custom events.
const EIDS = 'START END IMPRESSION INTERACT ASSESS RESPONSE INTERRUPT FEEDBACK SHARE ' +
  'AUDIT ERROR HEARTBEAT LOG SEARCH METRICS SUMMARY EXDATA';

// env: cfg, ses (session.js), LS, did, uid(), track(eid, edata, opt), pageid(), uri()
export const api = (env) => {
  const { cfg, ses, LS, track, pageid } = env;
  const ctx = { course: '', lesson: '', attempt: '' };
  const begun = { '': Date.now() }; // lesson id -> when lessonStarted ran ('' = page load)
  const stack = []; // ck('push', {cdata, object}) for a block inside the lesson
  const since = (lesson) => Math.round((Date.now() - (begun[lesson] || begun[''])) / 100) / 10;

  // opt.course / opt.lesson: the course or lesson the call names, which the event's cdata
  // carries (so its object and its cdata always agree).
  const envelope = (eid, edata, opt) => {
    opt = opt || {};
    const c = { ...ctx, ...opt.ctx };
    const prev = ses.prev();
    let cdata = [];
    let object = opt.object;
    if (c.course) cdata.push({ type: 'Course', id: c.course });
    if (c.lesson) cdata.push({ type: 'Lesson', id: c.lesson });
    if (c.attempt) cdata.push({ type: 'Attempt', id: c.attempt });
    if (prev) cdata.push({ type: 'PreviousSession', id: prev });
    for (let i = stack.length; i--;) {
      cdata = cdata.concat(stack[i].cdata || []);
      object = object || stack[i].object;
    }
    const ev = {
      eid, ets: Date.now(), ver: '3.0', mid: eid + ':' + env.uuid(),
      actor: { id: env.uid() || env.did, type: 'User' },
      context: { channel: cfg.channel, pdata: cfg.pdata, env: cfg.env, sid: ses.sid(),
        did: env.did, cdata: cdata.concat(opt.cdata || []) },
      edata: edata || {},
    };
    if (object) ev.object = object;
    if (opt.tags) ev.tags = opt.tags;
    return ev;
  };
  const play = (type, more) => ({ type, mode: 'play', pageid: pageid(), ...more });
  const send = (eid, edata, opt) => track(envelope(eid, edata, opt));

  const a = {};
  for (const eid of EIDS.split(' ')) a[eid.toLowerCase()] = (edata, opt) => send(eid, edata, opt);
  a.impression = (edata, opt) => send('IMPRESSION',
    { type: 'view', pageid: pageid(), uri: env.uri(), ...edata }, opt);
  a.interact = (edata, opt) => send('INTERACT', { type: 'CLICK', pageid: pageid(), ...edata }, opt);

  // Lesson API (vocabulary in design.md).
  a.courseStarted = (course) => {
    ctx.course = '' + course;
    // Once per tab session: a reload or a second lesson page emits nothing; an unacked
    // start is still in the persistent queue and is retried from there.
    return ses.boot(ctx.course) ? send('START', play('course'),
      { object: { id: ctx.course, type: 'Course' } }) : null;
  };
  a.courseCompleted = (course) => {
    course = '' + (course || ctx.course);
    return send('END', play('course'), { object: { id: course, type: 'Course' }, ctx: { course } });
  };
  a.lessonStarted = (lesson) => {
    ctx.lesson = '' + lesson;
    begun[ctx.lesson] = Date.now();
    return send('START', play('lesson'), { object: { id: ctx.lesson, type: 'Lesson' } });
  };
  a.lessonCompleted = (lesson) => {
    lesson = '' + (lesson || ctx.lesson);
    return send('END', play('lesson', { duration: since(lesson) }),
      { object: { id: lesson, type: 'Lesson' }, ctx: { lesson } });
  };
  a.quizAnswered = (check, correct, response, score, maxscore) => {
    score = score == null ? (correct ? 1 : 0) : +score;
    return send('ASSESS', {
      item: { id: '' + check, maxscore: maxscore == null ? Math.max(1, score) : +maxscore },
      pass: correct ? 'Yes' : 'No', score, resvalues: [{ answer: response }],
      duration: since(ctx.lesson),
    });
  };
  a.quizCompleted = (quiz, raw, max) => send('END', play('assessment', {
    duration: since(ctx.lesson), summary: [{ score: +raw }, { maxscore: +max }],
  }), { object: { id: '' + quiz, type: 'Assessment' } });
  // interaction(kind, blockId, data) or interaction(kind, data): without a block id the
  // resource is the pushed block's object, else the page.
  a.interaction = (kind, block, data) => {
    if (block !== null && typeof block == 'object') {
      data = block;
      block = null;
    }
    const top = stack.length && stack[stack.length - 1].object;
    return send('INTERACT', { type: '' + kind,
      id: block == null ? (top && top.id) || pageid() : '' + block,
      pageid: pageid(), extra: data || {} });
  };
  a.timeOnTask = (seconds) => send('HEARTBEAT',
    { type: 'timeOnTask', duration: +seconds, pageid: pageid() });
  a.setSession = ses.set;
  a.setAttempt = (id) => {
    ctx.attempt = id ? '' + id : '';
  };
  a.push = (c) => stack.push(c || {});
  a.pop = () => stack.pop();

  // Custom named events (edX style): ck('register', name, meta) then ck('emit', name, data).
  // The registered version is remembered per name (localStorage), so a later page of the
  // site emits it too.
  a.register = (name, meta) => {
    meta = meta || {};
    if (meta.version != null) LS.put('ck:v:' + name, '' + meta.version);
    return send('EXDATA', { type: 'collector.register', data: { name,
      description: meta.description, fields: meta.fields, version: meta.version } });
  };
  a.emit = (name, data) => send('EXDATA', { type: '' + name, data: data || {},
    version: Math.floor(+LS.get('ck:v:' + name)) || 1 });
  return a;
};

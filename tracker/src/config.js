// Configuration from the tracker's own script tag (data- attributes).
export const VERSION = '1.1';

export const config = (d, loc) => {
  const me = d.currentScript || d.querySelector('script[data-key][src*="tracker"]');
  const attr = (n) => (me && me.getAttribute('data-' + n)) || '';
  return {
    attr,
    key: attr('key'),
    // Lesson pages usually live on another origin than the collector: talk to the origin
    // this file came from unless data-endpoint says otherwise.
    endpoint: (attr('endpoint') || (me && me.src ? new URL(me.src, loc.href).origin
      : loc.origin)).replace(/\/+$/, ''),
    channel: attr('channel') || loc.hostname || 'web',
    env: attr('env') || 'web',
    pdata: { id: attr('pdata-id') || loc.hostname || 'web', ver: attr('pdata-ver') || '1.0',
      pid: 'tracker.js/' + VERSION },
    maxQueued: +attr('max-queued') || 40,
    dnt: !!me && me.hasAttribute('data-respect-dnt'),
  };
};

// Automatic events: page views (load and single-page navigation) and clicks on elements
// tagged data-telemetry-id.

// A hash route (#/..., #!/...) is part of the page; a plain #section anchor is not.
export const route = (hash) => (/^#!?\//.test(hash) ? hash : '');

export const autocapture = (w, d, loc, ck) => {
  let last = '';
  const view = (subtype) => {
    const page = loc.href.split('#')[0] + route(loc.hash);
    if (page === last) return;
    last = page;
    ck('impression', { subtype });
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
    ck('interact', { type: el.getAttribute('data-telemetry-type') || 'CLICK',
      id: el.getAttribute('data-telemetry-id'), extra });
  }, true);
  return view;
};

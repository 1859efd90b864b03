// Web storage that never throws. Storage that is disabled (privacy modes) or full falls
// back to memory for the keys concerned: the host page never breaks, and what this page
// queued still goes out while it lives.
export const store = (open) => {
  let s = null;
  const mem = {};
  try {
    s = open();
    s.setItem('ck:probe', '1');
    s.removeItem('ck:probe');
  } catch (e) {
    s = null;
  }
  return {
    get: (k) => {
      if (k in mem) return mem[k];
      try {
        return s && s.getItem(k);
      } catch (e) {
        return null;
      }
    },
    // true when the value is in web storage, false when only memory holds it
    put: (k, v) => {
      try {
        if (s) {
          s.setItem(k, v);
          delete mem[k];
          return true;
        }
      } catch (e) { /* quota: keep it in memory below */ }
      mem[k] = v;
      return false;
    },
    del: (k) => {
      delete mem[k];
      try {
        if (s) s.removeItem(k);
      } catch (e) { /* already gone */ }
    },
    keys: (prefix) => {
      const out = new Set(Object.keys(mem));
      try {
        for (let i = 0; s && i < s.length; i++) out.add(s.key(i));
      } catch (e) { /* storage vanished: memory keys only */ }
      return [...out].filter((k) => k && k.startsWith(prefix)).sort();
    },
  };
};

export const uuid = () => {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export const parse = (raw) => {
  try {
    return JSON.parse(raw);
  } catch (e) {
    return null;
  }
};

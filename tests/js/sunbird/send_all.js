// Sends every event the stock Sunbird telemetry SDK can generate to the collector,
// configured with only `host` and `authtoken`, and prints what the server answered.
// Usage: node send_all.js <host> <authtoken> [<cdata JSON>]
// (a cdata such as '[{"type": "Course", "id": "c1"}]' sets the course context players set)
const sdk = require("@project-sunbird/telemetry-sdk");

const [host, authtoken, cdataJson] = process.argv.slice(2);
const cdata = cdataJson ? JSON.parse(cdataJson) : [];
const responses = [];
const failures = [];
const original = sdk.Dispatcher.dispatch;
sdk.Dispatcher.dispatch = async (url, data, headers) => {
  try {
    const body = await original.call(sdk.Dispatcher, url, data, headers);
    responses.push({ url, sent: data.events.length, mids: data.events.map((e) => e.mid), body });
    return body;
  } catch (err) {
    failures.push(String(err));
    throw err;
  }
};

async function main() {
  const $t = sdk.$t;
  $t.initialize({ host, authtoken, did: "node-device-1", batchsize: 5, cdata });
  await $t.start({}, "content-1", "1.0", { type: "app", mode: "play", pageid: "home" });
  $t.impression({ type: "view", pageid: "home", uri: "/home" });
  $t.interact({ type: "CLICK", id: "play-button", pageid: "home" });
  $t.assess({ item: { id: "q1", maxscore: 1 }, pass: "Yes", score: 1, resvalues: [{ a: "1" }], duration: 3 });
  $t.response({ target: { id: "q1", ver: "1", type: "AssessmentItem" }, type: "CHOOSE", values: [{ option: "A" }] });
  $t.interrupt({ type: "background", pageid: "home" });
  $t.feedback({ rating: 4, commentid: "c1", commenttxt: "good" });
  $t.share({ dir: "out", type: "Link", items: [{ id: "content-1", type: "Content", ver: "1" }] });
  $t.audit({ props: ["status"], state: "Live", prevstate: "Draft" });
  $t.error({ err: "E_TEST", errtype: "CONTENT", stacktrace: "at line 1" });
  $t.heartbeat();
  $t.log({ type: "api_call", level: "INFO", message: "ok" });
  $t.search({ query: "fractions", size: 0, topn: [] });
  $t.metrics({ jobs: 3 });
  $t.summary({ type: "session", starttime: 1, endtime: 2, timespent: 1, pageviews: 1, interactions: 1 });
  $t.exdata({ type: "partnerdata", data: "x" });
  $t.end({ type: "app", mode: "play", pageid: "home" });
  $t.syncEvents();
  // Wait (bounded) until every generated event has been sent.
  for (let i = 0; i < 200 && responses.reduce((n, r) => n + r.sent, 0) < 17 && failures.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.stdout.write(JSON.stringify({ responses, failures }) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ responses, failures: failures.concat([String(err)]) }) + "\n");
  process.exit(1);
});

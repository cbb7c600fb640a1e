// Drive coven-trio's eve mount with today's published eve client (pinned in package.json)
// over the Unix socket. `node drive.mjs <scenario>`; prints one JSON object of what the
// client saw, which tests/test_eve_current_client.py asserts on.
import { Agent, setGlobalDispatcher } from "undici";
import { Client, ClientError, defaultMessageReducer } from "eve/client";

setGlobalDispatcher(new Agent({ connect: { socketPath: process.env.COVEN_SOCKET } }));
const client = new Client({ host: "http://localhost" });
const out = {};
const types = (events) => events.map((e) => e.type);

async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return {
      ok: false,
      name: error?.name,
      status: error instanceof ClientError ? error.status : undefined,
      code: error instanceof ClientError ? error.code : undefined,
      message: String(error?.message ?? error).slice(0, 300),
    };
  }
}

async function collect(iterable, limit = 10_000) {
  const events = [];
  for await (const event of iterable) {
    events.push(event);
    if (events.length >= limit) break;
  }
  return events;
}

const scenarios = {
  async basics() {
    out.health = await client.health();
    const info = await client.info();
    out.info = { kind: info.kind, name: info.agent.name, model: info.agent.model.id };
    const { response, session } = await client.sessions.create({ message: "hello" });
    const first = await response.result();
    out.first = { status: first.status, types: types(first.events), message: first.message };
    const second = await (await session.send("again")).result();
    out.second = { status: second.status, types: types(second.events), message: second.message };
    out.streamIndex = session.state.streamIndex;
    const live = [...first.events, ...second.events];
    const reducer = defaultMessageReducer();
    let state = reducer.initial();
    for (const event of live) state = reducer.reduce(state, event);
    out.messages = state.messages.map((m) => ({
      role: m.role,
      text: m.parts.filter((p) => p.type === "text").map((p) => p.text).join(""),
    }));
    const replay = await collect(session.stream({ startIndex: 0, follow: false }));
    out.replayIdentical = JSON.stringify(replay) === JSON.stringify(live);
    out.replayIds = new Set(replay.map((e) => e.meta.id)).size === replay.length;
    const bounded = await collect(session.stream({ startIndex: 2, follow: false }));
    out.bounded = { count: bounded.length, first: bounded[0]?.type, total: live.length };
    const snapshot = await session.snapshot();
    out.snapshot = { count: snapshot.events.length, streamIndex: snapshot.session.streamIndex };
    const resumed = client.sessions.attach(session.state.sessionId, { streamIndex: 3 });
    out.resumed = types(await collect(resumed.stream({ follow: false })));
    const abort = new AbortController();
    const last = [];
    const tail = (async () => {
      for await (const event of session.stream({ startIndex: -1, signal: abort.signal })) {
        last.push(event.type);
        abort.abort();
      }
    })();
    await Promise.race([tail, new Promise((resolve) => setTimeout(resolve, 3000))]);
    abort.abort();
    out.fromTail = last;
    out.clear = await session.clear();
    const third = await (await session.send("after clear")).result();
    out.third = { types: types(third.events), message: third.message };
    out.compact = await attempt(() => session.compact());
    const fourth = await (await session.send("after compact")).result();
    out.fourth = { message: fourth.message };
    out.reset = await session.reset();
    out.afterReset = await attempt(() => session.send("anyone?"));
    out.unknown = await attempt(() => client.sessions.attach("ses_nope").send("hi"));
    const { session: warm } = await client.sessions.create();
    const warmed = await (await warm.send("first words")).result();
    out.prewarm = { types: types(warmed.events), message: warmed.message };
  },

  async schema() {
    const outputSchema = {
      type: "object",
      properties: { answer: { type: "string" } },
      required: ["answer"],
    };
    const { response } = await client.sessions.create({ message: "give me JSON", outputSchema });
    const result = await response.result();
    out.result = { status: result.status, data: result.data, types: types(result.events) };
  },

  async approval() {
    const { response, session } = await client.sessions.create({ message: "list files" });
    const parked = await response.result();
    out.parked = {
      status: parked.status,
      kinds: parked.inputRequests.map((r) => r.kind),
      options: parked.inputRequests.flatMap((r) => (r.options ?? []).map((o) => o.id)),
    };
    const request = parked.inputRequests[0];
    const answered = await (
      await session.respond([{ requestId: request.requestId, optionId: process.env.EVE_ANSWER }])
    ).result();
    out.answered = {
      status: answered.status,
      types: types(answered.events),
      message: answered.message,
      open: answered.inputRequests.length,
      results: answered.events
        .filter((e) => e.type === "action.result")
        .map((e) => e.data.status),
    };
  },

  async noReconnect() {
    // Streams opened with reconnects off: the client sends no streamControlVersion.
    const policy = { streamReconnectPolicy: { reconnect: false } };
    const { response, session } = await client.sessions.create({ message: "hello", ...policy });
    const first = await response.result();
    out.first = { status: first.status, message: first.message };
    const second = await (await session.send("again", policy)).result();
    out.second = { status: second.status, message: second.message };
    await session.reset();
  },

  async clearWait() {
    // After clear, a client following the stream sees the session wait again.
    const { response, session } = await client.sessions.create({ message: "hello" });
    await response.result();
    const index = session.state.streamIndex;
    out.clear = await session.clear();
    const seen = [];
    for await (const event of session.stream({ startIndex: index })) {
      seen.push(event.type);
      if (event.type === "session.waiting") break;
    }
    out.afterClear = seen;
    const next = await (await session.send("fresh start")).result();
    out.next = next.message;
    await session.reset();
  },

  async restartBefore() {
    const { response, session } = await client.sessions.create({ message: "before" });
    out.before = (await response.result()).message;
    out.sessionId = session.state.sessionId;
  },

  async restartAfter() {
    const session = client.sessions.attach(process.env.EVE_SESSION);
    out.after = await attempt(() => session.send("after the restart"));
    out.replay = types(await collect(session.stream({ startIndex: 0, follow: false })));
  },

  async busy() {
    const { response, session } = await client.sessions.create({ message: "a long answer" });
    const started = Date.now();
    const queued = await session.send("queued behind it");
    out.queuedAccepted = Date.now() - started < 2000;
    out.first = (await response.result()).message;
    const second = await queued.result();
    out.second = { message: second.message, status: second.status };
    const slow = await session.send("cancel me please");
    const events = [];
    for await (const event of slow) {
      events.push(event.type);
      if (event.type === "message.appended") {
        out.cancel = await slow.cancel();
      }
    }
    out.cancelled = events;
    out.noTurn = await session.cancel();
    const after = await (await session.send("still here?")).result();
    out.after = after.message;
    await session.reset();
  },
};

await scenarios[process.argv[2]]();
console.log(JSON.stringify(out));

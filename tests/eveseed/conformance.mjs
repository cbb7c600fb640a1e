// Drive coven-trio's eve API with the published eve@0.18.2 client over the Unix socket.
// Run by tests/test_eve_client.py from this folder (its node_modules: tests/npm_pins.py).
// Prints one JSON object (the observations) on stdout; the Python test asserts on it.
import { Agent, setGlobalDispatcher } from "undici";
import { Client, ClientError } from "eve/client";

setGlobalDispatcher(new Agent({ connect: { socketPath: process.env.COVEN_SOCKET } }));
const client = new Client({ host: "http://localhost" });
const out = {};

out.health = await client.health();
out.info = await (await client.fetch("/eve/v1/info")).json();

const session = client.session();
const first = await session.send("hello");
out.firstSessionId = first.sessionId;
out.firstToken = first.continuationToken;
const r1 = await first.result();
out.first = { status: r1.status, types: r1.events.map((e) => e.type), message: r1.message ?? null };
out.streamIndexAfterFirst = session.state.streamIndex;

const second = await session.send({
  message: "give me JSON",
  outputSchema: {
    type: "object",
    properties: { answer: { type: "string" } },
    required: ["answer"],
  },
});
out.secondToken = second.continuationToken;
const r2 = await second.result();
out.second = { status: r2.status, types: r2.events.map((e) => e.type), data: r2.data };
out.stateToken = session.state.continuationToken;
out.streamIndexAfterSecond = session.state.streamIndex;
const live = [...r1.events, ...r2.events];

// Replay from 0 with session.stream: it does not stop at boundaries; abort at the count.
const abort = new AbortController();
const replay = [];
for await (const event of session.stream({ startIndex: 0, signal: abort.signal })) {
  replay.push(event);
  if (replay.length === live.length) {
    abort.abort();
    break;
  }
}
out.replayIdentical = JSON.stringify(replay) === JSON.stringify(live);
out.replayCount = replay.length;

// A stale token is refused with 409 (the old token, after rotation).
const stale = client.session({
  sessionId: first.sessionId,
  continuationToken: first.continuationToken,
  streamIndex: 0,
});
try {
  await stale.send("with an old token");
  out.staleStatus = "accepted";
} catch (error) {
  out.staleStatus = error instanceof ClientError ? error.status : String(error);
}

async function status(promise) {
  try {
    await promise;
    return "accepted";
  } catch (error) {
    return error instanceof ClientError ? error.status : String(error);
  }
}

// A follow-up to an unknown session is 404; to an ended one 410 (the seed's answers).
const nobody = client.session({ sessionId: "ses_nope", continuationToken: "t", streamIndex: 0 });
out.unknownStatus = await status(nobody.send("anyone?"));
await client.fetch(`/api/v1/sessions/${first.sessionId}/kill`, { method: "POST" });
for (let n = 0; n < 200; n++) {
  const record = await (await client.fetch(`/api/v1/sessions/${first.sessionId}`)).json();
  if (record.status === "killed") break;
  await new Promise((resolve) => setTimeout(resolve, 25));
}
out.endedStatus = await status(session.send("still there?"));

console.log(JSON.stringify(out));

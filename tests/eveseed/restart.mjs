// The seed's eve client (0.18.2) across a daemon restart: `node restart.mjs before`
// creates a session and prints the client's state; `node restart.mjs after` (with
// EVE_STATE) follows up on it once the daemon has restarted. Prints what it saw.
import { Agent, setGlobalDispatcher } from "undici";
import { Client, ClientError } from "eve/client";

setGlobalDispatcher(new Agent({ connect: { socketPath: process.env.COVEN_SOCKET } }));
const client = new Client({ host: "http://localhost" });
const out = {};

if (process.argv[2] === "before") {
  const session = client.session();
  const reply = await session.send("before");
  out.status = (await reply.result()).status;
  out.state = session.state;
} else {
  const session = client.session(JSON.parse(process.env.EVE_STATE));
  try {
    await (await session.send("after the restart")).result();
    out.after = "accepted";
  } catch (error) {
    out.after = error instanceof ClientError ? error.status : String(error);
  }
}
console.log(JSON.stringify(out));

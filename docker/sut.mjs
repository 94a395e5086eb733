// The system under test of docker-compose.yml: plain Node (fetch and WebSocket, no packages) that trusts
// the emulator's CA through NODE_EXTRA_CA_CERTS. It reads the Domain API, gets an unauthenticated consumer
// JWT, opens the consumer socket on the host the Domain API named and prints the InitConnection answer.
// Run with `node --experimental-websocket` on Node 20 (WebSocket is global from Node 22 on).
const base = process.env.EMULATOR_URL ?? "https://emulator:8443";
const account = process.env.LP_ACCOUNT ?? "12345678";
const connector = process.env.LP_CONNECTOR ?? "2468";
setTimeout(() => { console.error("no answer in 10 s"); process.exit(1); }, 10_000).unref();

async function call(path, init = {}) {
  const answer = await fetch(base + path, init);
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}
const post = (path, body) => call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });

const { baseURI } = await call(`/api/account/${account}/service/asyncMessagingEnt/baseURI.json?version=1.0`);
const { token: extJwt } = await post(`/api/account/${account}/anonymous/authorize`);
const { token: jwt } = await post(`/api/account/${account}/app/${connector}/authenticate?v=3.0`, { id_token: extJwt });
const socket = new WebSocket(`wss://${baseURI}/ws_api/account/${account}/messaging/consumer?v=3`);
socket.onopen = () => socket.send(JSON.stringify({
  kind: "req", id: "1", type: "InitConnection", headers: [{ type: ".ams.headers.ConsumerAuthentication", jwt }],
}));
socket.onmessage = (event) => { console.log(event.data); process.exit(JSON.parse(event.data).code === 200 ? 0 : 1); };
socket.onerror = (event) => { console.error(`socket error: ${event.message ?? event.type}`); process.exit(1); };
socket.onclose = (event) => { console.error(`socket closed: ${event.code} ${event.reason}`); process.exit(1); };

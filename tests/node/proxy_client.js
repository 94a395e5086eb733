// A Node client of the emulator's HTTPS proxy (tests/test_proxy.py): unmodified `request` code on the real
// host names, honouring HTTPS_PROXY and trusting the proxy's CA (NODE_EXTRA_CA_CERTS), then the consumer
// WebSocket on the host the Domain API named, through the same proxy (`ws` with a CONNECT agent).
// Prints one JSON line: {baseURI, status, frame}. Both packages come with node-agent-sdk (package-lock.json).
"use strict";
const request = require("request");
const tunnel = require("tunnel-agent");
const WebSocket = require("ws");

const account = process.argv[2];
const connector = process.argv[3];
const fail = (why) => { console.error(String(why)); process.exit(1); };
setTimeout(() => fail("no answer in 20 s"), 20000).unref();

function call(options) {
  return new Promise((resolve, reject) => request(Object.assign({ json: true }, options), (error, response, body) =>
    error ? reject(error) : resolve({ status: response.statusCode, body })));
}

(async () => {
  const domain = await call({ url: `https://api.liveperson.net/api/account/${account}/service/asyncMessagingEnt/baseURI.json?version=1.0` });
  const ext = await call({ method: "POST", url: `https://va.idp.liveperson.net/api/account/${account}/anonymous/authorize` });
  const lp = await call({ method: "POST", url: `https://va.idp.liveperson.net/api/account/${account}/app/${connector}/authenticate?v=3.0`, body: { id_token: ext.body.token } });
  const proxy = new URL(process.env.HTTPS_PROXY);
  const agent = tunnel.httpsOverHttp({ proxy: { host: proxy.hostname, port: Number(proxy.port) } });
  const socket = new WebSocket(`wss://${domain.body.baseURI}/ws_api/account/${account}/messaging/consumer?v=3`, {
    agent, headers: { Authorization: `jwt ${lp.body.token}` },
  });
  socket.on("open", () => socket.send(JSON.stringify({ kind: "req", id: "1", type: "GetClock", body: {} })));
  socket.on("message", (data) => {
    console.log(JSON.stringify({ baseURI: domain.body.baseURI, status: lp.status, frame: JSON.parse(data) }));
    process.exit(0);
  });
  socket.on("error", fail);
  socket.on("close", (code) => fail(`socket closed: ${code}`));
})().catch(fail);

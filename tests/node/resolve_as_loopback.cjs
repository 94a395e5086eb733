// Test preload (`node --require`): the host names in RESOLVE_AS_LOOPBACK (comma-separated) resolve to
// 127.0.0.1, as a compose network resolves its service names; every other name resolves as usual.
const dns = require("node:dns");

const names = new Set((process.env.RESOLVE_AS_LOOPBACK ?? "").split(",").filter(Boolean));
const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (!names.has(host)) return lookup.call(this, host, options, callback);
  const done = typeof options === "function" ? options : callback;
  const all = typeof options === "object" && options !== null && options.all;
  if (all) process.nextTick(done, null, [{ address: "127.0.0.1", family: 4 }]);
  else process.nextTick(done, null, "127.0.0.1", 4);
};

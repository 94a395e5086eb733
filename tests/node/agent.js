'use strict';
// LivePerson's node-agent-sdk (npm 1.2.0) as a real client of the emulator, driven by tests/test_node_agent_sdk.py.
// argv[2]: JSON config {accountId, csdsDomain, mode: password|apikeys|token, credentials, refreshSessionInterval,
// timeoutMs}. Prints one JSON line per event (connected, getClock, error, closed, exit); exits on "exit" from
// stdin, or after timeoutMs. Run with NODE_EXTRA_CA_CERTS=<the emulator's CA>.
const Agent = require('node-agent-sdk').Agent;

const conf = JSON.parse(process.argv[2]);
const emit = (event, fields) => process.stdout.write(JSON.stringify(Object.assign({event}, fields || {})) + '\n');

const options = {accountId: conf.accountId, csdsDomain: conf.csdsDomain};
if (conf.refreshSessionInterval) options.refreshSessionInterval = conf.refreshSessionInterval;
Object.assign(options, conf.credentials);  // password: username+password; apikeys: username+appKey+...; token: token+userId

let agent;
const finish = (code) => {
    emit('exit', {code});
    try { if (agent) agent.dispose(); } catch (e) { /* already gone */ }
    process.exit(code);
};

try {
    agent = new Agent(options);
} catch (e) {
    emit('error', {message: e.message, code: e.code === undefined ? null : e.code});
    finish(2);
}

agent.on('connected', () => {
    emit('connected', {agentId: agent.agentId === undefined ? null : agent.agentId});
    agent.getClock({}, (err, body) => {
        if (err) emit('getClock', {ok: false, message: err.message || String(err), code: err.code === undefined ? null : err.code});
        else emit('getClock', {ok: true, body});
    });
});
agent.on('error', (err) => {
    const message = err && (typeof err.message === 'string' ? err.message : JSON.stringify(err.message));
    emit('error', {message: message || String(err), code: err && err.code !== undefined ? err.code : null});
});
agent.on('closed', (reason) => emit('closed', {reason: reason === undefined ? null : reason}));

process.stdin.on('data', (chunk) => { if (String(chunk).includes('exit')) finish(0); });
setTimeout(() => finish(0), conf.timeoutMs || 15000);

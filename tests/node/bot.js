'use strict';
// A bot on LivePerson's node-agent-sdk (npm 1.2.0), modelled on the SDK's examples/agent-bot (MyCoolAgent):
// it goes ONLINE, follows its own conversations (agentIds), accepts every WAITING ring, greets the consumer
// with its profile, answers the consumer's first message, then transfers the conversation to another skill.
// argv[2]: JSON {accountId, csdsDomain, credentials, transferSkill, timeoutMs}. Prints one JSON line per step
// (connected, ring, accepted, conversation, profile, message, replied, transferred, deleted, error, exit).
const Agent = require('node-agent-sdk').Agent;

const conf = JSON.parse(process.argv[2]);
const emit = (event, fields) => process.stdout.write(JSON.stringify(Object.assign({event}, fields || {})) + '\n');
const failed = (step) => (err, body) => { if (err) emit('error', {step, message: err.message || JSON.stringify(err), code: err.code}); return body; };

const agent = new Agent(Object.assign({accountId: conf.accountId, csdsDomain: conf.csdsDomain}, conf.credentials));
const openConvs = {};

agent.on('connected', () => {
    emit('connected', {agentId: agent.agentId});
    agent.setAgentState({availability: 'ONLINE'}, failed('setAgentState'));
    agent.subscribeExConversations({agentIds: [agent.agentId], convState: ['OPEN']}, failed('subscribeExConversations'));
    agent.subscribeRoutingTasks({}, failed('subscribeRoutingTasks'));
});

agent.on('routing.RoutingTaskNotification', body => {
    body.changes.forEach(c => {
        if (c.type !== 'UPSERT') return;
        c.result.ringsDetails.forEach(r => {
            emit('ring', {conversationId: c.result.conversationId, ringState: r.ringState, skillId: c.result.skillId});
            if (r.ringState === 'WAITING') {
                agent.updateRingState({ringId: r.ringId, ringState: 'ACCEPTED'}, (err, resp) => {
                    failed('updateRingState')(err);
                    emit('accepted', {body: resp === undefined ? null : resp});
                });
            }
        });
    });
});

agent.on('cqm.ExConversationChangeNotification', body => {
    body.changes.forEach(change => {
        const convId = change.result.convId;
        if (change.type === 'UPSERT' && !openConvs[convId]) {
            openConvs[convId] = {answered: false};
            const participants = change.result.conversationDetails.participants;
            emit('conversation', {convId, participants});
            const consumerId = participants.filter(p => p.role === 'CONSUMER')[0].id;
            agent.getUserProfile(consumerId, (err, profile) => {
                failed('getUserProfile')(err);
                emit('profile', {profile: profile === undefined ? null : profile});
                agent.publishEvent({dialogId: convId, event: {type: 'ContentEvent', contentType: 'text/plain',
                    message: `Just joined to conversation with ${JSON.stringify(profile)}`}}, failed('publishEvent'));
            });
            agent.subscribeMessagingEvents({dialogId: convId}, failed('subscribeMessagingEvents'));
        } else if (change.type === 'DELETE') {
            delete openConvs[convId];
            emit('deleted', {convId});
        }
    });
});

agent.on('ms.MessagingEventNotification', body => {
    body.changes.forEach(c => {
        const conv = openConvs[c.dialogId];
        if (!conv || c.event.type !== 'ContentEvent' || c.originatorId === agent.agentId || conv.answered) return;
        conv.answered = true;
        emit('message', {dialogId: c.dialogId, sequence: c.sequence, message: c.event.message});
        agent.publishEvent({dialogId: c.dialogId, event: {type: 'AcceptStatusEvent', status: 'READ', sequenceList: [c.sequence]}}, failed('read'));
        agent.publishEvent({dialogId: c.dialogId, event: {type: 'ContentEvent', contentType: 'text/plain',
            message: `you said: ${c.event.message}`}}, (err, resp) => {
            failed('reply')(err);
            emit('replied', {body: resp === undefined ? null : resp});
            agent.updateConversationField({conversationId: c.dialogId, conversationField: [
                {field: 'ParticipantsChange', type: 'REMOVE', role: 'ASSIGNED_AGENT'},
                {field: 'Skill', type: 'UPDATE', skill: conf.transferSkill}]}, (err2, resp2) => {
                failed('transfer')(err2);
                emit('transferred', {body: resp2 === undefined ? null : resp2});
            });
        });
    });
});

agent.on('error', err => emit('error', {message: err && (err.message || JSON.stringify(err)), code: err && err.code}));
agent.on('closed', reason => emit('closed', {reason: reason === undefined ? null : reason}));

const finish = (code) => { emit('exit', {code}); try { agent.dispose(); } catch (e) { /* gone */ } process.exit(code); };
process.stdin.on('data', (chunk) => { if (String(chunk).includes('exit')) finish(0); });
setTimeout(() => finish(0), conf.timeoutMs || 20000);

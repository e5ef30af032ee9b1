// Drives quire with the imapflow client: CONDSTORE/QRESYNC, MOVE and IDLE.
// Usage: node imapflow.mjs HOST PORT USER PASS
// Prints "IDLING" when it waits for a delivery the caller makes, and
// "imapflow ok" when every check passed.
import { ImapFlow } from 'imapflow';

const [host, port, user, pass] = process.argv.slice(2);
const opts = { host, port: Number(port), secure: false, auth: { user, pass }, logger: false, qresync: true };
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };
const timeout = (ms, what) => new Promise((_, rej) => setTimeout(() => rej(new Error(what + ' timed out')), ms));

const c = new ImapFlow(opts);
await c.connect();
if (!c.enabled.has('QRESYNC')) fail('QRESYNC not enabled: ' + [...c.enabled]);
let lock = await c.getMailboxLock('INBOX');
const box = c.mailbox;
if (box.exists !== 3) fail('INBOX exists ' + box.exists);
const hms = box.highestModseq;
if (!hms) fail('no HIGHESTMODSEQ');

const subjects = [];
for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) subjects.push(m.envelope.subject);
if (subjects.join(',') !== 'one,two,three') fail('subjects ' + subjects);

// CONDSTORE: one flag change, then only that message is changed since.
await c.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
const changed = [];
for await (const m of c.fetch('1:*', { uid: true, flags: true, modseq: true }, { changedSince: hms, uid: true })) changed.push(m.uid);
if (changed.join(',') !== '1') fail('changed since ' + hms + ': ' + changed);

// MOVE (RFC 6851) with COPYUID.
const moved = await c.messageMove('2', 'Archive', { uid: true });
if (!moved || !moved.uidMap || moved.uidMap.get(2) === undefined) fail('move result ' + JSON.stringify(moved));

// Another session expunges: with QRESYNC this session hears VANISHED.
const vanished = new Promise((res) => c.on('expunge', (d) => { if (d.vanished) res(d); }));
const exists = new Promise((res) => c.on('exists', (d) => res(d)));
const o = new ImapFlow(opts);
await o.connect();
const olock = await o.getMailboxLock('INBOX');
await o.messageDelete('3', { uid: true });
olock.release();
await o.logout();

// IDLE: the caller delivers a message while we idle.
const idling = c.idle();
console.log('IDLING');
const ex = await Promise.race([exists, timeout(10000, 'EXISTS during IDLE')]);
if (ex.count !== 2) fail('exists during IDLE: ' + JSON.stringify(ex));
const v = await Promise.race([vanished, timeout(10000, 'VANISHED')]);
if (v.uid !== 3) fail('vanished ' + JSON.stringify(v));
await c.noop();
await idling.catch(() => {});

const st = await c.status('Archive', { messages: true, highestModseq: true });
if (st.messages !== 1) fail('Archive has ' + st.messages);
lock.release();
await c.logout();
console.log('imapflow ok');

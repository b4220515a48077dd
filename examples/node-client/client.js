// A typical WebSocket client, written the way many are: a fixed reconnect
// delay, an application-level heartbeat with a generous timeout, no resume.
// It is here to be measured by wschaos, not copied: see README.md.
//
// Node.js 22+ has WebSocket built in; Node.js 20 needs --experimental-websocket.
// Zero dependencies.
'use strict';

const url = process.env.WSCHAOS_URL;
const clientId = process.env.WSCHAOS_CLIENT_ID || 'node';
const caFile = process.env.WSCHAOS_CA_FILE;

const RECONNECT_DELAY_MS = 1000; // fixed: no backoff, no jitter
const HEARTBEAT_MS = 1000; // send an echo this often...
const DEAD_AFTER_MS = 3000; // ...and give up after this long without any message

if (!url) {
  console.error('WSCHAOS_URL is not set: run me under wschaos (wschaos run --client-cmd ...)');
  process.exit(2);
}
if (typeof WebSocket === 'undefined') {
  console.error('no WebSocket in this Node.js: use Node.js 22+, or node --experimental-websocket on 20');
  process.exit(2);
}
// Node reads extra CA certificates only at start-up: run again with them.
if (caFile && process.env.NODE_EXTRA_CA_CERTS !== caFile) {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.execPath, [...process.execArgv, __filename], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
  });
  process.exit(r.status ?? 1);
}

const log = (...args) => console.log(new Date().toISOString(), ...args);
let echoId = 0;

function connect() {
  const ws = new WebSocket(url);
  let lastSeen = Date.now();
  let heartbeat;
  let done = false;

  const reconnect = (why) => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    log('disconnected:', why, `- reconnecting in ${RECONNECT_DELAY_MS} ms`);
    try { ws.close(); } catch { /* already closing */ }
    setTimeout(connect, RECONNECT_DELAY_MS);
  };

  ws.onopen = () => {
    log('connected');
    ws.send(JSON.stringify({ type: 'hello', client_id: clientId }));
    heartbeat = setInterval(() => {
      if (Date.now() - lastSeen > DEAD_AFTER_MS) return reconnect('heartbeat timeout');
      ws.send(JSON.stringify({ type: 'echo', id: ++echoId, body: 'ping' }));
    }, HEARTBEAT_MS);
  };
  ws.onmessage = (ev) => {
    lastSeen = Date.now();
    const msg = JSON.parse(ev.data);
    if (msg.type === 'welcome') log('welcome, session', msg.session);
  };
  ws.onclose = (ev) => reconnect(`close ${ev.code} ${ev.reason}`.trim());
  // Node 20 fires only error, not close, when the connection fails.
  ws.onerror = (ev) => reconnect(`error ${ev.message || ''}`.trim());
}

process.on('SIGTERM', () => { log('SIGTERM: bye'); process.exit(0); });
connect();

// A plain reconnecting WebSocket client on the `ws` package, the way many
// are written: echo what arrives, reconnect a fixed 1 s after a loss, no
// heartbeat. It never speaks the wschaos protocol. See README.md.
'use strict';
const fs = require('node:fs');
const WebSocket = require('ws');

const url = process.env.WSCHAOS_URL;
const ca = process.env.WSCHAOS_CA_FILE ? fs.readFileSync(process.env.WSCHAOS_CA_FILE) : undefined;
const RECONNECT_MS = 1000;
if (!url) {
  console.error('WSCHAOS_URL is not set: run me under wschaos run --client-cmd');
  process.exit(2);
}

function connect() {
  const ws = new WebSocket(url, { ca });
  let retried = false;
  const retry = (why) => {
    if (retried) return;
    retried = true;
    console.log('lost:', why, `- reconnecting in ${RECONNECT_MS} ms`);
    setTimeout(connect, RECONNECT_MS);
  };
  ws.on('open', () => console.log('connected'));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code) => retry(`close ${code}`));
  ws.on('error', (err) => { retry(err.message); ws.terminate(); });
}

process.on('SIGTERM', () => process.exit(0));
connect();

// The examples/node-ws client with a heartbeat: it pings every 2 s and
// declares the connection dead (and reconnects a fixed 1 s later) when
// nothing, neither the pong nor a message, has come back by the next ping,
// 2 s later. Declared to wschaos as --ping-interval 2s --pong-timeout 2s.
// See ../node-ws/README.md.
'use strict';
const fs = require('node:fs');
const WebSocket = require('ws');

const url = process.env.WSCHAOS_URL;
const ca = process.env.WSCHAOS_CA_FILE ? fs.readFileSync(process.env.WSCHAOS_CA_FILE) : undefined;
const RECONNECT_MS = 1000;
const PING_MS = 2000; // a ping every 2 s; dead if nothing answers it in 2 s
if (!url) {
  console.error('WSCHAOS_URL is not set: run me under wschaos run --client-cmd');
  process.exit(2);
}

function connect() {
  const ws = new WebSocket(url, { ca });
  let retried = false;
  let awaitingPong = false;
  let heartbeat;
  const retry = (why) => {
    if (retried) return;
    retried = true;
    clearInterval(heartbeat);
    console.log('lost:', why, `- reconnecting in ${RECONNECT_MS} ms`);
    setTimeout(connect, RECONNECT_MS);
  };
  ws.on('open', () => {
    console.log('connected');
    heartbeat = setInterval(() => {
      if (awaitingPong) {
        retry('nothing within 2 s of a ping');
        ws.terminate();
        return;
      }
      awaitingPong = true;
      ws.ping();
    }, PING_MS);
  });
  ws.on('pong', () => { awaitingPong = false; });
  ws.on('message', (data, isBinary) => {
    awaitingPong = false; // any frame shows the peer alive
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code) => retry(`close ${code}`));
  ws.on('error', (err) => { retry(err.message); ws.terminate(); });
}

process.on('SIGTERM', () => process.exit(0));
connect();

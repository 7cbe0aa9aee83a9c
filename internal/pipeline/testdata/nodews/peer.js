'use strict';
// A ws server and client pair per compression mode, run one connection after
// the other so that a single capture holds them all.
//
// Usage: node peer.js plan.json
//
// plan.json: {"threshold": n,
//             "modes": [{"name": s, "server": {...}, "client": {...}}],
//             "greeting": {"binary": b, "data": base64},
//             "messages": [{"binary": b, "data": base64, "parts": n, "compress": c}]}
// "server" and "client" are the perMessageDeflate options of each side.
// Both sides send every message with the compress option it has in the plan
// (ws still sends a message below the threshold uncompressed when the
// sender does not keep its context); the greeting is sent with it on.
//
// Protocol on stdio: the script prints {"ports": {name: port}} once every
// server listens, waits for a line on stdin (the capture is running), then
// for each mode the client sends the messages (a message with parts > 1 as
// that many frames), the server sends the greeting on connection and echoes
// every message, the client closes with 1000 once it has every echo. At the
// end the script prints {"received": {name: {"client": [...], "server": [...]}}}
// with the base64 of every message each side received, and exits 0.

const fs = require('fs');
const readline = require('readline');
const { WebSocket, WebSocketServer } = require('ws');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const decode = (m) => ({
  binary: m.binary,
  data: Buffer.from(m.data, 'base64'),
  parts: m.parts || 1,
  compress: m.compress !== false,
});
const messages = plan.messages.map(decode);
const greeting = decode(plan.greeting);

function fail(err) {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
}
process.on('uncaughtException', fail);
setTimeout(() => fail('timed out'), 30000).unref();

function listen(mode) {
  return new Promise((resolve, reject) => {
    const received = [];
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: Object.assign({ threshold: plan.threshold }, mode.server),
    });
    wss.on('error', reject);
    wss.on('connection', (ws) => {
      ws.on('error', fail);
      ws.send(greeting.data, { binary: greeting.binary });
      ws.on('message', (data, isBinary) => {
        const m = messages[received.length];
        received.push(Buffer.from(data).toString('base64'));
        ws.send(data, { binary: isBinary, compress: m ? m.compress : true });
      });
    });
    wss.on('listening', () => resolve({ wss, received }));
  });
}

function talk(mode, port) {
  return new Promise((resolve, reject) => {
    const received = [];
    const ws = new WebSocket('ws://127.0.0.1:' + port + '/', {
      perMessageDeflate: Object.assign({ threshold: plan.threshold }, mode.client),
    });
    ws.on('error', reject);
    ws.on('open', () => {
      for (const m of messages) {
        const n = m.parts;
        const size = Math.ceil(m.data.length / n);
        for (let i = 0; i < n; i++) {
          const part = m.data.subarray(i * size, Math.min(m.data.length, (i + 1) * size));
          ws.send(part, { binary: m.binary, compress: m.compress, fin: i === n - 1 });
        }
      }
    });
    ws.on('message', (data) => {
      received.push(Buffer.from(data).toString('base64'));
      if (received.length === messages.length + 1) {
        ws.close(1000, 'done');
      }
    });
    ws.on('close', (code) => {
      if (code !== 1000) {
        reject(new Error(mode.name + ': closed with ' + code));
        return;
      }
      resolve(received);
    });
  });
}

async function main() {
  const servers = [];
  const ports = {};
  for (const mode of plan.modes) {
    const s = await listen(mode);
    servers.push(s);
    ports[mode.name] = s.wss.address().port;
  }
  process.stdout.write(JSON.stringify({ ports }) + '\n');

  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();

  const received = {};
  for (let i = 0; i < plan.modes.length; i++) {
    const mode = plan.modes[i];
    const client = await talk(mode, ports[mode.name]);
    received[mode.name] = { client, server: servers[i].received };
  }
  for (const s of servers) {
    s.wss.close();
  }
  process.stdout.write(JSON.stringify({ received }) + '\n');
}

main().catch(fail);

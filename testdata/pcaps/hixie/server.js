// WebSocket server for the hixie captures: websocket-driver (the protocol
// engine of faye-websocket) with allowDrafts, so that it answers draft-75
// and draft-76 upgrade requests. It listens on 127.0.0.1 on a free
// port, prints the port on stdout, and writes every message it sends as a
// JSON line to the file named by its first argument.
//
//   /refused      answered with 403 and a body, no upgrade
//   anything else upgraded; the server greets the client, echoes every
//                 message, and starts the closing handshake itself when a
//                 message says "please close"
'use strict';

const http = require('http');
const fs = require('fs');
const driver = require('websocket-driver');

const log = fs.openSync(process.argv[2], 'w');
const record = (conn, type, data) =>
  fs.writeSync(log, JSON.stringify({ conn, dir: 'server', type, data }) + '\n');

const server = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

server.on('upgrade', (req, socket, body) => {
  const conn = req.url;
  if (req.url === '/refused') {
    const text = 'no WebSocket here\n';
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n' +
      'Content-Length: ' + Buffer.byteLength(text) + '\r\nConnection: close\r\n\r\n' + text);
    return;
  }
  if (!driver.isWebSocket(req)) {
    socket.destroy();
    return;
  }
  const ws = driver.http(req, { allowDrafts: true });
  ws.io.write(body);
  socket.pipe(ws.io).pipe(socket);
  ws.on('open', () => {
    const greeting = 'welcome, ' + ws.version;
    record(conn, 'text', greeting);
    ws.text(greeting);
  });
  ws.messages.on('data', (data) => {
    if (data === 'please close') {
      ws.close();
      return;
    }
    record(conn, 'text', data);
    ws.text(data);
  });
  ws.on('close', () => {
    // The draft-76 driver sends 0xFF 0x00 when it closes, whether it starts
    // the closing handshake or answers the client's; draft 75 has none.
    if (ws.version === 'hixie-76') record(conn, 'close', '');
    socket.end();
  });
  socket.on('error', () => {});
  ws.start();
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});

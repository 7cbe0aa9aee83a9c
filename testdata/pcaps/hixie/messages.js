// Joins the JSON-line logs of client.pl and server.js into one document:
//
//   {"conversations": [{"path": "/76-client-close",
//                       "client": [{"type": "text", "data": "..."}, ...],
//                       "server": [...]}, ...]}
//
// in the order the conversations were run; each list in the order sent.
//   node messages.js CLIENT_LOG SERVER_LOG CONVERSATION...
'use strict';
const fs = require('fs');
const [clientLog, serverLog, ...convs] = process.argv.slice(2);
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const all = lines(clientLog).concat(lines(serverLog));
const out = {
  conversations: convs.map((path) => ({
    path,
    client: all.filter((m) => m.conn === path && m.dir === 'client').map(({ type, data }) => ({ type, data })),
    server: all.filter((m) => m.conn === path && m.dir === 'server').map(({ type, data }) => ({ type, data })),
  })),
};
process.stdout.write(JSON.stringify(out, null, 1) + '\n');

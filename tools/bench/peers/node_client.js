// Node's http with a keep-alive Agent as a peer of tools/bench/compare
// (command line and output as tools/bench/compare_peer.h and
// peers/peerlib.py have them):
//
//     node node_client.js load [--concurrency=C] [--requests=N] URL
//     node node_client.js urls [--limit=L] URL...
//
// load: an Agent keeping C sockets alive, C async loops each sending its
// next GET when the last body has ended. urls: every GET at once through an
// Agent with maxTotalSockets L (no limit for 0).
'use strict';
const http = require('http');

const [mode, ...rest] = process.argv.slice(2);
const opts = {'--concurrency': 1, '--requests': 1, '--limit': 0};
const urls = [];
for (const a of rest) {
  const [name, value] = a.split('=');
  if (value !== undefined && name in opts) opts[name] = Number(value);
  else if (!a.startsWith('-')) urls.push(a);
  else { console.error('bad argument: ' + a); process.exit(2); }
}

let ok = 0, failed = 0, why = '';
function get(agent, url) {
  return new Promise((resolve) => {
    const fail = (e) => { failed++; if (!why) why = String(e).replace(/\n/g, ' '); resolve(); };
    http.get(url, {agent}, (res) => {
      res.on('data', () => {});
      res.on('end', () => { if (res.statusCode === 200) ok++; else fail('status ' + res.statusCode); resolve(); });
      res.on('error', fail);
    }).on('error', fail);
  });
}

async function main() {
  const start = process.hrtime.bigint();
  if (mode === 'load') {
    const agent = new http.Agent({keepAlive: true, maxSockets: opts['--concurrency']});
    let left = opts['--requests'];
    const lane = async () => { while (left-- > 0) await get(agent, urls[0]); };
    await Promise.all(Array.from({length: opts['--concurrency']}, lane));
    agent.destroy();
  } else if (mode === 'urls') {
    const limit = opts['--limit'] || Infinity;
    const agent = new http.Agent({keepAlive: true, maxTotalSockets: limit, maxSockets: Infinity});
    await Promise.all(urls.map((u) => get(agent, u)));
    agent.destroy();
  } else {
    console.error('usage: node node_client.js load|urls ...'); process.exit(2);
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`compare-result ok=${ok} failed=${failed} wall_s=${wall.toFixed(6)} connections=0 why=${why}`);
}
main();

#!/usr/bin/env node
// A local webhook receiver for the README tour (the three-tier plan's notify-oncall webhook posts
// to http://127.0.0.1:7071/dr/erp): prints each POST as one JSON line and answers 204.
//   node scripts/webhook-receiver.mjs [--port 7071]      (--port 0 picks a free port)
import { createServer } from 'node:http';

const at = process.argv.indexOf('--port');
const port = at === -1 ? 7071 : Number(process.argv[at + 1]);
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = body;
    }
    process.stdout.write(
      `${JSON.stringify({ at: new Date().toISOString(), method: req.method, path: req.url, idempotencyKey: req.headers['idempotency-key'], body: json })}\n`,
    );
    res.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${address.port}` })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)));

'use strict';

const http = require('node:http');
const { parseClientIp } = require('./client-ip');

// A visit report is a few dozen bytes; anything much larger is a mistake or abuse.
const MAX_BODY_BYTES = 16 * 1024;

function sendJson(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        // Keep the socket so the 413 can be sent; the rest of the body is ignored.
        reject(Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The access-log API. State (the visit count) lives in memory and starts at zero with the process.
 * `log` receives one line per request.
 */
function createServer({ log = console.log } = {}) {
  let visits = 0;

  async function recordVisit(req, res) {
    const parsed = parseClientIp(await readBody(req, MAX_BODY_BYTES));
    if (parsed.error) {
      sendJson(res, 400, { error: parsed.error });
      return;
    }
    visits += 1;
    sendJson(res, 201, { clientIp: parsed.clientIp, logs: visits });
  }

  function stats(req, res) {
    sendJson(res, 200, { logs: visits });
  }

  function health(req, res) {
    sendJson(res, 200, { status: 'ok' });
  }

  const routes = {
    '/access-log': { GET: stats, POST: recordVisit },
    '/stats': { GET: stats },
    '/health': { GET: health },
  };

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://localhost');
    const route = routes[pathname];
    if (!route) {
      sendJson(res, 404, { error: `no route for ${pathname}` });
      return;
    }
    const handler = route[req.method];
    if (!handler) {
      res.setHeader('Allow', Object.keys(route).join(', '));
      sendJson(res, 405, { error: `${req.method} is not allowed on ${pathname}` });
      return;
    }
    await handler(req, res);
  }

  return http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const millis = Number((process.hrtime.bigint() - started) / 1_000_000n);
      log(`${req.method} ${req.url} ${res.statusCode} ${millis}ms`);
    });
    handle(req, res).catch((err) => {
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      const status = err.status || 500;
      if (status === 413) {
        res.setHeader('Connection', 'close');
      }
      sendJson(res, status, { error: status === 500 ? 'internal error' : err.message });
    });
  });
}

module.exports = { createServer, MAX_BODY_BYTES };

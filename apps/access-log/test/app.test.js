'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createServer, MAX_BODY_BYTES } = require('../src/app');

/** Starts a fresh server (count at zero) on a free loopback port. */
async function start() {
  const lines = [];
  const server = createServer({ log: (line) => lines.push(line) });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  function request(method, path, body) {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      if (body !== undefined) {
        req.setHeader('Content-Type', 'application/json');
        req.write(body);
      }
      req.end();
    });
  }

  const stop = () => new Promise((resolve) => server.close(resolve));
  return { request, stop, lines };
}

test('counts visits posted to /access-log', async (t) => {
  const api = await start();
  t.after(api.stop);

  assert.deepEqual((await api.request('GET', '/access-log')).json, { logs: 0 });

  const created = await api.request('POST', '/access-log', '{"clientIp": "::ffff:172.18.0.9"}');
  assert.equal(created.status, 201);
  assert.match(created.headers['content-type'], /^application\/json/);
  assert.deepEqual(created.json, { clientIp: '172.18.0.9', logs: 1 });

  await api.request('POST', '/access-log', '{"clientIp": "10.0.0.2"}');
  assert.deepEqual((await api.request('GET', '/access-log')).json, { logs: 2 });
  assert.deepEqual((await api.request('GET', '/stats')).json, { logs: 2 });
});

test('rejects malformed visits with 400 and does not count them', async (t) => {
  const api = await start();
  t.after(api.stop);

  for (const body of ['not json', '{}', '{"clientIp": "nope"}']) {
    const response = await api.request('POST', '/access-log', body);
    assert.equal(response.status, 400, body);
    assert.equal(typeof response.json.error, 'string');
  }
  assert.deepEqual((await api.request('GET', '/stats')).json, { logs: 0 });
});

test('rejects an oversized body with 413', async (t) => {
  const api = await start();
  t.after(api.stop);

  const padding = 'x'.repeat(MAX_BODY_BYTES + 1);
  const response = await api.request('POST', '/access-log', `{"clientIp": "10.0.0.1", "pad": "${padding}"}`);
  assert.equal(response.status, 413);
  assert.equal(typeof response.json.error, 'string');
});

test('answers /health', async (t) => {
  const api = await start();
  t.after(api.stop);

  const response = await api.request('GET', '/health');
  assert.equal(response.status, 200);
  assert.deepEqual(response.json, { status: 'ok' });
});

test('unknown paths are 404 and wrong methods 405, both as JSON', async (t) => {
  const api = await start();
  t.after(api.stop);

  assert.equal((await api.request('GET', '/nope')).status, 404);
  const wrongMethod = await api.request('DELETE', '/access-log');
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'GET, POST');
  assert.equal(typeof wrongMethod.json.error, 'string');
});

test('logs one line per request', async (t) => {
  const api = await start();
  t.after(api.stop);

  await api.request('GET', '/health');
  await api.request('POST', '/access-log', '{"clientIp": "10.0.0.3"}');
  // 'finish' fires after the response is handed to the socket, possibly after the client read it.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(api.lines.map((line) => line.replace(/ \d+ms$/, '')), [
    'GET /health 200',
    'POST /access-log 201',
  ]);
});

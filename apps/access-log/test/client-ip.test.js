'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { parseClientIp } = require('../src/client-ip');

test('accepts an IPv4 address', () => {
  assert.deepEqual(parseClientIp('{"clientIp": "172.18.0.5"}'), { clientIp: '172.18.0.5' });
});

test('accepts an IPv6 address', () => {
  assert.deepEqual(parseClientIp('{"clientIp": "2001:db8::1"}'), { clientIp: '2001:db8::1' });
});

test('turns an IPv4-mapped IPv6 address into plain IPv4', () => {
  assert.deepEqual(parseClientIp('{"clientIp": "::ffff:10.0.0.7"}'), { clientIp: '10.0.0.7' });
});

test('ignores surrounding whitespace and extra fields', () => {
  assert.deepEqual(parseClientIp('{"clientIp": " 10.0.0.1 ", "agent": "x"}'), { clientIp: '10.0.0.1' });
});

for (const [name, body] of [
  ['not JSON', 'clientIp=10.0.0.1'],
  ['empty body', ''],
  ['a JSON array', '["10.0.0.1"]'],
  ['JSON null', 'null'],
  ['missing clientIp', '{"ip": "10.0.0.1"}'],
  ['clientIp not a string', '{"clientIp": 10}'],
  ['empty clientIp', '{"clientIp": "  "}'],
  ['clientIp not an address', '{"clientIp": "not-an-ip"}'],
  ['clientIp out of range', '{"clientIp": "300.1.1.1"}'],
]) {
  test(`rejects ${name}`, () => {
    const result = parseClientIp(body);
    assert.equal(result.clientIp, undefined);
    assert.match(result.error, /\S/);
  });
}

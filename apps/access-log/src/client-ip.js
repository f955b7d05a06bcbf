'use strict';

const ipaddr = require('ipaddr.js');

/**
 * Reads the visitor's address from a request body such as {"clientIp": "172.18.0.5"}.
 * Returns { clientIp } with the address normalised (an IPv4-mapped IPv6 address such as
 * "::ffff:172.18.0.5" becomes "172.18.0.5"), or { error } saying what is wrong.
 */
function parseClientIp(rawBody) {
  let body;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { error: 'body is not valid JSON' };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { error: 'body must be a JSON object like {"clientIp": "10.0.0.1"}' };
  }
  const { clientIp } = body;
  if (typeof clientIp !== 'string' || clientIp.trim() === '') {
    return { error: 'clientIp is required and must be a string' };
  }
  const candidate = clientIp.trim();
  if (!ipaddr.isValid(candidate)) {
    return { error: `clientIp is not an IP address: ${JSON.stringify(candidate)}` };
  }
  return { clientIp: ipaddr.process(candidate).toString() };
}

module.exports = { parseClientIp };

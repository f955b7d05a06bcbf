'use strict';

const { createServer } = require('./app');

const port = Number(process.env.PORT || 80);
const server = createServer();

server.listen(port, () => {
  console.log(`access-log listening on port ${server.address().port}`);
});

// `docker stop` sends SIGTERM (Ctrl-C sends SIGINT): stop accepting connections, let in-flight
// requests finish, drop idle keep-alive connections, then exit 0.
function shutdown(signal) {
  console.log(`access-log stopping on ${signal}`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Never hang on a slow client: the container runtime would kill us anyway.
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

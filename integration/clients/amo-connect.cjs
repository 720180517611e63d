// Sends a Node client's connections to addons.mozilla.org:443 to a local
// `amojwt serve --tls` instead, inside the client's process only: no hosts
// file, no port 443, no root. For clients that hard-code
// https://addons.mozilla.org (publish-browser-extension has no base-URL
// option at all).
//
//   AMO_CONNECT=127.0.0.1:8443 \
//   NODE_EXTRA_CA_CERTS=<data dir>/tls/ca.pem \
//   NODE_OPTIONS="--require /path/to/amo-connect.cjs" <client>
//
// AMO_CONNECT is the host:port the server accepts HTTPS on ([::1]:8443 for
// IPv6). NODE_OPTIONS, unlike `node --require`, reaches the npx bins and
// child processes a client starts. NODE_EXTRA_CA_CERTS is read once at
// Node's start, so it must be in the environment, not set from here.
//
// Only the TCP destination changes. The TLS layer still sends SNI
// addons.mozilla.org and checks the server's certificate against that name
// (the server's certificate must carry it, and the CA must be trusted), and
// HTTP requests still say Host: addons.mozilla.org, so the server builds
// its absolute URLs (upload url, download_url, file url) for
// https://addons.mozilla.org, which lead back here through this preload.
'use strict';

const dns = require('node:dns');
const net = require('node:net');

const AMO_HOST = 'addons.mozilla.org';
const AMO_PORT = 443;

// Refuse to run without a target: a client started without it would
// otherwise publish to the real addons.mozilla.org.
const target = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(process.env.AMO_CONNECT || '');
if (!target || Number(target[3]) < 1 || Number(target[3]) > 65535) {
  throw new Error(
    `amo-connect.cjs: AMO_CONNECT=${JSON.stringify(process.env.AMO_CONNECT || '')}: ` +
      'want host:port (or [ipv6]:port) of the amojwt serve --tls to send addons.mozilla.org:443 to');
}
const targetHost = target[1] || target[2];
const targetPort = Number(target[3]);

// Resolves the target instead of addons.mozilla.org. Taking dns.lookup's
// own arguments through keeps its answer shapes: net asks with {all: true}
// when it tries several addresses (autoSelectFamily, the default since
// Node 20), and for one address otherwise. An IP literal comes straight
// back without a DNS query.
function lookupTarget(hostname, options, callback) {
  return dns.lookup(targetHost, options, callback);
}

// Every TCP client connection in Node goes through
// net.Socket.prototype.connect: net.connect, tls.connect, http(s) agents
// (sign-addon's `request`) and the built-in fetch (undici). Patching the
// prototype catches all of them, whichever copy of undici or agent a
// client bundles.
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function amoConnect(...args) {
  // net.connect and tls.connect pass one options object, or net's
  // normalized [options, callback] array (marked with an internal symbol,
  // so the array itself must be kept and only its element replaced). The
  // positional form socket.connect(port, host) is left alone: no client
  // uses it.
  const normalized = Array.isArray(args[0]);
  const options = normalized ? args[0][0] : args[0];
  if (options && typeof options === 'object' && options.path == null &&
      typeof options.host === 'string' && options.host.toLowerCase() === AMO_HOST &&
      Number(options.port) === AMO_PORT) {
    // A copy: tls.connect keeps its own options object (host, servername)
    // for the certificate check, which must still see addons.mozilla.org.
    const redirected = { ...options, port: targetPort, lookup: lookupTarget };
    if (normalized) {
      args[0][0] = redirected;
    } else {
      args[0] = redirected;
    }
  }
  return connect.apply(this, args);
};

// A client that hard-codes https://addons.mozilla.org, as
// publish-browser-extension does: Node's built-in fetch (undici) asks for
// the caller's profile with a token from the AMO docs' example
// (jsonwebtoken.cjs), AMO_KEY and AMO_SECRET from the environment.
// Prints one JSON line: {"status": N, "body": "..."} for an answer, or
// {"error": "<code>"} (the TLS or socket error's code) and exit status 1
// when no answer came.
'use strict';

const { amoToken } = require('./jsonwebtoken.cjs');

const url = 'https://addons.mozilla.org/api/v5/accounts/profile/';

fetch(url, { headers: { Authorization: 'JWT ' + amoToken(process.env.AMO_KEY, process.env.AMO_SECRET) } })
  .then(async (res) => {
    process.stdout.write(JSON.stringify({ status: res.status, body: await res.text() }) + '\n');
  })
  .catch((err) => {
    // fetch rejects with "fetch failed"; what failed is in the cause.
    const code = (err.cause && (err.cause.code || err.cause.message)) || err.message;
    process.stdout.write(JSON.stringify({ error: code }) + '\n');
    process.exitCode = 1;
  });

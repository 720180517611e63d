// Signs a token exactly as the AMO docs' Node example does ("Authentication
// (External)"): npm jsonwebtoken, HS256, a Math.random() jti, exp = iat + 60.
// Reads AMO_KEY and AMO_SECRET from the environment; prints the token.
var jwt = require('jsonwebtoken');

var issuedAt = Math.floor(Date.now() / 1000);
var payload = {
  iss: process.env.AMO_KEY,
  jti: Math.random().toString(),
  iat: issuedAt,
  exp: issuedAt + 60,
};

var secret = process.env.AMO_SECRET;
var token = jwt.sign(payload, secret, {
  algorithm: 'HS256',  // HMAC-SHA256 signing algorithm
});
process.stdout.write(token + '\n');

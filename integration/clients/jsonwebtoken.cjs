// Signs a token exactly as the AMO docs' Node example does ("Authentication
// (External)"): npm jsonwebtoken, HS256, a Math.random() jti, exp = iat + 60.
// Run as a script, it reads AMO_KEY and AMO_SECRET from the environment and
// prints the token; required, it exports amoToken(key, secret).
var jwt = require('jsonwebtoken');

function amoToken(key, secret) {
  var issuedAt = Math.floor(Date.now() / 1000);
  var payload = {
    iss: key,
    jti: Math.random().toString(),
    iat: issuedAt,
    exp: issuedAt + 60,
  };
  return jwt.sign(payload, secret, {
    algorithm: 'HS256',  // HMAC-SHA256 signing algorithm
  });
}

module.exports = { amoToken };

if (require.main === module) {
  process.stdout.write(amoToken(process.env.AMO_KEY, process.env.AMO_SECRET) + '\n');
}

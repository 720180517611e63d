// Signs a token as `web-ext sign` does: npm jose, header {"alg":"HS256"},
// claims iss, iat and exp = iat + 300, and no jti. Reads AMO_KEY and
// AMO_SECRET from the environment; prints the token.
import { SignJWT } from 'jose';

const token = await new SignJWT({ iss: process.env.AMO_KEY })
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuedAt()
  .setExpirationTime('300seconds')
  .sign(new TextEncoder().encode(process.env.AMO_SECRET));
process.stdout.write(token + '\n');

"""Signs a token with PyJWT (Debian's python3-jwt) as Python AMO clients do.

Reads AMO_KEY and AMO_SECRET from the environment. With the argument
"float", iat and exp are floats (time.time()); otherwise integers. Prints
the token.
"""
import os
import sys
import time
import uuid

import jwt

now = time.time() if sys.argv[1:] == ["float"] else int(time.time())
payload = {
    "iss": os.environ["AMO_KEY"],
    "jti": str(uuid.uuid4()),
    "iat": now,
    "exp": now + 60,
}
token = jwt.encode(payload, os.environ["AMO_SECRET"], algorithm="HS256")
print(token if isinstance(token, str) else token.decode("ascii"))

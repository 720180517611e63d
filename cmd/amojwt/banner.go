package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// servedAPI names what serve answers besides /auth, /healthz, /readyz and
// /metrics, for the start-up log line: "profile" (the mock AMO API's
// accounts/profile endpoint), "profile+submissions" (with --mock-amo, also
// the add-on submission API of web-ext sign) or "upstream" (--upstream: an
// authenticating reverse proxy, no mock AMO API).
func servedAPI(c *serveConfig) string {
	switch {
	case c.upstream != "":
		return "upstream"
	case c.mockAMO:
		return "profile+submissions"
	}
	return "profile"
}

// printDemo tells the user of --demo how to call the server c configures,
// listening on addr: what it serves, the demo key, and lines to paste,
// whose outcome it states as c's replay policy makes it. guard is how long
// the reset guard still refuses tokens signed now (guardWait), 0 when it
// does not.
func printDemo(w io.Writer, program, addr string, c *serveConfig, guard time.Duration) {
	curl, base := c.demoCurl(addr)
	what, path := "a mock AMO API", "/api/v5/accounts/profile/"
	switch servedAPI(c) {
	case "upstream":
		target, _ := parseUpstream(c.upstream) // checked by c.check
		what, path = "an authenticating proxy to "+target.Redacted(), "/"
	case "profile+submissions":
		what = "a mock AMO API with the add-on submission API of web-ext sign"
	}
	replay := c.replayPolicy()
	second := map[verifier.ReplayPolicy]string{
		verifier.ReplayRefuse: "the second curl is refused: each token is good for one request",
		verifier.ReplayReport: "the second curl is accepted, as AMO accepts a reused token, and reported (X-Amojwt-Token-Reused: true)",
		verifier.ReplayAllow:  "the second curl is accepted: a token is good until it expires",
	}[replay]
	fmt.Fprintf(w, `amojwt: serving %[4]s on %[1]s with a DEMO key (its secret is public: never use it in production)
  key:    %[2]s
  secret: %[3]s
`, base, demoIssuer, demoSecret, what)
	if guard > 0 && replay == verifier.ReplayRefuse {
		fmt.Fprintf(w, "Wait %s first: until then the reset guard refuses tokens signed now (SPEC §5).\n", (guard + time.Second - 1).Truncate(time.Second))
	}
	fmt.Fprintf(w, `Try it (in another terminal; %[6]s):
  TOKEN=$(%[4]s sign --key %[2]s --secret %[3]s)
  %[5]s -s -w '\n' -H "Authorization: JWT $TOKEN" %[1]s%[7]s
  %[5]s -s -w '\n' -H "Authorization: JWT $TOKEN" %[1]s%[7]s
`, base, demoIssuer, demoSecret, program, curl, second, path)
	if c.mockAMO {
		trust := ""
		if c.tls {
			dir, _ := caDir(c.dataDir, os.Getenv) // listen has used it
			trust = "NODE_EXTRA_CA_CERTS=" + shellQuote(filepath.Join(dir, caCertFile)) + " "
		}
		fmt.Fprintf(w, "Sign an add-on against it (in the add-on's directory; the file comes back NOT signed):\n"+
			"  %snpx --yes web-ext sign --channel unlisted --amo-base-url %s/api/v5/ --api-key %s --api-secret %s\n",
			trust, base, demoIssuer, demoSecret)
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// TestDemoBanner checks that the banner of serve --demo says what the
// server's configuration makes true: what it serves, where the curl lines
// go, and whether the second one is refused.
func TestDemoBanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		c      serveConfig
		guard  time.Duration
		want   []string
		unwant []string
	}{
		{
			name: "demo",
			want: []string{"serving a mock AMO API on http://127.0.0.1:8080 with a DEMO key",
				"the second curl is refused", "http://127.0.0.1:8080/api/v5/accounts/profile/\n"},
			unwant: []string{"web-ext", "Wait"},
		},
		{
			name: "mock-amo",
			c:    serveConfig{mockAMO: true},
			want: []string{"serving a mock AMO API with the add-on submission API of web-ext sign on http://127.0.0.1:8080",
				"the second curl is accepted, as AMO accepts a reused token",
				"\n  npx --yes web-ext sign --channel unlisted --amo-base-url http://127.0.0.1:8080/api/v5/ --api-key user:543210:23 --api-secret " + demoSecret},
		},
		{
			name: "mock-amo over TLS",
			c:    serveConfig{mockAMO: true, dataDir: "/srv/amo", tlsConfig: tlsConfig{tls: true}},
			want: []string{"serving a mock AMO API with the add-on submission API of web-ext sign on https://127.0.0.1:8080",
				"TOKEN=$(amojwt sign", "curl --cacert /srv/amo/tls/" + caCertFile + " -s -w",
				"  NODE_EXTRA_CA_CERTS=/srv/amo/tls/" + caCertFile + " npx --yes web-ext sign --channel unlisted --amo-base-url https://127.0.0.1:8080/api/v5/"},
		},
		{
			name: "upstream",
			c:    serveConfig{upstream: "http://app:secret@127.0.0.1:9000/base"},
			want: []string{"serving an authenticating proxy to http://app:xxxxx@127.0.0.1:9000/base on http://127.0.0.1:8080",
				`"Authorization: JWT $TOKEN" http://127.0.0.1:8080/` + "\n"},
			unwant: []string{"mock AMO", "accounts/profile", ":secret@"},
		},
		{
			name:   "replay allow",
			c:      serveConfig{replay: replayFlag{policy: verifier.ReplayAllow, set: true}},
			want:   []string{"the second curl is accepted: a token is good until it expires"},
			unwant: []string{"refused"},
		},
		{
			name:   "replay allow, reset guard pending",
			c:      serveConfig{replay: replayFlag{policy: verifier.ReplayAllow, set: true}},
			guard:  5 * time.Second,
			unwant: []string{"Wait"},
		},
		{
			name:  "reset guard pending",
			c:     serveConfig{resetGuard: true},
			guard: 5200 * time.Millisecond,
			want:  []string{"Wait 6s first: until then the reset guard refuses tokens signed now"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			printDemo(&b, "amojwt", "0.0.0.0:8080", &tt.c, tt.guard)
			for _, want := range tt.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("banner lacks %q:\n%s", want, b.String())
				}
			}
			for _, unwant := range tt.unwant {
				if strings.Contains(b.String(), unwant) {
					t.Errorf("banner has %q:\n%s", unwant, b.String())
				}
			}
		})
	}
}

// TestServeLogAgreesWithBanner starts serve --demo with and without
// --mock-amo: the start-up log line names what the banner says is served.
func TestServeLogAgreesWithBanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, api, banner string
		args              []string
	}{
		{"demo", "profile", "serving a mock AMO API on", nil},
		{"mock-amo", "profile+submissions", "serving a mock AMO API with the add-on submission API", []string{"--mock-amo"}},
		{"upstream", "upstream", "serving an authenticating proxy to http://127.0.0.1:9", []string{"--upstream", "http://127.0.0.1:9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, append([]string{"--demo", "--log-format", "json"}, tt.args...)...)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s.stdout.String(), tt.banner) {
				t.Errorf("banner lacks %q:\n%s", tt.banner, s.stdout)
			}
			var start struct {
				API string `json:"api"`
			}
			line, _, _ := strings.Cut(s.stderr.String(), "\n")
			if err := json.Unmarshal([]byte(line), &start); err != nil || start.API != tt.api {
				t.Errorf("first log line %s: api %q, want %q (%v)", line, start.API, tt.api, err)
			}
			if strings.Contains(line, "mock_amo") {
				t.Errorf("first log line %s has mock_amo", line)
			}
		})
	}
}

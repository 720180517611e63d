package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// TestStoreFaults breaks the nonce store of a running mock AMO server and
// mends it, without a restart: while it fails, a token that needs the
// store gets 503 with Retry-After: 1, whatever error the store returns
// (SPEC §7: never an unchecked accept, never a 500), and checks that need
// no store still answer first; once it works again, so does the server.
func TestStoreFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"unavailable", fmt.Errorf("%w: injected", noncestore.ErrUnavailable)},
		{"any other error", errInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem, err := noncestore.NewMemory()
			if err != nil {
				t.Fatal(err)
			}
			store := &faultyStore{Store: mem, err: tt.err}
			v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(mockamo.New(v))
			t.Cleanup(srv.Close)
			now := time.Now()
			want := func(what, token string, status int, detail string) {
				t.Helper()
				if got, gotDetail := floodGet(t, srv, token); got != status || gotDetail != detail {
					t.Errorf("%s: %d %q, want %d %q", what, got, gotDetail, status, detail)
				}
			}

			want("before the fault", floodToken(now, "f-1"), http.StatusOK, "")
			store.fail.Store(true)
			want("a new jti", floodToken(now, "f-2"), http.StatusServiceUnavailable, verifier.DetailUnavailable)
			want("a replay", floodToken(now, "f-1"), http.StatusServiceUnavailable, verifier.DetailUnavailable)
			want("badly signed", floodToken(now, "f-3")+"A", http.StatusUnauthorized, verifier.DetailDecoding)
			want("expired", floodToken(now.Add(-time.Hour), "f-4"), http.StatusUnauthorized, verifier.DetailExpired)
			want("no jti", floodToken(now, ""), http.StatusOK, "")
			store.fail.Store(false)
			want("the refused jti once mended", floodToken(now, "f-2"), http.StatusOK, "")
			want("the replay once mended", floodToken(now, "f-1"), http.StatusUnauthorized, verifier.DetailReplayed)
		})
	}
}

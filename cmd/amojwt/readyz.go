package main

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// readyzTimeout bounds one readiness check, on top of the store's own
// per-call timeout.
const readyzTimeout = 2 * time.Second

// readyz answers readiness probes: 200 {"status":"ready"} when the nonce
// store takes claims (noncestore.Store.Ping) and a jti-bearing token signed
// now passes the reset guard, else 503 with Retry-After (SPEC §5, §7):
//
//   - {"status":"unavailable"}, Retry-After: 1, while the store does not
//     answer: the answer every jti-bearing token gets meanwhile;
//   - {"status":"starting"}, Retry-After: the seconds left, while the
//     store's epoch is so recent that a token signed now would be refused
//     as predating the store (a fresh or flushed Redis, a memory store just
//     started with its guard on, or restarted after a crash).
//
// guard is false when the reset guard refuses nothing: the verifier claims
// no nonces (--replay allow) or accepts what the guard cannot vouch for
// (--replay report), and the epoch then does not matter. The cause of a 503 goes to the log, not
// to the unauthenticated caller.
func readyz(store noncestore.Store, guard bool, leeway time.Duration, now func() time.Time, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		epoch, err := store.Ping(ctx)
		if err != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "amojwt not ready", slog.String("cause", err.Error()))
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		if wait := guardWait(epoch, now(), leeway); guard && wait > 0 {
			logger.LogAttrs(ctx, slog.LevelDebug, "amojwt not ready: the nonce store's reset guard refuses jti-bearing tokens signed before it lapses",
				slog.Time("epoch", epoch), slog.Duration("lapses_in", wait))
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"starting"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}

// guardWait is how long after now a token signed then (iat = floor of the
// clock) first passes the reset guard of a store whose epoch is epoch:
// SPEC §5 refuses it while trunc(iat) <= floor(epoch) + leeway, so the
// first such token is signed in the first whole second past that. It is 0
// for the zero epoch (no guard) and once that second has come.
func guardWait(epoch, now time.Time, leeway time.Duration) time.Duration {
	if epoch.IsZero() {
		return 0
	}
	// The first whole second s with s > floor(epoch) + leeway.
	first := time.Unix(int64(math.Floor(float64(epoch.Unix())+leeway.Seconds()))+1, 0)
	return max(first.Sub(now), 0)
}

package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// readyzTimeout bounds one readiness check, on top of the store's own
// per-call timeout.
const readyzTimeout = 2 * time.Second

// readyz answers readiness probes: 200 {"status":"ready"} when the nonce
// store takes claims (noncestore.Store.Ping), else 503
// {"status":"unavailable"} with Retry-After: 1, the answer every
// jti-bearing token would get meanwhile (SPEC §7). The cause goes to the
// log, not to the unauthenticated caller.
func readyz(store noncestore.Store, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := store.Ping(ctx); err != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "amojwt not ready", slog.String("cause", err.Error()))
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}

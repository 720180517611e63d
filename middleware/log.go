package middleware

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
)

const logMessage = "amojwt auth"

// logDecision logs d to l, as WithLogger says.
func logDecision(l *slog.Logger, r *http.Request, d Decision) {
	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs, slog.String("outcome", d.Outcome.String()))
	switch d.Outcome {
	case Accepted:
		p := d.Principal
		attrs = append(attrs, slog.String("issuer", p.Issuer), slog.Int64("user_id", p.UserID))
		if p.Nonce != "" {
			attrs = append(attrs, slog.String("jti", nonceHash(p.Nonce)))
		}
		if p.Reused {
			level = slog.LevelWarn
			attrs = append(attrs, slog.Bool("reused", true))
		}
		// A store failure that verifier.ReplayReport let pass.
		if err := d.Verifier.StoreErr; err != nil {
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("cause", err.Error()))
		}
	case Refused:
		status := d.Err.Status()
		attrs = append(attrs, slog.Int("status", status), slog.String("reason", string(d.Err.Reason())))
		// The issuer is known once the verifier found its key; an unknown
		// iss is the client's text, not a key, and is not repeated.
		if d.Verifier.Issuer != "" {
			attrs = append(attrs, slog.String("issuer", d.Verifier.Issuer))
		}
		if status >= http.StatusInternalServerError {
			level = slog.LevelWarn
			if cause := d.Err.Unwrap(); cause != nil {
				attrs = append(attrs, slog.String("cause", cause.Error()))
			}
		}
	}
	attrs = append(attrs,
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Duration("latency", d.Latency),
	)
	l.LogAttrs(r.Context(), level, logMessage, attrs...)
}

// nonceHash is the first 6 bytes of SHA-256(jti) in hex: enough to match
// the log lines of one token (a replay, say) without writing the jti, which
// a client may have chosen to be anything.
func nonceHash(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(sum[:6])
}

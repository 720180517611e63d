package middleware

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

const logMessage = "amojwt auth"

func (h *handler) logAccepted(r *http.Request, p *verifier.Principal, start time.Time) {
	if h.logger == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("outcome", "accepted"),
		slog.String("issuer", p.Issuer),
		slog.Int64("user_id", p.UserID),
	)
	if p.Nonce != "" {
		attrs = append(attrs, slog.String("jti", nonceHash(p.Nonce)))
	}
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, logMessage, appendRequestAttrs(attrs, r, start)...)
}

func (h *handler) logAnonymous(r *http.Request, start time.Time) {
	if h.logger == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("outcome", "anonymous"))
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, logMessage, appendRequestAttrs(attrs, r, start)...)
}

// logRefused logs a refusal; issuer is the key's issuer when the verifier
// found the key (Decision.Issuer), else "" and not logged: an unknown iss is
// the client's text, not a key.
func (h *handler) logRefused(r *http.Request, err *verifier.Error, issuer string, start time.Time) {
	if h.logger == nil {
		return
	}
	status := err.Status()
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("outcome", "refused"),
		slog.Int("status", status),
		slog.String("reason", string(err.Reason)),
	)
	if issuer != "" {
		attrs = append(attrs, slog.String("issuer", issuer))
	}
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelWarn
		if err.Cause != nil {
			attrs = append(attrs, slog.String("cause", err.Cause.Error()))
		}
	}
	h.logger.LogAttrs(r.Context(), level, logMessage, appendRequestAttrs(attrs, r, start)...)
}

func appendRequestAttrs(attrs []slog.Attr, r *http.Request, start time.Time) []slog.Attr {
	return append(attrs,
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Duration("latency", time.Since(start)),
	)
}

// nonceHash is the first 6 bytes of SHA-256(jti) in hex: enough to match
// the log lines of one token (a replay, say) without writing the jti, which
// a client may have chosen to be anything.
func nonceHash(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(sum[:6])
}

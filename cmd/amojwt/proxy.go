package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/amojwt/amojwt/middleware"
)

// parseUpstream checks the --upstream URL: absolute http or https with a
// host, no query or fragment.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q: no host", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: a query or fragment is not allowed", raw)
	}
	return u, nil
}

// newUpstreamProxy returns the handler of --upstream mode, to be mounted
// behind the middleware: it forwards each authenticated request to target
// (its path appended to target's path) with the caller's identity headers
// (setIdentity), after removing every X-Amo-* header the client sent and the
// Authorization header (the upstream gets who the caller is, not a token it
// could use again). X-Forwarded-For, -Host and -Proto are set; with
// trustForwarded the client's X-Forwarded-For is kept and appended to, else
// replaced. An unreachable upstream answers 502 {"detail":"Bad gateway."}.
func newUpstreamProxy(target *url.URL, trustForwarded bool, logger *slog.Logger) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if trustForwarded {
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			}
			pr.SetXForwarded()
			stripIdentity(pr.Out.Header)
			pr.Out.Header.Del("Authorization")
			if p, ok := middleware.PrincipalFrom(pr.In.Context()); ok {
				setIdentity(pr.Out.Header, p)
			}
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, r.Context().Err()) {
				// The client went away; nobody reads an answer.
				return
			}
			logger.LogAttrs(r.Context(), slog.LevelWarn, "amojwt upstream", slog.String("error", err.Error()),
				slog.String("method", r.Method), slog.String("path", r.URL.Path))
			middleware.WriteDetail(w, http.StatusBadGateway, "Bad gateway.")
		},
	}
}

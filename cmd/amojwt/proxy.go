package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"github.com/amojwt/amojwt/internal/drf"
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
// (its path appended to target's path; confinePath keeps it there) with the
// caller's identity headers (setIdentity), after removing every X-Amo-*
// header the client sent and the Authorization header (the upstream gets
// who the caller is, not a token it could use again).
//
// Forwarding headers: without trustForwarded, every header through which a
// proxy tells an upstream about the client (forwardingHeaders) is removed,
// and X-Forwarded-For, -Host and -Proto are set to amojwt's view. With it,
// they arrive as the proxy in front sent them, amojwt's peer appended to
// X-Forwarded-For (and -Host and -Proto set when the proxy sent none). An
// unreachable upstream answers 502 {"detail":"Bad gateway."}.
func newUpstreamProxy(target *url.URL, trustForwarded bool, logger *slog.Logger) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if trustForwarded {
				// ReverseProxy removed these four from pr.Out; the proxy in
				// front set them.
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
				pr.SetXForwarded()
				for _, name := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
					if v := pr.In.Header[name]; v != nil {
						pr.Out.Header[name] = v
					}
				}
			} else {
				stripForwarding(pr.Out.Header)
				pr.SetXForwarded()
			}
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
			drf.WriteDetail(w, http.StatusBadGateway, "Bad gateway.")
		},
	}
}

// forwardingHeaders are the request headers through which proxies, load
// balancers and CDNs tell an upstream who the client is and what it asked
// for: its address, the host, scheme, port, path or method of its request.
// Applications and frameworks take them as a proxy's word, so a client that
// sets one poses as that proxy. Keys are canonical, with "-" as separator.
var forwardingHeaders = map[string]bool{
	"Forwarded": true, "Forwarded-For": true, "X-Forwarded": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true,
	"X-Forwarded-Server": true, "X-Forwarded-Prefix": true, "X-Forwarded-Ssl": true, "X-Forwarded-Scheme": true,
	"X-Forwarded-Uri": true, "X-Forwarded-Method": true, "X-Forwarded-Path": true,
	"X-Original-Uri": true, "X-Original-Url": true, "X-Original-Host": true, "X-Original-Method": true,
	"X-Original-Forwarded-For": true, "X-Rewrite-Url": true, "X-Host": true, "X-Url-Scheme": true,
	"Front-End-Https": true, "X-Real-Ip": true, "X-Client-Ip": true, "Client-Ip": true, "True-Client-Ip": true,
	"Cf-Connecting-Ip": true, "Fastly-Client-Ip": true, "X-Cluster-Client-Ip": true, "X-Proxyuser-Ip": true,
	"X-Envoy-External-Address": true,
}

// stripForwarding removes every forwarding header from h, also spelled
// with underscores or dots, which CGI-style servers (WSGI, Rack, PHP) read
// as the same variable.
func stripForwarding(h http.Header) {
	for name := range h {
		if forwardingHeaders[http.CanonicalHeaderKey(headerSeparators.Replace(name))] {
			delete(h, name)
		}
	}
}

// confinePath returns next, except that a request whose path has a dot
// segment (hasDotSegment) answers 400 {"detail": ...}: an upstream that
// decodes it would resolve it above --upstream's base path. It runs before
// authentication, so such a request spends no nonce.
func confinePath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasDotSegment(r.URL.EscapedPath()) {
			drf.WriteDetail(w, http.StatusBadRequest, "Path segments . and .. are not allowed, encoded or not.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxPathDecodings bounds how many times hasDotSegment percent-decodes a
// path: a chain of proxies and frameworks decodes it once each, and a path
// that still decodes further after that many is refused.
const maxPathDecodings = 4

// hasDotSegment reports whether the escaped path p, as sent or after each
// of up to maxPathDecodings percent-decodings (unescapeLenient), has a
// segment made only of dots and spaces with at least one dot, "/" or "\"
// separating segments and a segment's ";" parameters ignored. RFC 3986
// §5.2.4 resolves "." and ".." segments; servers that take "\" for "/"
// (Windows), resolve "..;" as ".." (Tomcat, Jetty) or trim a segment's
// trailing dots and spaces (Windows) resolve more. A path that still
// changes at the last of those decodings counts as having one.
func hasDotSegment(p string) bool {
	for range maxPathDecodings {
		for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
			seg, _, _ = strings.Cut(seg, ";")
			if strings.Contains(seg, ".") && strings.Trim(seg, ". ") == "" {
				return true
			}
		}
		decoded := unescapeLenient(p)
		if decoded == p {
			return false
		}
		p = decoded
	}
	return true
}

// unescapeLenient decodes each %XX of s (two hex digits) and leaves any
// other "%" as it is, as lenient servers do where url.PathUnescape fails.
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

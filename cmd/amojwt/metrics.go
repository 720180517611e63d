package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/amojwt/amojwt/middleware"
)

// reasonAccepted is the reason label of accepted requests, which have no
// SPEC reason code.
const reasonAccepted = "none"

// metrics are serve's Prometheus metrics, in a registry of their own (not
// prometheus.DefaultRegisterer, so that nothing a library registers
// globally shows up) with the Go runtime and process collectors:
//
//	amojwt_requests_total{decision="accepted|refused|unavailable",reason}
//	amojwt_tokens_without_jti_total
//	amojwt_token_reuses_total
//	amojwt_nonce_store_seconds
//	amojwt_nonce_store_errors_total
//	amojwt_keys_reloads_total{result="ok|error"}
//
// reason is a SPEC §2-§7 reason code ("expired", "replayed", ...) or "none"
// for an accepted request. Issuers are never labels: their number is
// unbounded and chosen by clients.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	accepted     prometheus.Counter // requests{accepted,none}, resolved once for the common case
	withoutJTI   prometheus.Counter
	reuses       prometheus.Counter
	storeSeconds prometheus.Histogram
	storeErrors  prometheus.Counter
	keysReloads  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "amojwt_requests_total",
			Help: "Authentication decisions by outcome (accepted, refused with a 401, unavailable with a 503) and SPEC reason code.",
		}, []string{"decision", "reason"}),
		withoutJTI: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amojwt_tokens_without_jti_total",
			Help: "Accepted tokens that carried no jti, so could not be checked for replay (SPEC §5, amo profile).",
		}),
		reuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amojwt_token_reuses_total",
			Help: "Accepted tokens whose jti was used before (or that the reset guard could not vouch for), under --replay report (SPEC §5).",
		}),
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "amojwt_nonce_store_seconds",
			Help: "Time one nonce store claim took, successful or not.",
			// From an in-memory claim (microseconds) to the 250 ms default
			// timeout of a remote store (SPEC §7) and beyond.
			Buckets: []float64{0.00001, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amojwt_nonce_store_errors_total",
			Help: "Nonce store claims that failed (unreachable, timed out, erroring): each answered 503 (SPEC §7), or accepted under --replay report.",
		}),
		keysReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "amojwt_keys_reloads_total",
			Help: "Reloads of the keys file (SIGHUP or a change of the file) by result; a failed reload keeps the keys in use.",
		}, []string{"result"}),
	}
	// Series that exist from the start, so that rate() and alerts see a 0
	// before the first event.
	m.accepted = m.requests.WithLabelValues("accepted", reasonAccepted)
	m.keysReloads.WithLabelValues("ok")
	m.keysReloads.WithLabelValues("error")
	m.registry.MustRegister(
		m.requests, m.withoutJTI, m.reuses, m.storeSeconds, m.storeErrors, m.keysReloads,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observe counts one decision of the middleware (middleware.WithObserver):
// every request it decides on, refusals of the Authorization header
// included. It runs on the request path.
func (m *metrics) observe(_ *http.Request, d middleware.Decision) {
	switch d.Outcome {
	case middleware.Accepted:
		m.accepted.Inc()
		if !d.Verifier.HasNonce {
			m.withoutJTI.Inc()
		}
		if d.Verifier.Reused {
			m.reuses.Inc()
		}
	case middleware.Refused:
		decision := "refused"
		if d.Err.Status() == http.StatusServiceUnavailable {
			decision = "unavailable"
		}
		m.requests.WithLabelValues(decision, string(d.Err.Reason())).Inc()
	}
	if d.Verifier.StoreCalled {
		m.storeSeconds.Observe(d.Verifier.StoreLatency.Seconds())
	}
	if d.Verifier.StoreErr != nil {
		m.storeErrors.Inc()
	}
}

// keysReloaded counts a reload of the keys file; err is its result.
func (m *metrics) keysReloaded(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.keysReloads.WithLabelValues(result).Inc()
}

// handler serves the metrics in the Prometheus text format (or OpenMetrics
// when asked); errors gathering them are logged to logger.
func (m *metrics) handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		Registry: m.registry,
	})
}

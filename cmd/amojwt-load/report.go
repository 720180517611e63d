package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// report is what a run, or one connection of it, saw.
type report struct {
	elapsed  time.Duration
	statuses map[int]int64
	// sent and accepted (answered 2xx) count requests by what they carried.
	sent, accepted [kindCount]int64
	errors         int64
	firstErr       error
	latency        histogram
	slow           slowResult // the whole run's
}

func newReport() *report { return &report{statuses: map[int]int64{}} }

// record counts one request: its answer's status, or the error that kept it
// from getting one.
func (r *report) record(k kind, status int, latency time.Duration, err error) {
	r.sent[k]++
	if err != nil {
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.statuses[status]++
	if status >= 200 && status < 300 {
		r.accepted[k]++
	}
	r.latency.add(latency)
}

func (r *report) merge(o *report) {
	for s, n := range o.statuses {
		r.statuses[s] += n
	}
	for k := range kindCount {
		r.sent[k] += o.sent[k]
		r.accepted[k] += o.accepted[k]
	}
	r.errors += o.errors
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.latency.merge(&o.latency)
}

// answered counts the requests that got a response.
func (r *report) answered() int64 { return r.latency.n }

func (r *report) serverErrors() int64 {
	var n int64
	for s, c := range r.statuses {
		if s >= 500 {
			n += c
		}
	}
	return n
}

// failed reports whether the server accepted a replay or a forgery,
// answered 5xx, or a request got no answer.
func (r *report) failed() bool {
	return r.accepted[kindReplay] > 0 || r.accepted[kindForged] > 0 || r.serverErrors() > 0 || r.errors > 0
}

func (r *report) print(w io.Writer, c *config) {
	what := fmt.Sprintf("replays %g%%, forgeries %g%%", 100*c.replayRatio, 100*c.forgeRatio)
	switch {
	case c.anonymous:
		what = "no Authorization header"
	case c.noJTI:
		what += ", tokens without jti"
	}
	fmt.Fprintf(w, "amojwt-load: GET %s for %v over %d connections (%s)\n", c.url, c.duration, c.connections, what)
	fmt.Fprintf(w, "requests   %d in %.2fs: %.0f req/s\n", r.answered(), r.elapsed.Seconds(), float64(r.answered())/r.elapsed.Seconds())
	fmt.Fprintf(w, "latency    p50 %v  p99 %v  max %v\n", round(r.latency.quantile(0.50)), round(r.latency.quantile(0.99)), round(r.latency.max))
	codes := make([]string, 0, len(r.statuses))
	for _, s := range slices.Sorted(maps.Keys(r.statuses)) {
		codes = append(codes, fmt.Sprintf("%d: %d", s, r.statuses[s]))
	}
	fmt.Fprintf(w, "status     %s\n", strings.Join(codes, "  "))
	if c.anonymous {
		fmt.Fprintf(w, "anonymous  %d sent, %d answered 2xx\n", r.sent[kindValid], r.accepted[kindValid])
	} else {
		fmt.Fprintf(w, "valid      %d sent, %d accepted\n", r.sent[kindValid], r.accepted[kindValid])
		fmt.Fprintf(w, "replays    %d sent, %d accepted\n", r.sent[kindReplay], r.accepted[kindReplay])
		fmt.Fprintf(w, "forgeries  %d sent, %d accepted\n", r.sent[kindForged], r.accepted[kindForged])
	}
	fmt.Fprintf(w, "errors     %d", r.errors)
	if r.firstErr != nil {
		fmt.Fprintf(w, " (first: %v)", r.firstErr)
	}
	fmt.Fprintln(w)
	if s := r.slow; s.opened > 0 {
		fmt.Fprintf(w, "slow       %d clients: %d answered, %d closed by the server", s.opened, s.answered, s.closed)
		if s.closed > 0 {
			fmt.Fprintf(w, " (the last %v after the first connected)", round(s.lastClose))
		}
		fmt.Fprintf(w, ", %d held to the end\n", s.opened-s.closed)
	}
}

// round shortens d for printing: three significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

// histSub is the number of buckets per power of two of a histogram.
const histSub = 64

// histogram counts durations in log-linear buckets: one per nanosecond
// below 64 ns, then 64 per power of two, so that a quantile is reported
// within 1/64 (1.6%) of the true value, in fixed memory.
type histogram struct {
	counts [58 * histSub]int64
	n      int64
	max    time.Duration
}

// bucket is the index of d's bucket.
func bucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return (e+1)*histSub + int(v>>e) - histSub
}

// bucketStart is the smallest duration in bucket b.
func bucketStart(b int) time.Duration {
	if b < histSub {
		return time.Duration(b)
	}
	e := b/histSub - 1
	return time.Duration(uint64(b%histSub+histSub) << e)
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the upper end of the bucket that holds the q-quantile
// (0 < q <= 1), capped at the largest duration seen; 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for b, c := range h.counts {
		if seen += c; seen >= rank {
			return min(bucketStart(b+1), h.max)
		}
	}
	return h.max
}

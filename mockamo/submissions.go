package mockamo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Submissions is the state of the add-on submission API that `web-ext
// sign` uses (uploads, add-ons owned by the user whose key created them,
// versions and their files) and the knobs that make it misbehave on
// purpose. Mount it with WithSubmissions. It is safe for concurrent use.
//
// State lives in memory unless WithDataDir names a directory, where it is
// kept across restarts.
type Submissions struct {
	mu sync.Mutex
	st *state
	// saved is the state as last written to disk, restored when a write
	// fails so that a failed request leaves no trace.
	saved []byte

	dir             string // "" in memory
	blobs           blobStore
	lim             Limits
	processingDelay time.Duration
	reviewDelay     time.Duration
	now             func() time.Time

	// Knobs armed per user id, consumed by that user's next upload or
	// submission; kept in memory only.
	failUpload   map[int64]bool
	rejectReview map[int64]bool
}

// SubmissionOption configures NewSubmissions.
type SubmissionOption func(*submissionConfig)

type submissionConfig struct {
	dir                     string
	lim                     Limits
	processingDelay, review time.Duration
	now                     func() time.Time
}

// WithDataDir keeps the state in dir (created with mode 0700 if missing)
// so that it survives restarts: dir/state.json (JSON, replaced atomically
// after every change) and the uploaded and source files under
// dir/uploads/ and dir/sources/ (each written atomically). The default
// keeps everything in memory. Only one Submissions may use a directory at
// a time.
func WithDataDir(dir string) SubmissionOption {
	return func(c *submissionConfig) { c.dir = dir }
}

// WithProcessingDelay is how long an upload stays "processed": false
// before its validation result shows (AMO validates asynchronously;
// web-ext polls every second). Default 0: processed at once.
func WithProcessingDelay(d time.Duration) SubmissionOption {
	return func(c *submissionConfig) { c.processingDelay = d }
}

// WithReviewDelay is how long a new version's file.status stays
// "unreviewed" before it turns "public" (or "disabled" when its review was
// rejected, see RejectNextReview). Default 0: approved at once.
func WithReviewDelay(d time.Duration) SubmissionOption {
	return func(c *submissionConfig) { c.review = d }
}

// WithLimits bounds uploads and archives; zero fields keep the defaults
// (see Limits).
func WithLimits(l Limits) SubmissionOption {
	return func(c *submissionConfig) { c.lim = l }
}

// WithSubmissionClock sets the clock that timestamps uploads and versions
// and decides when processing and review delays have passed; the default
// is time.Now.
func WithSubmissionClock(now func() time.Time) SubmissionOption {
	return func(c *submissionConfig) { c.now = now }
}

// ErrInvalidState is wrapped by the error NewSubmissions returns when the
// state file of WithDataDir cannot be used: not JSON, an unknown format,
// unknown fields, or inconsistent records.
var ErrInvalidState = errors.New("mockamo: invalid state file")

// NewSubmissions returns the submission state configured by opts, loading
// it from the data directory when WithDataDir is given. It returns an
// error for a negative delay or limit, a nil clock, a data directory that
// cannot be created or read, or a state file that wraps ErrInvalidState.
func NewSubmissions(opts ...SubmissionOption) (*Submissions, error) {
	c := submissionConfig{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.now == nil:
		return nil, errors.New("mockamo: WithSubmissionClock: nil clock")
	case c.processingDelay < 0 || c.review < 0:
		return nil, fmt.Errorf("mockamo: negative delay (processing %v, review %v)", c.processingDelay, c.review)
	}
	lim, err := c.lim.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Submissions{
		st:              newState(),
		dir:             c.dir,
		blobs:           newMemoryBlobs(),
		lim:             lim,
		processingDelay: c.processingDelay,
		reviewDelay:     c.review,
		now:             c.now,
		failUpload:      map[int64]bool{},
		rejectReview:    map[int64]bool{},
	}
	if c.dir != "" {
		if err := s.open(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// FailNextUpload makes the next upload of the user with this id invalid:
// it is processed with valid false and one validation error saying the
// mock was asked to fail it (for testing how a pipeline reports a failed
// validation). It is also armed by POST /__mockamo/fail-next-upload.
func (s *Submissions) FailNextUpload(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUpload[userID] = true
}

// RejectNextReview makes the review of the next version the user with
// this id submits end in rejection: once the review delay has passed its
// file.status is "disabled" instead of "public", and it is never approved
// (web-ext then waits until its approval timeout). It is also armed by
// POST /__mockamo/reject-next-review.
func (s *Submissions) RejectNextReview(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectReview[userID] = true
}

// newUUIDHex returns a random (version 4) UUID as 32 lower-case hex
// digits, the form AMO's API gives upload ids and message uids in.
func newUUIDHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

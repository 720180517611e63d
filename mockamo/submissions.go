package mockamo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

// Submissions is the state of the add-on submission API that `web-ext
// sign` uses (uploads, add-ons owned by the user whose key created them,
// versions and their files) and the knobs that make it misbehave on
// purpose. Mount it with WithSubmissions. It is safe for concurrent use.
//
// State lives in memory unless WithDataDir names a directory, where it is
// kept across restarts. What it keeps is bounded by Limits.
type Submissions struct {
	st  *sim.State
	lim Limits
	// slots bounds the requests whose files are read and validated at
	// once (Limits.MaxConcurrentUploads).
	slots chan struct{}
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
// so that it survives restarts: one JSON record per upload and per
// add-on under dir/state/, and the uploaded and source files under
// dir/uploads/ and dir/sources/, each file written atomically, so that a
// change rewrites only what it changes and a crash loses at most the
// change under way. The default keeps everything in memory. Only one
// Submissions may use a directory at a time.
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

// WithLimits bounds uploads, archives and the stored state; zero fields
// keep the defaults (see Limits).
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
// data directory of WithDataDir holds records it cannot use: not JSON, an
// unknown format, unknown fields, or records that do not fit together.
var ErrInvalidState = sim.ErrInvalidState

// NewSubmissions returns the submission state configured by opts, loading
// it from the data directory when WithDataDir is given. It returns an
// error for a negative delay or limit, a nil clock, a data directory that
// cannot be created or read, or one whose records wrap ErrInvalidState.
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
	st, err := sim.Open(sim.Config{
		Dir: c.dir,
		Archive: xpi.Limits{MaxEntries: lim.MaxEntries, MaxUncompressedBytes: lim.MaxUncompressedBytes,
			MaxManifestBytes: lim.MaxManifestBytes},
		Quota:           sim.Quota{PerUser: lim.MaxStoredBytesPerUser, Total: lim.MaxStoredBytes},
		ProcessingDelay: c.processingDelay,
		ReviewDelay:     c.review,
		Now:             c.now,
	})
	if err != nil {
		return nil, err
	}
	return &Submissions{st: st, lim: lim, slots: make(chan struct{}, lim.MaxConcurrentUploads)}, nil
}

// FailNextUpload makes the next upload of the user with this id invalid:
// it is processed with valid false and one validation error saying the
// mock was asked to fail it (for testing how a pipeline reports a failed
// validation). It is also armed by POST /__mockamo/fail-next-upload.
func (s *Submissions) FailNextUpload(userID int64) { s.st.FailNextUpload(userID) }

// RejectNextReview makes the review of the next version the user with
// this id submits end in rejection: once the review delay has passed its
// file.status is "disabled" instead of "public", and it is never approved
// (web-ext then waits until its approval timeout). It is also armed by
// POST /__mockamo/reject-next-review.
func (s *Submissions) RejectNextReview(userID int64) { s.st.RejectNextReview(userID) }

// acquireSlot waits for one of the Limits.MaxConcurrentUploads slots of
// requests that carry a file, so that the memory their bodies and
// validations take stays bounded however many arrive at once. It returns
// the function that frees the slot, or an error when ctx ends first.
func (s *Submissions) acquireSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-ctx.Done():
		return nil, &requestError{status: http.StatusServiceUnavailable, detail: "The request ended while it waited for its turn."}
	}
}

// Limits bound what one request may cost the server and what the state
// may keep, so that a hostile client (a zip bomb, millions of archive
// entries, endless uploads) gets an error instead of exhausting memory,
// CPU or disk. A zero field takes its default; a negative one is an
// error.
type Limits struct {
	// MaxUploadBytes is the largest upload or source file accepted, in
	// bytes; a larger request body is refused with 413. Default 64 MiB
	// (AMO accepts 200 MB; a mock holds uploads in memory).
	MaxUploadBytes int64
	// MaxEntries is the largest number of entries (files and
	// directories) in an archive, counted in its central directory
	// before anything is allocated per entry. Default 4096.
	MaxEntries int
	// MaxUncompressedBytes bounds the bytes all entries decompress to,
	// counted while decompressing (sizes declared in the archive are not
	// trusted). Default 256 MiB.
	MaxUncompressedBytes int64
	// MaxManifestBytes bounds manifest.json once decompressed. Default
	// 1 MiB.
	MaxManifestBytes int64
	// MaxStoredBytesPerUser bounds what one user's uploads, source files
	// and their records (as JSON) take in the state; a request that would
	// pass it is refused with 413. Default 256 MiB.
	MaxStoredBytesPerUser int64
	// MaxStoredBytes bounds the same for all users together. Default
	// 512 MiB.
	MaxStoredBytes int64
	// MaxConcurrentUploads is how many requests with a file (uploads,
	// source files) are read and validated at once; more wait their
	// turn. Default 2.
	MaxConcurrentUploads int
}

// Default limits; see Limits.
const (
	DefaultMaxUploadBytes        = 64 << 20
	DefaultMaxEntries            = 4096
	DefaultMaxUncompressedBytes  = 256 << 20
	DefaultMaxManifestBytes      = 1 << 20
	DefaultMaxStoredBytesPerUser = 256 << 20
	DefaultMaxStoredBytes        = 512 << 20
	DefaultMaxConcurrentUploads  = 2
)

// withDefaults returns l with zero fields replaced by the defaults, or an
// error for a negative field.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxUploadBytes < 0 || l.MaxEntries < 0 || l.MaxUncompressedBytes < 0 || l.MaxManifestBytes < 0 ||
		l.MaxStoredBytesPerUser < 0 || l.MaxStoredBytes < 0 || l.MaxConcurrentUploads < 0 {
		return l, fmt.Errorf("mockamo: negative limit in %+v", l)
	}
	setDefault(&l.MaxUploadBytes, DefaultMaxUploadBytes)
	setDefault(&l.MaxEntries, DefaultMaxEntries)
	setDefault(&l.MaxUncompressedBytes, DefaultMaxUncompressedBytes)
	setDefault(&l.MaxManifestBytes, DefaultMaxManifestBytes)
	setDefault(&l.MaxStoredBytesPerUser, DefaultMaxStoredBytesPerUser)
	setDefault(&l.MaxStoredBytes, DefaultMaxStoredBytes)
	setDefault(&l.MaxConcurrentUploads, DefaultMaxConcurrentUploads)
	return l, nil
}

// setDefault sets *field to def when it is zero.
func setDefault[T int | int64](field *T, def T) {
	if *field == 0 {
		*field = def
	}
}

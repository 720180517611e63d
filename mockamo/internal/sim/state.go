// Package sim is the add-on submission simulator behind the mock AMO:
// uploads and their validation, add-ons owned by the users whose keys
// created them, versions and their review, files and sources, and the
// knobs that make it misbehave on purpose. It knows nothing of HTTP: its
// methods take the caller's user id and decoded requests, and return
// records or typed errors (ErrNotFound, ErrForbidden, ErrNoUser,
// *ValidationError, *ConflictError, *QuotaError) that the HTTP layer
// answers as AMO does.
//
// A State owns its lock: every method is safe for concurrent use, and
// the records it returns are never changed afterwards (see records.go).
package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

// Config configures Open. Every field but Dir must be set.
type Config struct {
	// Dir is the data directory that keeps the state across restarts,
	// or "" to keep it in memory.
	Dir string
	// Archive bounds the validation of each upload.
	Archive xpi.Limits
	// Quota bounds what the state stores.
	Quota Quota
	// ProcessingDelay is how long an upload stays unprocessed;
	// ReviewDelay how long a new version stays unreviewed.
	ProcessingDelay, ReviewDelay time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Quota bounds the bytes the state keeps: uploaded and source files plus
// the records that describe them (as JSON), per user (the uploader, or an
// add-on's first author) and in all. A change that would pass either is
// refused with *QuotaError. Both must be positive.
type Quota struct {
	PerUser, Total int64
}

// State is the simulator's state.
type State struct {
	cfg   Config
	store store

	mu            sync.RWMutex
	uploads       map[string]*Upload // by uuid
	addons        []*Addon           // ascending id
	submitted     map[string]bool    // uuids of uploads a version was created from
	lastAddonID   int64
	lastVersionID int64
	lastFileID    int64
	// charges are the bytes each record counts against its owner's
	// quota, by record key; usage sums them per user, total in all.
	charges map[string]charge
	usage   map[int64]int64
	total   int64

	// Knobs armed per user id, consumed by that user's next upload or
	// version; kept in memory only.
	failUpload   map[int64]bool
	rejectReview map[int64]bool
}

// charge is what one record counts against a user's quota.
type charge struct {
	owner int64
	bytes int64
}

// Open returns the state cfg describes, loading it from cfg.Dir when set.
// The error wraps ErrInvalidState for a data directory whose records
// cannot be used.
func Open(cfg Config) (*State, error) {
	s := &State{
		cfg:          cfg,
		store:        newMemoryStore(),
		uploads:      map[string]*Upload{},
		addons:       []*Addon{},
		submitted:    map[string]bool{},
		charges:      map[string]charge{},
		usage:        map[int64]int64{},
		failUpload:   map[int64]bool{},
		rejectReview: map[int64]bool{},
	}
	if cfg.Dir != "" {
		d := diskStore{dir: cfg.Dir}
		uploads, addons, err := d.load()
		if err != nil {
			return nil, err
		}
		if err := s.index(uploads, addons); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrInvalidState, cfg.Dir, err)
		}
		if err := d.removeUnreferenced(s.blobKeys()); err != nil {
			return nil, fmt.Errorf("mockamo: data directory: %w", err)
		}
		s.store = d
	}
	return s, nil
}

// index fills the state from loaded records and checks that they fit
// together.
func (s *State) index(uploads []*Upload, addons []*Addon) error {
	for _, u := range uploads {
		if _, dup := s.uploads[u.UUID]; dup {
			return fmt.Errorf("upload %s: twice", u.UUID)
		}
		s.uploads[u.UUID] = u
		if err := s.charge(uploadRecord(u.UUID), u.UserID, u, u.Size); err != nil {
			return err
		}
	}
	for _, a := range addons {
		if s.addonByGUID(a.GUID) != nil {
			return fmt.Errorf("add-on %d: guid %q twice", a.ID, a.GUID)
		}
		for _, v := range a.Versions {
			u := s.uploads[v.File.UploadUUID]
			if u == nil || s.submitted[u.UUID] {
				return fmt.Errorf("add-on %d version %d: upload %s missing or used twice", a.ID, v.ID, v.File.UploadUUID)
			}
			s.submitted[u.UUID] = true
			s.lastVersionID = max(s.lastVersionID, v.ID)
			s.lastFileID = max(s.lastFileID, v.File.ID)
		}
		s.addons = append(s.addons, a)
		s.lastAddonID = max(s.lastAddonID, a.ID)
		if err := s.charge(addonRecord(a.ID), a.owner(), a, sourceBytes(a)); err != nil {
			return err
		}
	}
	return nil
}

// blobKeys are the keys of every blob a record refers to.
func (s *State) blobKeys() map[string]bool {
	keys := map[string]bool{}
	for uuid := range s.uploads {
		keys[uploadBlob(uuid)] = true
	}
	for _, a := range s.addons {
		for _, v := range a.Versions {
			if v.Source != nil {
				keys[sourceBlob(v.Source.Blob)] = true
			}
		}
	}
	return keys
}

// Record keys.
func uploadRecord(uuid string) string { return "uploads/" + uuid }
func addonRecord(id int64) string     { return "addons/" + strconv.FormatInt(id, 10) }

// sourceBytes is the size of a's source files.
func sourceBytes(a *Addon) int64 {
	var n int64
	for _, v := range a.Versions {
		if v.Source != nil {
			n += v.Source.Size
		}
	}
	return n
}

// charge counts a loaded record at key against owner's quota: its JSON
// and blobBytes. Loading does not check the quota, which may have been
// lowered since; commit checks every change.
func (s *State) charge(key string, owner int64, record any, blobBytes int64) error {
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	c := charge{owner: owner, bytes: int64(len(data)) + blobBytes}
	s.usage[owner] += c.bytes
	s.total += c.bytes
	s.charges[key] = c
	return nil
}

// commit stores record at key after checking that its bytes (its JSON
// and blobBytes) keep owner within the quota; the caller swaps the record
// into the state once commit succeeds. Called with s.mu held.
func (s *State) commit(key string, owner int64, record any, blobBytes int64) error {
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	grow := int64(len(data)) + blobBytes - s.charges[key].bytes
	if grow > 0 {
		switch {
		case s.usage[owner]+grow > s.cfg.Quota.PerUser:
			return &QuotaError{perUser: true, limit: s.cfg.Quota.PerUser}
		case s.total+grow > s.cfg.Quota.Total:
			return &QuotaError{limit: s.cfg.Quota.Total}
		}
	}
	if err := s.store.putRecord(key, data); err != nil {
		return err
	}
	s.usage[owner] += grow
	s.total += grow
	s.charges[key] = charge{owner: owner, bytes: s.charges[key].bytes + grow}
	return nil
}

// Now is the state's clock: the time that processing and review delays
// are measured against.
func (s *State) Now() time.Time { return s.cfg.Now() }

// checkUser refuses the user id 0 of a key without one (ErrNoUser).
func checkUser(userID int64) error {
	if userID <= 0 {
		return ErrNoUser
	}
	return nil
}

// FailNextUpload makes the next upload of the user with this id invalid,
// with one message saying the mock was asked to fail it.
func (s *State) FailNextUpload(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUpload[userID] = true
}

// RejectNextReview makes the review of the next version the user with
// this id submits end in rejection.
func (s *State) RejectNextReview(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectReview[userID] = true
}

// take reports whether the knob is armed for userID and disarms it.
// Called with s.mu held.
func take(knob map[int64]bool, userID int64) bool {
	armed := knob[userID]
	delete(knob, userID)
	return armed
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

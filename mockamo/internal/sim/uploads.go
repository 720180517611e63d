package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

// Texts of AMO's FileUploadViewSet.create, raised as DRF ValidationErrors
// with a message.
const (
	msgMissingUpload  = `Missing "upload" key in multipart file data.`
	msgMissingChannel = `Missing "channel" arg.`
)

// UploadFile is a file of a request: its name as the client gave it
// (without directories) and its bytes.
type UploadFile struct {
	Name string
	Data []byte
}

// AddUpload validates and stores f, uploaded by the user with this id to
// channel ("listed" or "unlisted"), as AMO's POST addons/upload/ does. f
// is nil when the request had no "upload" file. The upload is processed
// after the processing delay; its validation runs at once.
func (s *State) AddUpload(userID int64, channel string, f *UploadFile) (Upload, error) {
	if err := checkUser(userID); err != nil {
		return Upload{}, err
	}
	switch {
	case f == nil:
		return Upload{}, invalidRequest(msgMissingUpload)
	case channel != ChannelListed && channel != ChannelUnlisted:
		return Upload{}, invalidRequest(msgMissingChannel)
	}
	s.mu.Lock()
	forced := take(s.failUpload, userID)
	s.mu.Unlock()

	listed := channel == ChannelListed
	var v *xpi.Validation
	var info *xpi.Manifest
	if forced {
		v = xpi.Forced(listed, newUUIDHex)
	} else {
		v, info = xpi.Validate(f.Data, f.Name, listed, s.cfg.Archive, newUUIDHex)
	}
	sum := sha256.Sum256(f.Data)
	now := s.cfg.Now()
	u := &Upload{
		UUID:        newUUIDHex(),
		UserID:      userID,
		Channel:     channel,
		Filename:    f.Name,
		Size:        int64(len(f.Data)),
		SHA256:      hex.EncodeToString(sum[:]),
		Created:     now,
		ProcessedAt: now.Add(s.cfg.ProcessingDelay),
		Validation:  v,
		Manifest:    info,
	}
	// The file is written before the lock is taken (it may be large);
	// a refused or failed record removes it again.
	blob := uploadBlob(u.UUID)
	if err := s.store.putBlob(blob, f.Data); err != nil {
		return Upload{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commit(uploadRecord(u.UUID), userID, u, u.Size); err != nil {
		_ = s.store.deleteBlob(blob)
		return Upload{}, err
	}
	s.uploads[u.UUID] = u
	return *u, nil
}

// Upload returns the upload with this id (any spelling Python's uuid.UUID
// accepts) of the user with this id: ErrNotFound for an unknown id or
// another user's upload, as AMO filters uploads by user.
func (s *State) Upload(userID int64, id string) (Upload, error) {
	if err := checkUser(userID); err != nil {
		return Upload{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.uploads[normalizeUUID(id)]
	if u == nil || u.UserID != userID {
		return Upload{}, ErrNotFound
	}
	return s.view(u), nil
}

// Uploads returns the uploads of the user with this id, newest first.
func (s *State) Uploads(userID int64) ([]Upload, error) {
	if err := checkUser(userID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var mine []Upload
	for _, u := range s.uploads {
		if u.UserID == userID {
			mine = append(mine, s.view(u))
		}
	}
	slices.SortFunc(mine, func(x, y Upload) int {
		if c := y.Created.Compare(x.Created); c != 0 {
			return c
		}
		return strings.Compare(x.UUID, y.UUID)
	})
	return mine, nil
}

// view is a copy of u with Submitted set. Called with s.mu held.
func (s *State) view(u *Upload) Upload {
	c := *u
	c.Submitted = s.submitted[u.UUID]
	return c
}

// normalizeUUID returns s as 32 lower-case hex digits when it is a UUID
// in one of the spellings Python's uuid.UUID accepts (hex, with dashes,
// braces or a urn:uuid: prefix), else "".
func normalizeUUID(s string) string {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "urn:uuid:")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	s = strings.ReplaceAll(s, "-", "")
	if !isUUIDHex(s) {
		return ""
	}
	return s
}

// isUUIDHex reports whether s is 32 lower-case hex digits.
func isUUIDHex(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// dashedUUID spells 32 hex digits with dashes, as a guid in braces uses.
func dashedUUID(h string) string {
	var b bytes.Buffer
	for i, part := range []int{8, 4, 4, 4, 12} {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(h[:part])
		h = h[part:]
	}
	return b.String()
}

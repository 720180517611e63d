package sim

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

// Records are immutable once the State holds them: a change builds new
// records and swaps them in under the State's lock, so a record a method
// returns may be read without the lock and is never changed. Callers must
// not change them either.

// Upload is one uploaded file and its validation. Its JSON is its record
// in the data directory.
type Upload struct {
	UUID        string          `json:"uuid"` // 32 lower-case hex digits
	UserID      int64           `json:"user_id"`
	Channel     string          `json:"channel"`
	Filename    string          `json:"filename"`
	Size        int64           `json:"size"`
	SHA256      string          `json:"sha256"`
	Created     time.Time       `json:"created"`
	ProcessedAt time.Time       `json:"processed_at"`
	Validation  *xpi.Validation `json:"validation"`
	Manifest    *xpi.Manifest   `json:"manifest,omitempty"` // nil unless valid
	// Submitted is whether a version was created from the upload: not
	// kept in the record but derived from the add-ons, so that creating
	// a version changes one record only.
	Submitted bool `json:"-"`
}

// Processed reports whether the processing delay has passed at now.
func (u *Upload) Processed(now time.Time) bool { return !now.Before(u.ProcessedAt) }

// Valid reports whether u passed validation (whatever the time).
func (u *Upload) Valid() bool {
	return u.Validation != nil && u.Validation.Success && u.Manifest != nil
}

// Addon is an add-on and its versions. Its JSON is its record in the data
// directory.
type Addon struct {
	ID            int64               `json:"id"`
	GUID          string              `json:"guid"`
	Slug          string              `json:"slug"`
	Created       time.Time           `json:"created"`
	Authors       []Author            `json:"authors"`
	DefaultLocale string              `json:"default_locale"`
	Name          Translated          `json:"name"`
	Summary       Translated          `json:"summary,omitempty"`
	Description   Translated          `json:"description,omitempty"`
	Categories    map[string][]string `json:"categories,omitempty"`
	Versions      []*Version          `json:"versions"` // ascending id
}

// Author is an add-on author as recorded when the add-on was created.
type Author struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

// IsAuthor reports whether the user with this id owns a.
func (a *Addon) IsAuthor(userID int64) bool {
	return slices.ContainsFunc(a.Authors, func(au Author) bool { return au.ID == userID })
}

// owner is the user whose storage the add-on counts against: its first
// author, who created it.
func (a *Addon) owner() int64 { return a.Authors[0].ID }

// Version is one submitted version and its file.
type Version struct {
	ID            int64             `json:"id"`
	Version       string            `json:"version"`
	Channel       string            `json:"channel"`
	Created       time.Time         `json:"created"`
	ReviewAt      time.Time         `json:"review_at"`
	Rejected      bool              `json:"rejected,omitempty"`
	File          File              `json:"file"`
	License       *License          `json:"license,omitempty"`
	ReleaseNotes  Translated        `json:"release_notes,omitempty"`
	ApprovalNotes string            `json:"approval_notes,omitempty"`
	Compatibility map[string]Compat `json:"compatibility"`
	Source        *Source           `json:"source,omitempty"`
}

// File is the file of a version: the upload it was created from.
type File struct {
	ID         int64  `json:"id"`
	UploadUUID string `json:"upload_uuid"`
	Filename   string `json:"filename"` // the download name, from the add-on's slug
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
}

// Source is a version's source code archive.
type Source struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	// Blob names the stored bytes (32 random hex digits); each
	// replacement of a source is a new blob, so that a failed change
	// leaves the previous one whole.
	Blob string `json:"blob"`
}

// License is a version's license: a predefined one by slug, or a custom
// one with a name and text.
type License struct {
	Slug string     `json:"slug,omitempty"`
	Name Translated `json:"name,omitempty"`
	Text Translated `json:"text,omitempty"`
}

// Compat is a version's compatibility with one application.
type Compat struct {
	Min string `json:"min"`
	Max string `json:"max"`
}

// Translated is an AMO translated field: locale to text.
type Translated map[string]string

// DefaultLocale is the locale of add-ons the mock creates, and of a
// translated field given as a plain string.
const DefaultLocale = "en-US"

// Text is the default locale's text, or else the text of the first locale
// in sort order, or "".
func (t Translated) Text() string {
	if s, ok := t[DefaultLocale]; ok {
		return s
	}
	keys := slices.Sorted(maps.Keys(t))
	if len(keys) == 0 {
		return ""
	}
	return t[keys[0]]
}

// File statuses of a version (AMO's version-detail-status values).
const (
	StatusUnreviewed = "unreviewed"
	StatusPublic     = "public"
	StatusDisabled   = "disabled"
)

// Status is v's file status at now.
func (v *Version) Status(now time.Time) string {
	switch {
	case now.Before(v.ReviewAt):
		return StatusUnreviewed
	case v.Rejected:
		return StatusDisabled
	default:
		return StatusPublic
	}
}

// Upload channels.
const (
	ChannelListed   = "listed"
	ChannelUnlisted = "unlisted"
)

// Latest returns a's newest version in channel that is public at now
// (public is true) or whatever its status (public false), or nil.
func (a *Addon) Latest(channel string, now time.Time, public bool) *Version {
	for i := len(a.Versions) - 1; i >= 0; i-- {
		v := a.Versions[i]
		if v.Channel == channel && (!public || v.Status(now) == StatusPublic) {
			return v
		}
	}
	return nil
}

// Status is the add-on's status at now (AMO's STATUS_CHOICES_API names):
// public once a listed version is public, nominated while one awaits
// review, incomplete otherwise (for example with unlisted versions only).
func (a *Addon) Status(now time.Time) string {
	if a.Latest(ChannelListed, now, true) != nil {
		return "public"
	}
	if v := a.Latest(ChannelListed, now, false); v != nil && v.Status(now) == StatusUnreviewed {
		return "nominated"
	}
	return "incomplete"
}

// LastUpdated is when a's newest version was created, or a's creation
// without versions.
func (a *Addon) LastUpdated() time.Time {
	if n := len(a.Versions); n > 0 {
		return a.Versions[n-1].Created
	}
	return a.Created
}

// findVersion returns a's version identified as AMO does: an identifier
// without a dot is an id, one with dots (or a "v" prefix) a version
// number.
func (a *Addon) findVersion(ident string) *Version {
	number, byNumber := ident, strings.Contains(ident, ".")
	if strings.HasPrefix(ident, "v") {
		number, byNumber = ident[1:], true
	}
	for _, v := range a.Versions {
		if byNumber && v.Version == number || !byNumber && strconv.FormatInt(v.ID, 10) == ident {
			return v
		}
	}
	return nil
}

// hasVersion reports whether a already has a version with this number.
func (a *Addon) hasVersion(number string) bool {
	return slices.ContainsFunc(a.Versions, func(v *Version) bool { return v.Version == number })
}

// previousListedLicense is the license of a's newest listed version.
func (a *Addon) previousListedLicense() *License {
	for i := len(a.Versions) - 1; i >= 0; i-- {
		if v := a.Versions[i]; v.Channel == ChannelListed && v.License != nil {
			return v.License
		}
	}
	return nil
}

// withVersion returns a copy of a with v in place of the version of the
// same id, or appended.
func (a *Addon) withVersion(v *Version) *Addon {
	c := *a
	c.Versions = slices.Clone(a.Versions)
	if i := slices.IndexFunc(c.Versions, func(old *Version) bool { return old.ID == v.ID }); i >= 0 {
		c.Versions[i] = v
	} else {
		c.Versions = append(c.Versions, v)
	}
	return &c
}

// IsGUID reports whether ident names an add-on by its guid, as AMO's
// Addon.get_lookup_field decides: it contains "@" or is in braces.
func IsGUID(ident string) bool {
	return strings.Contains(ident, "@") || (strings.HasPrefix(ident, "{") && strings.HasSuffix(ident, "}"))
}

// isID reports whether ident names an add-on by its id: digits only.
func isID(ident string) bool {
	return ident != "" && strings.Trim(ident, "0123456789") == ""
}

package mockamo

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// stateFormat is the version of the state file's layout.
const stateFormat = 1

// state is everything Submissions keeps, as written to state.json.
type state struct {
	Format        int                `json:"format"`
	LastAddonID   int64              `json:"last_addon_id"`
	LastVersionID int64              `json:"last_version_id"`
	LastFileID    int64              `json:"last_file_id"`
	Uploads       map[string]*upload `json:"uploads"` // by uuid
	Addons        []*addon           `json:"addons"`  // by id, ascending
}

func newState() *state {
	return &state{Format: stateFormat, Uploads: map[string]*upload{}, Addons: []*addon{}}
}

// upload is one uploaded file and its validation.
type upload struct {
	UUID        string        `json:"uuid"`
	UserID      int64         `json:"user_id"`
	Channel     string        `json:"channel"`
	Filename    string        `json:"filename"`
	Size        int64         `json:"size"`
	SHA256      string        `json:"sha256"`
	Created     time.Time     `json:"created"`
	ProcessedAt time.Time     `json:"processed_at"`
	Validation  *validation   `json:"validation"`
	Manifest    *manifestInfo `json:"manifest,omitempty"` // nil unless valid
	Submitted   bool          `json:"submitted"`
}

// processed reports whether the processing delay has passed at now.
func (u *upload) processed(now time.Time) bool { return !now.Before(u.ProcessedAt) }

// valid reports whether u passed validation (whatever the time).
func (u *upload) valid() bool {
	return u.Validation != nil && u.Validation.Success && u.Manifest != nil
}

// addon is an add-on and its versions.
type addon struct {
	ID            int64               `json:"id"`
	GUID          string              `json:"guid"`
	Slug          string              `json:"slug"`
	Created       time.Time           `json:"created"`
	Authors       []author            `json:"authors"`
	DefaultLocale string              `json:"default_locale"`
	Name          translated          `json:"name"`
	Summary       translated          `json:"summary,omitempty"`
	Description   translated          `json:"description,omitempty"`
	Categories    map[string][]string `json:"categories,omitempty"`
	Versions      []*version          `json:"versions"` // ascending id
}

// author is an add-on author as recorded when the add-on was created.
type author struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

// isAuthor reports whether the user with this id owns a.
func (a *addon) isAuthor(userID int64) bool {
	for _, au := range a.Authors {
		if au.ID == userID {
			return true
		}
	}
	return false
}

// version is one submitted version and its file.
type version struct {
	ID            int64             `json:"id"`
	Version       string            `json:"version"`
	Channel       string            `json:"channel"`
	Created       time.Time         `json:"created"`
	ReviewAt      time.Time         `json:"review_at"`
	Rejected      bool              `json:"rejected,omitempty"`
	File          file              `json:"file"`
	License       *license          `json:"license,omitempty"`
	ReleaseNotes  translated        `json:"release_notes,omitempty"`
	ApprovalNotes string            `json:"approval_notes,omitempty"`
	Compatibility map[string]compat `json:"compatibility"`
	Source        *source           `json:"source,omitempty"`
}

// file is the file of a version: the upload it was created from.
type file struct {
	ID         int64  `json:"id"`
	UploadUUID string `json:"upload_uuid"`
	Filename   string `json:"filename"` // the download name, from the add-on's slug
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
}

// source is a version's source code archive.
type source struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// license is the version's license: a predefined one by slug, or a custom
// one with a name and text.
type license struct {
	Slug string     `json:"slug,omitempty"`
	Name translated `json:"name,omitempty"`
	Text translated `json:"text,omitempty"`
}

// compat is a version's compatibility with one application.
type compat struct {
	Min string `json:"min"`
	Max string `json:"max"`
}

// translated is an AMO translated field: locale to text.
type translated map[string]string

// text is the default locale's text, or else the text of the first locale
// in sort order, or "".
func (t translated) text() string {
	if s, ok := t[defaultLocale]; ok {
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
	statusUnreviewed = "unreviewed"
	statusPublic     = "public"
	statusDisabled   = "disabled"
)

// status is v's file status at now.
func (v *version) status(now time.Time) string {
	switch {
	case now.Before(v.ReviewAt):
		return statusUnreviewed
	case v.Rejected:
		return statusDisabled
	default:
		return statusPublic
	}
}

// Upload channels.
const (
	channelListed   = "listed"
	channelUnlisted = "unlisted"
)

// findAddon returns the add-on identified as AMO's Addon.get_lookup_field
// does: digits are an id, a string with "@" or in braces is a guid, other
// strings are a slug.
func (st *state) findAddon(ident string) *addon {
	isID := ident != "" && strings.Trim(ident, "0123456789") == ""
	isGUID := strings.Contains(ident, "@") || (strings.HasPrefix(ident, "{") && strings.HasSuffix(ident, "}"))
	for _, a := range st.Addons {
		switch {
		case isID:
			if formatID(a.ID) == strings.TrimLeft(ident, "0") {
				return a
			}
		case isGUID:
			if a.GUID == ident {
				return a
			}
		case a.Slug == ident:
			return a
		}
	}
	return nil
}

// addonByGUID returns the add-on with this guid, or nil.
func (st *state) addonByGUID(guid string) *addon {
	for _, a := range st.Addons {
		if a.GUID == guid {
			return a
		}
	}
	return nil
}

// findVersion returns a's version identified as AMO does: an identifier
// without a dot is an id, one with dots (or a "v" prefix) a version
// number.
func (a *addon) findVersion(ident string) *version {
	number, byNumber := ident, strings.Contains(ident, ".")
	if strings.HasPrefix(ident, "v") {
		number, byNumber = ident[1:], true
	}
	for _, v := range a.Versions {
		if byNumber && v.Version == number || !byNumber && formatID(v.ID) == ident {
			return v
		}
	}
	return nil
}

// hasVersion reports whether a already has a version with this number.
func (a *addon) hasVersion(number string) bool {
	for _, v := range a.Versions {
		if v.Version == number {
			return true
		}
	}
	return false
}

// latest returns a's newest version in channel that is public at now
// (public is true) or whatever its status (public false), or nil.
func (a *addon) latest(channel string, now time.Time, public bool) *version {
	for i := len(a.Versions) - 1; i >= 0; i-- {
		v := a.Versions[i]
		if v.Channel == channel && (!public || v.status(now) == statusPublic) {
			return v
		}
	}
	return nil
}

// slugTaken reports whether an add-on already uses slug.
func (st *state) slugTaken(slug string) bool {
	for _, a := range st.Addons {
		if a.Slug == slug {
			return true
		}
	}
	return false
}

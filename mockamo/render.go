package mockamo

import (
	"strconv"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// formatTime is t in AMO's API datetime format.
func formatTime(t time.Time) string { return t.UTC().Format(DateTimeFormat) }

// uploadBody is AMO's upload detail object (FileUploadSerializer).
type uploadBody struct {
	UUID       string          `json:"uuid"`
	Channel    string          `json:"channel"`
	Processed  bool            `json:"processed"`
	Submitted  bool            `json:"submitted"`
	URL        string          `json:"url"`
	Valid      bool            `json:"valid"`
	Validation *xpi.Validation `json:"validation"`
	Version    *string         `json:"version"`
}

// renderUpload is u as seen at now: before the processing delay has
// passed it is unprocessed, invalid, without validation or version.
func renderUpload(u *sim.Upload, base string, now time.Time) uploadBody {
	b := uploadBody{
		UUID:      u.UUID,
		Channel:   u.Channel,
		Submitted: u.Submitted,
		URL:       base + "/api/v5/addons/upload/" + u.UUID + "/",
	}
	if !u.Processed(now) {
		return b
	}
	b.Processed, b.Valid, b.Validation = true, u.Valid(), u.Validation
	if u.Manifest != nil {
		b.Version = &u.Manifest.Version
	}
	return b
}

// versionBody is AMO's version object as the add-on's author sees it
// (DeveloperVersionSerializer).
type versionBody struct {
	ID                           int64                 `json:"id"`
	ApprovalNotes                string                `json:"approval_notes"`
	Channel                      string                `json:"channel"`
	Compatibility                map[string]sim.Compat `json:"compatibility"`
	EditURL                      string                `json:"edit_url"`
	File                         fileBody              `json:"file"`
	IsDisabled                   bool                  `json:"is_disabled"`
	IsStrictCompatibilityEnabled bool                  `json:"is_strict_compatibility_enabled"`
	License                      *licenseBody          `json:"license"`
	ReleaseNotes                 sim.Translated        `json:"release_notes"`
	Reviewed                     *string               `json:"reviewed"`
	Source                       *string               `json:"source"`
	Version                      string                `json:"version"`
}

// fileBody is AMO's file object (FileSerializer).
type fileBody struct {
	ID                       int64    `json:"id"`
	Created                  string   `json:"created"`
	Hash                     string   `json:"hash"`
	IsMozillaSignedExtension bool     `json:"is_mozilla_signed_extension"`
	Size                     int64    `json:"size"`
	Status                   string   `json:"status"`
	URL                      string   `json:"url"`
	Permissions              []string `json:"permissions"`
	OptionalPermissions      []string `json:"optional_permissions"`
	HostPermissions          []string `json:"host_permissions"`
}

// licenseBody is AMO's license object (LicenseSerializer) without the id
// of AMO's license table.
type licenseBody struct {
	IsCustom bool           `json:"is_custom"`
	Name     sim.Translated `json:"name"`
	Slug     *string        `json:"slug"`
	Text     sim.Translated `json:"text,omitempty"`
	URL      *string        `json:"url"`
}

func renderVersion(a *sim.Addon, v *sim.Version, base string, now time.Time) versionBody {
	b := versionBody{
		ID:            v.ID,
		ApprovalNotes: v.ApprovalNotes,
		Channel:       v.Channel,
		Compatibility: v.Compatibility,
		EditURL:       base + "/en-US/developers/addon/" + a.Slug + "/versions/" + formatID(v.ID),
		File: fileBody{
			ID:                  v.File.ID,
			Created:             formatTime(v.Created),
			Hash:                "sha256:" + v.File.SHA256,
			Size:                v.File.Size,
			Status:              v.Status(now),
			URL:                 fileURL(base, v),
			Permissions:         []string{},
			OptionalPermissions: []string{},
			HostPermissions:     []string{},
		},
		ReleaseNotes: v.ReleaseNotes,
		Version:      v.Version,
	}
	if b.File.Status == sim.StatusPublic {
		reviewed := formatTime(v.ReviewAt)
		b.Reviewed = &reviewed
	}
	if v.Source != nil {
		src := base + "/firefox/downloads/source/" + formatID(v.ID)
		b.Source = &src
	}
	if l := v.License; l != nil {
		if l.Slug != "" {
			b.License = &licenseBody{Slug: &l.Slug}
		} else {
			b.License = &licenseBody{IsCustom: true, Name: l.Name, Text: l.Text}
		}
	}
	return b
}

// fileURL is where the file of v is downloaded from (AMO's
// /firefox/downloads/file/<id>/<name>).
func fileURL(base string, v *sim.Version) string {
	return base + "/firefox/downloads/file/" + formatID(v.File.ID) + "/" + v.File.Filename
}

// addonBody is AMO's add-on object as its author sees it
// (AddonSerializerWithUnlistedData), limited to the fields the mock has
// data for; Version is set in the answer to a create or update that
// submitted a version.
type addonBody struct {
	ID                    int64               `json:"id"`
	Authors               []authorBody        `json:"authors"`
	Categories            map[string][]string `json:"categories"`
	Created               string              `json:"created"`
	CurrentVersion        *versionBody        `json:"current_version"`
	DefaultLocale         string              `json:"default_locale"`
	Description           sim.Translated      `json:"description"`
	EditURL               string              `json:"edit_url"`
	GUID                  string              `json:"guid"`
	HasEULA               bool                `json:"has_eula"`
	HasPrivacyPolicy      bool                `json:"has_privacy_policy"`
	IsDisabled            bool                `json:"is_disabled"`
	IsExperimental        bool                `json:"is_experimental"`
	LastUpdated           string              `json:"last_updated"`
	LatestUnlistedVersion *versionBody        `json:"latest_unlisted_version"`
	Name                  sim.Translated      `json:"name"`
	RequiresPayment       bool                `json:"requires_payment"`
	Slug                  string              `json:"slug"`
	Status                string              `json:"status"`
	Summary               sim.Translated      `json:"summary"`
	Tags                  []string            `json:"tags"`
	Type                  string              `json:"type"`
	URL                   string              `json:"url"`
	Version               *versionBody        `json:"version,omitempty"`
	VersionsURL           string              `json:"versions_url"`
}

// authorBody is AMO's add-on author (AddonDeveloperSerializer).
type authorBody struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	URL        string  `json:"url"`
	Username   string  `json:"username"`
	PictureURL *string `json:"picture_url"`
}

// renderAddon is a at now; submitted, when not nil, is the version the
// request created.
func renderAddon(a *sim.Addon, base string, now time.Time, submitted *sim.Version) addonBody {
	b := addonBody{
		ID:            a.ID,
		Authors:       make([]authorBody, 0, len(a.Authors)),
		Categories:    a.Categories,
		Created:       formatTime(a.Created),
		DefaultLocale: a.DefaultLocale,
		Description:   a.Description,
		EditURL:       base + "/en-US/developers/addon/" + a.Slug + "/edit",
		GUID:          a.GUID,
		LastUpdated:   formatTime(a.LastUpdated()),
		Name:          a.Name,
		Slug:          a.Slug,
		Status:        a.Status(now),
		Summary:       a.Summary,
		Tags:          []string{},
		Type:          "extension",
		URL:           base + "/en-US/firefox/addon/" + a.Slug + "/",
		VersionsURL:   base + "/en-US/firefox/addon/" + a.Slug + "/versions/",
	}
	if b.Categories == nil {
		b.Categories = map[string][]string{}
	}
	for _, au := range a.Authors {
		b.Authors = append(b.Authors, authorBody{ID: au.ID, Name: au.Name, Username: au.Username,
			URL: base + "/en-US/firefox/user/" + formatID(au.ID) + "/"})
	}
	if v := a.Latest(sim.ChannelListed, now, true); v != nil {
		vb := renderVersion(a, v, base, now)
		b.CurrentVersion = &vb
	}
	if v := a.Latest(sim.ChannelUnlisted, now, false); v != nil {
		vb := renderVersion(a, v, base, now)
		b.LatestUnlistedVersion = &vb
	}
	if submitted != nil {
		vb := renderVersion(a, submitted, base, now)
		b.Version = &vb
	}
	return b
}

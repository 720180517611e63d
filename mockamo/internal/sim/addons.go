package sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/amojwt/amojwt/mockamo/internal/quote"
	"github.com/amojwt/amojwt/mockamo/internal/xpi"
)

// Texts of AMO's add-on and version serializers and validators.
const (
	msgUploadInvalid    = "Upload is not valid."
	msgUploadSubmitted  = "This upload has already been submitted."
	msgDuplicateGUID    = "Duplicate add-on ID found."
	msgGUIDRequired     = "A GUID must be specified in the manifest."
	msgGUIDMismatch     = "GUID mismatch between the URL and manifest."
	msgListedMetadata   = "This field is required for add-ons with listed versions."
	msgListedLicense    = "This field, or custom_license, is required for listed versions."
	msgSlugTaken        = "addon with this slug already exists."
	defaultCompatMinMV2 = "42.0"
	defaultCompatMinMV3 = "109.0"
	defaultCompatMaxVer = "*"
)

// CreateAddon is POST addon/: a new add-on of author from the upload in
// req's version.upload, with the guid of its manifest or a generated one
// ("{" + UUID + "}"). It returns the add-on and the version created.
func (s *State) CreateAddon(author Author, req *AddonRequest) (*Addon, *Version, error) {
	if err := checkUser(author.ID); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createAddon(author, req, "")
}

// CheckPut decides what PUT addon/<guid>/ can decide before its body is
// read: ErrNotFound when ident names no add-on and is no guid (AMO then
// looks it up as an id or a slug), ErrForbidden when the add-on is
// another user's.
func (s *State) CheckPut(userID int64, ident string) error {
	if err := checkUser(userID); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkPut(userID, ident)
}

func (s *State) checkPut(userID int64, ident string) error {
	existing := s.addonByGUID(ident)
	switch {
	case existing == nil && !IsGUID(ident):
		return ErrNotFound
	case existing != nil && !existing.IsAuthor(userID):
		return ErrForbidden
	}
	return nil
}

// PutAddon is PUT addon/<guid>/: a new version of author's add-on with
// that guid (or only new metadata, without a version object), or a new
// add-on with that guid (created is true). It returns the add-on and the
// version created, if any.
func (s *State) PutAddon(author Author, guid string, req *AddonRequest) (a *Addon, v *Version, created bool, err error) {
	if err := checkUser(author.ID); err != nil {
		return nil, nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The add-on may have been created since CheckPut.
	if err := s.checkPut(author.ID, guid); err != nil {
		return nil, nil, false, err
	}
	if existing := s.addonByGUID(guid); existing != nil {
		a, v, err = s.submitVersion(author.ID, req, existing)
		return a, v, false, err
	}
	a, v, err = s.createAddon(author, req, guid)
	return a, v, err == nil, err
}

// Addon returns the add-on ident names (an id, a guid or a slug: see
// findAddon) when the user with this id is one of its authors.
func (s *State) Addon(userID int64, ident string) (*Addon, error) {
	if err := checkUser(userID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.authorsAddon(userID, ident)
}

// authorsAddon finds the add-on ident names and checks that the user is
// an author. Called with s.mu held.
func (s *State) authorsAddon(userID int64, ident string) (*Addon, error) {
	a := s.findAddon(ident)
	switch {
	case a == nil:
		return nil, ErrNotFound
	case !a.IsAuthor(userID):
		return nil, ErrForbidden
	}
	return a, nil
}

// resolveUpload finds the user's upload named by raw (version.upload) as
// AMO's DeveloperVersionSerializer does, or returns the error message.
// Called with s.mu held.
func (s *State) resolveUpload(raw json.RawMessage, userID int64) (*Upload, string) {
	if raw == nil {
		return nil, msgRequired
	}
	if isNull(raw) {
		return nil, msgNull
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		key := normalizeUUID(str)
		if key == "" {
			return nil, "“" + quote.Input(str) + "” is not a valid UUID."
		}
		u := s.uploads[key]
		switch {
		case u == nil:
			return nil, "Object with uuid=" + quote.Input(str) + " does not exist."
		case u.UserID != userID || !u.Processed(s.cfg.Now()) || !u.Valid():
			return nil, msgUploadInvalid
		case s.submitted[key]:
			return nil, msgUploadSubmitted
		}
		return u, ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if _, err := n.Int64(); err == nil {
			return nil, "Object with uuid=" + quote.Input(n.String()) + " does not exist."
		}
	}
	return nil, "“" + quote.Input(strings.TrimSpace(string(raw))) + "” is not a valid UUID."
}

// uploadErrors resolves req's upload and returns it, or returns the
// request's field errors with the upload's (DRF reports the errors of
// every field at once). check returns the error of a resolved upload that
// depends on the add-on (a duplicate or mismatched add-on ID), or "".
// Called with s.mu held.
func (s *State) uploadErrors(req *AddonRequest, userID int64, errs FieldErrors, check func(*Upload) string) (*Upload, FieldErrors) {
	if req.version == nil {
		return nil, errs
	}
	u, msg := s.resolveUpload(req.version.upload, userID)
	if msg == "" {
		msg = check(u)
	}
	if msg != "" {
		return nil, append(errs, FieldError{Field: "version", Nested: fieldErr("upload", msg)})
	}
	return u, errs
}

// createAddon creates an add-on of author from req, with its guid from
// the URL for PUT ("" for POST). Called with s.mu held.
func (s *State) createAddon(author Author, req *AddonRequest, urlGUID string) (*Addon, *Version, error) {
	errs := req.errs.clone()
	if !req.versionGiven {
		errs = append(errs, FieldError{Field: "version", Messages: []string{msgRequired}})
	}
	u, errs := s.uploadErrors(req, author.ID, errs, func(u *Upload) string {
		if g := u.Manifest.GUID; g != "" && s.addonByGUID(g) != nil {
			return msgDuplicateGUID
		}
		return ""
	})
	if errs != nil {
		return nil, nil, invalid(errs)
	}
	guid := u.Manifest.GUID
	switch {
	case u.Channel == ChannelListed && req.version.license == nil:
		return nil, nil, invalid(versionErr("license", msgListedLicense))
	case urlGUID != "" && guid == "":
		return nil, nil, invalid(versionErr("non_field_errors", msgGUIDRequired))
	case urlGUID != "" && guid != urlGUID:
		return nil, nil, invalid(versionErr("non_field_errors", msgGUIDMismatch))
	}
	name, summary := req.name, req.summary
	if len(name) == 0 {
		name = Translated{DefaultLocale: u.Manifest.Name}
	}
	if len(summary) == 0 && u.Manifest.Description != "" {
		summary = Translated{DefaultLocale: u.Manifest.Description}
	}
	if u.Channel == ChannelListed {
		var missing FieldErrors
		if len(summary) == 0 {
			missing = append(missing, fieldErr("summary", msgListedMetadata)...)
		}
		if len(req.categories) == 0 {
			missing = append(missing, fieldErr("categories", msgListedMetadata)...)
		}
		if missing != nil {
			return nil, nil, invalid(missing)
		}
	}
	if req.slug != "" && s.slugTaken(req.slug) {
		return nil, nil, invalid(fieldErr("slug", msgSlugTaken))
	}
	if guid == "" {
		guid = "{" + dashedUUID(newUUIDHex()) + "}"
	}
	slug := req.slug
	if slug == "" {
		slug = s.uniqueSlug(u.Manifest.Name)
	}
	a := &Addon{
		ID:            s.lastAddonID + 1,
		GUID:          guid,
		Slug:          slug,
		Created:       s.cfg.Now(),
		Authors:       []Author{author},
		DefaultLocale: DefaultLocale,
		Name:          name,
		Summary:       summary,
		Description:   req.description,
		Categories:    req.categories,
		Versions:      []*Version{},
	}
	a, v := s.withNewVersion(a, u, req.version, author.ID)
	if err := s.commit(addonRecord(a.ID), a.owner(), a, 0); err != nil {
		return nil, nil, err
	}
	s.lastAddonID = a.ID
	s.addons = append(s.addons, a)
	s.recordVersion(u, v, author.ID)
	return a, v, nil
}

// submitVersion adds a version from req to the user's add-on a, or only
// updates its metadata without a version object. Called with s.mu held.
func (s *State) submitVersion(userID int64, req *AddonRequest, a *Addon) (*Addon, *Version, error) {
	u, errs := s.uploadErrors(req, userID, req.errs.clone(), func(u *Upload) string {
		if g := u.Manifest.GUID; g != "" && g != a.GUID {
			return fmt.Sprintf("The add-on ID in your manifest.json (%s) does not match the ID of your add-on on AMO (%s)", g, a.GUID)
		}
		return ""
	})
	if errs != nil {
		return nil, nil, invalid(errs)
	}
	if u != nil {
		if err := checkNewVersion(a, u, req); err != nil {
			return nil, nil, err
		}
	}
	if req.slug != "" && req.slug != a.Slug && s.slugTaken(req.slug) {
		return nil, nil, invalid(fieldErr("slug", msgSlugTaken))
	}
	updated := withMetadata(a, req)
	var v *Version
	if u != nil {
		updated, v = s.withNewVersion(updated, u, req.version, userID)
	}
	if err := s.commit(addonRecord(a.ID), a.owner(), updated, sourceBytes(updated)); err != nil {
		return nil, nil, err
	}
	s.replaceAddon(updated)
	if v != nil {
		s.recordVersion(u, v, userID)
	}
	return updated, v, nil
}

// checkNewVersion checks that upload u may become a version of a:
// a guid in its manifest, a version number a does not have yet (409
// otherwise, as AMO), and for a listed version a license and the add-on
// metadata AMO requires.
func checkNewVersion(a *Addon, u *Upload, req *AddonRequest) error {
	switch {
	case u.Manifest.GUID == "":
		return invalid(versionErr("non_field_errors", msgGUIDRequired))
	case a.hasVersion(u.Manifest.Version):
		return &ConflictError{fields: fieldErr("version", "Version "+u.Manifest.Version+" already exists.")}
	case u.Channel != ChannelListed:
		return nil
	case req.version.license == nil && a.previousListedLicense() == nil:
		return invalid(versionErr("license", msgListedLicense))
	}
	var missing []string
	if len(a.Summary) == 0 && len(req.summary) == 0 {
		missing = append(missing, "'summary'")
	}
	if len(a.Categories) == 0 && len(req.categories) == 0 {
		missing = append(missing, "'categories'")
	}
	if missing != nil {
		return invalid(versionErr("non_field_errors",
			"Add-on metadata is required to be set to create a listed version: ["+strings.Join(missing, ", ")+"]."))
	}
	return nil
}

// withMetadata returns a copy of a with the metadata req sets.
func withMetadata(a *Addon, req *AddonRequest) *Addon {
	c := *a
	if len(req.name) > 0 {
		c.Name = req.name
	}
	if req.summary != nil {
		c.Summary = req.summary
	}
	if req.description != nil {
		c.Description = req.description
	}
	if req.categories != nil {
		c.Categories = req.categories
	}
	if req.slug != "" {
		c.Slug = req.slug
	}
	return &c
}

// withNewVersion returns a copy of a with the version created from upload
// u and req, and that version. Its review ends after the review delay,
// rejected when the user armed RejectNextReview (the knob is consumed by
// recordVersion). Called with s.mu held.
func (s *State) withNewVersion(a *Addon, u *Upload, req *versionRequest, userID int64) (*Addon, *Version) {
	now := s.cfg.Now()
	v := &Version{
		ID:            s.lastVersionID + 1,
		Version:       u.Manifest.Version,
		Channel:       u.Channel,
		Created:       now,
		ReviewAt:      now.Add(s.cfg.ReviewDelay),
		Rejected:      s.rejectReview[userID],
		File:          File{ID: s.lastFileID + 1, UploadUUID: u.UUID, Size: u.Size, SHA256: u.SHA256},
		License:       req.license,
		ReleaseNotes:  req.releaseNotes,
		ApprovalNotes: req.approvalNotes,
		Compatibility: compatibility(req.compatibility, u.Manifest),
	}
	if v.License == nil && v.Channel == ChannelListed {
		v.License = a.previousListedLicense()
	}
	v.File.Filename = fileSlug(a) + "-" + v.Version + ".xpi"
	return a.withVersion(v), v
}

// recordVersion notes, once v is committed, that upload u is used and
// that the user's RejectNextReview knob fired. Called with s.mu held.
func (s *State) recordVersion(u *Upload, v *Version, userID int64) {
	s.lastVersionID = v.ID
	s.lastFileID = v.File.ID
	s.submitted[u.UUID] = true
	take(s.rejectReview, userID)
}

// replaceAddon swaps updated in for the add-on of the same id. Called
// with s.mu held.
func (s *State) replaceAddon(updated *Addon) {
	for i, a := range s.addons {
		if a.ID == updated.ID {
			s.addons[i] = updated
			return
		}
	}
}

// compatibility fills the requested compatibility (or Firefox alone) with
// the manifest's minimum version or AMO's default, and "*" as maximum.
func compatibility(req map[string]Compat, m *xpi.Manifest) map[string]Compat {
	if len(req) == 0 {
		req = map[string]Compat{firefoxApp: {}}
	}
	minVersion := m.StrictMinVersion
	if minVersion == "" {
		minVersion = defaultCompatMinMV2
		if m.ManifestVersion >= 3 {
			minVersion = defaultCompatMinMV3
		}
	}
	out := make(map[string]Compat, len(req))
	for app, c := range req {
		if c.Min == "" {
			c.Min = minVersion
		}
		if c.Max == "" {
			c.Max = defaultCompatMaxVer
		}
		out[app] = c
	}
	return out
}

// findAddon returns the add-on identified as AMO's Addon.get_lookup_field
// does: digits are an id, a guid (see IsGUID) is a guid, other strings
// are a slug. Called with s.mu held.
func (s *State) findAddon(ident string) *Addon {
	byID, byGUID := isID(ident), IsGUID(ident)
	for _, a := range s.addons {
		switch {
		case byID:
			if strconv.FormatInt(a.ID, 10) == strings.TrimLeft(ident, "0") {
				return a
			}
		case byGUID:
			if a.GUID == ident {
				return a
			}
		case a.Slug == ident:
			return a
		}
	}
	return nil
}

// addonByGUID returns the add-on with this guid, or nil. Called with
// s.mu held.
func (s *State) addonByGUID(guid string) *Addon {
	for _, a := range s.addons {
		if a.GUID == guid {
			return a
		}
	}
	return nil
}

// slugTaken reports whether an add-on already uses slug. Called with s.mu
// held.
func (s *State) slugTaken(slug string) bool {
	for _, a := range s.addons {
		if a.Slug == slug {
			return true
		}
	}
	return false
}

// uniqueSlug is a slug for an add-on named name that no add-on uses: the
// slugified name (prefixed when empty or all digits, which AMO refuses),
// with -2, -3, ... appended when taken. Called with s.mu held.
func (s *State) uniqueSlug(name string) string {
	base := slugify(name)
	if strings.Trim(base, "0123456789") == "" {
		base = strings.TrimSuffix("addon-"+base, "-")
	}
	slug := base
	for n := 2; s.slugTaken(slug); n++ {
		slug = base + "-" + strconv.Itoa(n)
	}
	return slug
}

// slugify lower-cases s and joins its runs of ASCII letters and digits
// with "-".
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// fileSlug is the name part of a's file names, as AMO's: the slugified
// add-on name with "_" for "-", at most 50 characters.
func fileSlug(a *Addon) string {
	s := strings.ReplaceAll(slugify(a.Name.Text()), "-", "_")
	if s == "" {
		s = "addon"
	}
	if len(s) > 50 {
		s = s[:50]
	}
	return s
}

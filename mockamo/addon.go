package mockamo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/amojwt/amojwt/verifier"
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
	msgInvalidCategory  = "Invalid category name."
	msgSlugTaken        = "addon with this slug already exists."
	msgSlugDenied       = "This slug cannot be used. Please choose another."
	msgSlugInvalid      = "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."
	msgInvalidValue     = "Invalid value."
	allowAddonList      = "POST, OPTIONS"
	allowAddonInstance  = "GET, PUT, HEAD, OPTIONS"
	defaultLocale       = "en-US"
	maxCompatibleApps   = 2
	firefoxApp          = "firefox"
	androidApp          = "android"
	defaultCompatMaxVer = "*"
)

// Extension categories AMO accepts, by application.
var categories = map[string][]string{
	firefoxApp: {"alerts-updates", "appearance", "bookmarks", "download-management", "feeds-news-blogging",
		"games-entertainment", "language-support", "other", "photos-music-videos", "privacy-security",
		"search-tools", "shopping", "social-communication", "tabs", "web-development"},
	androidApp: {"device-features-location", "experimental", "feeds-news-blogging", "other", "performance",
		"photos-media", "security-privacy", "shopping", "social-networking", "user-interface"},
}

var slugPattern = regexp.MustCompile(`^[-\w~]+$`)

// addonRequest is the JSON body of POST addon/ and PUT addon/<guid>/:
// the metadata the mock keeps, and the version to create. Other fields
// AMO accepts (tags, homepage, ...) are ignored.
type addonRequest struct {
	name, summary, description translated
	categories                 map[string][]string
	slug                       string
	version                    *versionRequest // nil when absent
}

// versionRequest is the "version" object of an add-on request.
type versionRequest struct {
	upload        json.RawMessage // nil when absent
	license       *license
	releaseNotes  translated
	approvalNotes string
	compatibility map[string]compat
}

// parseAddonRequest decodes body in AMO's field order and returns the
// field errors DRF would, or nil.
func parseAddonRequest(body map[string]json.RawMessage) (*addonRequest, fieldErrors) {
	req := &addonRequest{}
	var errs fieldErrors
	if raw, ok := body["categories"]; ok {
		cats, msg := parseCategories(raw)
		if msg != "" {
			errs = append(errs, fieldError{"categories", []string{msg}})
		}
		req.categories = cats
	}
	for _, f := range []struct {
		name string
		dst  *translated
	}{{"description", &req.description}, {"name", &req.name}} {
		if raw, ok := body[f.name]; ok {
			t, msg := parseTranslated(raw)
			if msg != "" {
				errs = append(errs, fieldError{f.name, []string{msg}})
			}
			*f.dst = t
		}
	}
	if raw, ok := body["slug"]; ok {
		if json.Unmarshal(raw, &req.slug) != nil || !slugPattern.MatchString(req.slug) {
			errs = append(errs, fieldError{"slug", []string{msgSlugInvalid}})
		} else if strings.Trim(req.slug, "0123456789") == "" {
			errs = append(errs, fieldError{"slug", []string{msgSlugDenied}})
		}
	}
	if raw, ok := body["summary"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			errs = append(errs, fieldError{"summary", []string{msg}})
		}
		req.summary = t
	}
	if raw, ok := body["version"]; ok {
		v, verrs := parseVersionRequest(raw)
		if verrs != nil {
			errs = append(errs, fieldError{"version", verrs})
		}
		req.version = v
	}
	return req, errs
}

// parseVersionRequest decodes the version object; verrs is []string for
// an error about the object itself, fieldErrors for its fields.
func parseVersionRequest(raw json.RawMessage) (*versionRequest, any) {
	if isNull(raw) {
		return nil, []string{msgNull}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, fieldErr("non_field_errors", "Invalid data. Expected a dictionary, but got "+pyType(raw)+".")
	}
	v := &versionRequest{upload: obj["upload"]}
	var errs fieldErrors
	if raw, ok := obj["compatibility"]; ok {
		c, ok := parseCompatibility(raw)
		if !ok {
			errs = append(errs, fieldError{"compatibility", []string{msgInvalidValue}})
		}
		v.compatibility = c
	}
	if raw, ok := obj["custom_license"]; ok {
		var cl struct {
			Name, Text json.RawMessage
		}
		if json.Unmarshal(raw, &cl) != nil || cl.Name == nil || cl.Text == nil {
			errs = append(errs, fieldError{"custom_license", fieldErr("text", msgRequired)})
		} else {
			name, m1 := parseTranslated(cl.Name)
			text, m2 := parseTranslated(cl.Text)
			if m1 != "" || m2 != "" {
				errs = append(errs, fieldError{"custom_license", []string{msgInvalidValue}})
			}
			v.license = &license{Name: name, Text: text}
		}
	}
	if raw, ok := obj["license"]; ok {
		var slug string
		if json.Unmarshal(raw, &slug) != nil || slug == "" {
			errs = append(errs, fieldError{"license", []string{msgInvalidValue}})
		} else {
			v.license = &license{Slug: slug}
		}
	}
	if raw, ok := obj["release_notes"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			errs = append(errs, fieldError{"release_notes", []string{msg}})
		}
		v.releaseNotes = t
	}
	if raw, ok := obj["approval_notes"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &v.approvalNotes) != nil {
			errs = append(errs, fieldError{"approval_notes", []string{"Not a valid string."}})
		}
	}
	if errs != nil {
		return nil, errs
	}
	return v, nil
}

// parseTranslated reads an AMO translated field: a string (the default
// locale's text), an object of locale to text (null values dropped), or
// null.
func parseTranslated(raw json.RawMessage) (translated, string) {
	if isNull(raw) {
		return nil, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return translated{defaultLocale: s}, ""
	}
	var m map[string]*string
	if json.Unmarshal(raw, &m) != nil {
		return nil, `Expected a dictionary of items but got type "` + pyType(raw) + `".`
	}
	t := translated{}
	for k, v := range m {
		if v != nil {
			t[k] = *v
		}
	}
	return t, ""
}

// parseCategories reads {"firefox": [slugs], "android": [slugs]}.
func parseCategories(raw json.RawMessage) (map[string][]string, string) {
	var m map[string][]string
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, `Expected a dictionary of items but got type "` + pyType(raw) + `".`
	}
	for app, slugs := range m {
		for _, s := range slugs {
			if !slices.Contains(categories[app], s) {
				return nil, msgInvalidCategory
			}
		}
	}
	return m, ""
}

// parseCompatibility reads a list of applications, or an object of
// application to {"min", "max"} (either may be missing).
func parseCompatibility(raw json.RawMessage) (map[string]compat, bool) {
	out := map[string]compat{}
	var apps []string
	if json.Unmarshal(raw, &apps) == nil {
		for _, app := range apps {
			if app != firefoxApp && app != androidApp {
				return nil, false
			}
			out[app] = compat{}
		}
		return out, len(out) > 0
	}
	var m map[string]struct {
		Min *string `json:"min"`
		Max *string `json:"max"`
	}
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 || len(m) > maxCompatibleApps {
		return nil, false
	}
	for app, c := range m {
		if app != firefoxApp && app != androidApp {
			return nil, false
		}
		var v compat
		if c.Min != nil {
			v.Min = *c.Min
		}
		if c.Max != nil {
			v.Max = *c.Max
		}
		out[app] = v
	}
	return out, true
}

// createAddon is POST /api/v5/addons/addon/: a new add-on from the
// upload in version.upload, its ID from the manifest or generated ("{" +
// UUID + "}", which web-ext saves in .web-extension-id). 201 with the
// add-on and the version created.
func (a *api) createAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	body, ok := readJSONObject(w, r, allowAddonList)
	if !ok {
		return
	}
	req, errs := parseAddonRequest(body)
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if req.version == nil && body["version"] == nil {
		errs = append(errs, fieldError{"version", []string{msgRequired}})
	}
	a.submitNewAddon(w, r, p, req, errs, "", allowAddonList)
}

// putAddon is PUT /api/v5/addons/addon/<guid>/: a new version of the
// caller's add-on with that guid (200), or a new add-on with that guid
// (201). Another user's add-on is 403.
func (a *api) putAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	guid := param(r, "addon")
	a.s.mu.Lock()
	existing := a.s.st.addonByGUID(guid)
	isGUID := strings.Contains(guid, "@") || (strings.HasPrefix(guid, "{") && strings.HasSuffix(guid, "}"))
	switch {
	case existing == nil && !isGUID:
		a.s.mu.Unlock()
		notFoundDetail(w)
		return
	case existing != nil && !existing.isAuthor(p.UserID):
		a.s.mu.Unlock()
		addonForbidden(w)
		return
	}
	a.s.mu.Unlock()
	body, ok := readJSONObject(w, r, allowAddonInstance)
	if !ok {
		return
	}
	req, errs := parseAddonRequest(body)
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	// Look again: the add-on may have been created while the body was
	// read.
	existing = a.s.st.addonByGUID(guid)
	switch {
	case existing != nil && !existing.isAuthor(p.UserID):
		addonForbidden(w)
	case existing == nil:
		if req.version == nil && body["version"] == nil {
			errs = append(errs, fieldError{"version", []string{msgRequired}})
		}
		a.submitNewAddon(w, r, p, req, errs, guid, allowAddonInstance)
	default:
		a.submitVersion(w, r, p, req, errs, existing)
	}
}

// resolveUpload finds the caller's upload named by raw (version.upload)
// as AMO's DeveloperVersionSerializer does, or returns the error message.
func (s *Submissions) resolveUpload(raw json.RawMessage, userID int64) (*upload, string) {
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
			return nil, "“" + str + "” is not a valid UUID."
		}
		u := s.st.Uploads[key]
		switch {
		case u == nil:
			return nil, "Object with uuid=" + str + " does not exist."
		case u.UserID != userID || !u.processed(s.now()) || !u.valid():
			return nil, msgUploadInvalid
		case u.Submitted:
			return nil, msgUploadSubmitted
		}
		return u, ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if _, err := n.Int64(); err == nil {
			return nil, "Object with uuid=" + n.String() + " does not exist."
		}
	}
	return nil, "“" + strings.TrimSpace(string(raw)) + "” is not a valid UUID."
}

// uploadErrors resolves req's upload and returns it, or adds its error to
// errs (the field errors of the rest of the request: DRF reports the
// errors of every field at once). check returns the error of a resolved
// upload that depends on the add-on (a duplicate or mismatched add-on ID),
// or "".
func (s *Submissions) uploadErrors(req *addonRequest, userID int64, errs fieldErrors, check func(*upload) string) (*upload, fieldErrors) {
	if req.version == nil {
		return nil, errs
	}
	u, msg := s.resolveUpload(req.version.upload, userID)
	if msg == "" {
		msg = check(u)
	}
	if msg != "" {
		return nil, append(errs, fieldError{"version", fieldErr("upload", msg)})
	}
	return u, errs
}

// submitNewAddon creates an add-on from req (with its guid from the URL
// for PUT, "" for POST) and answers 201, or answers errs and the errors of
// the upload. Called with s.mu held.
func (a *api) submitNewAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal, req *addonRequest, errs fieldErrors, urlGUID, allow string) {
	s := a.s
	u, errs := s.uploadErrors(req, p.UserID, errs, func(u *upload) string {
		if g := u.Manifest.GUID; g != "" && s.st.addonByGUID(g) != nil {
			return msgDuplicateGUID
		}
		return ""
	})
	if errs != nil {
		writeFieldErrors(w, allow, errs)
		return
	}
	guid := u.Manifest.GUID
	switch {
	case u.Channel == channelListed && req.version.license == nil:
		writeFieldErrors(w, allow, versionErr("license", msgListedLicense))
		return
	case urlGUID != "" && guid == "":
		writeFieldErrors(w, allow, versionErr("non_field_errors", msgGUIDRequired))
		return
	case urlGUID != "" && guid != urlGUID:
		writeFieldErrors(w, allow, versionErr("non_field_errors", msgGUIDMismatch))
		return
	}
	name, summary := req.name, req.summary
	if len(name) == 0 {
		name = translated{defaultLocale: u.Manifest.Name}
	}
	if len(summary) == 0 && u.Manifest.Description != "" {
		summary = translated{defaultLocale: u.Manifest.Description}
	}
	if u.Channel == channelListed {
		var missing fieldErrors
		if len(summary) == 0 {
			missing = append(missing, fieldError{"summary", []string{msgListedMetadata}})
		}
		if len(req.categories) == 0 {
			missing = append(missing, fieldError{"categories", []string{msgListedMetadata}})
		}
		if missing != nil {
			writeFieldErrors(w, allow, missing)
			return
		}
	}
	if req.slug != "" && s.st.slugTaken(req.slug) {
		writeFieldErrors(w, allow, fieldErr("slug", msgSlugTaken))
		return
	}
	if guid == "" {
		guid = "{" + dashedUUID(newUUIDHex()) + "}"
	}
	slug := req.slug
	if slug == "" {
		slug = s.st.uniqueSlug(u.Manifest.Name)
	}
	prof := a.prof.profile(r, p)
	s.st.LastAddonID++
	ad := &addon{
		ID:            s.st.LastAddonID,
		GUID:          guid,
		Slug:          slug,
		Created:       s.now(),
		Authors:       []author{{ID: prof.ID, Name: prof.Name, Username: prof.Username}},
		DefaultLocale: defaultLocale,
		Name:          name,
		Summary:       summary,
		Description:   req.description,
		Categories:    req.categories,
		Versions:      []*version{},
	}
	s.st.Addons = append(s.st.Addons, ad)
	v := s.newVersion(ad, u, req.version, p.UserID)
	if err := s.persist(); err != nil {
		serverError(w)
		return
	}
	writeJSONStatus(w, http.StatusCreated, allow, renderAddon(ad, a.prof.base(r), s.now(), v))
}

// submitVersion adds a version to the caller's add-on ad from req and
// answers 200 with the add-on; without a version object it only updates
// the metadata. It answers errs and the errors of the upload instead when
// there are any. Called with s.mu held.
func (a *api) submitVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal, req *addonRequest, errs fieldErrors, ad *addon) {
	s := a.s
	u, errs := s.uploadErrors(req, p.UserID, errs, func(u *upload) string {
		if g := u.Manifest.GUID; g != "" && g != ad.GUID {
			return fmt.Sprintf("The add-on ID in your manifest.json (%s) does not match the ID of your add-on on AMO (%s)", g, ad.GUID)
		}
		return ""
	})
	if errs != nil {
		writeFieldErrors(w, allowAddonInstance, errs)
		return
	}
	if u != nil {
		guid := u.Manifest.GUID
		switch {
		case guid == "":
			writeFieldErrors(w, allowAddonInstance, versionErr("non_field_errors", msgGUIDRequired))
			return
		case ad.hasVersion(u.Manifest.Version):
			// AMO answers a duplicate version number with 409 Conflict.
			writeJSONStatus(w, http.StatusConflict, allowAddonInstance,
				fieldErr("version", "Version "+u.Manifest.Version+" already exists."))
			return
		}
		if u.Channel == channelListed {
			if req.version.license == nil && previousListedLicense(ad) == nil {
				writeFieldErrors(w, allowAddonInstance, versionErr("license", msgListedLicense))
				return
			}
			var missing []string
			if len(ad.Summary) == 0 && len(req.summary) == 0 {
				missing = append(missing, "'summary'")
			}
			if len(ad.Categories) == 0 && len(req.categories) == 0 {
				missing = append(missing, "'categories'")
			}
			if missing != nil {
				writeFieldErrors(w, allowAddonInstance, versionErr("non_field_errors",
					"Add-on metadata is required to be set to create a listed version: ["+strings.Join(missing, ", ")+"]."))
				return
			}
		}
	}
	if req.slug != "" && req.slug != ad.Slug && s.st.slugTaken(req.slug) {
		writeFieldErrors(w, allowAddonInstance, fieldErr("slug", msgSlugTaken))
		return
	}
	applyMetadata(ad, req)
	var v *version
	if u != nil {
		v = s.newVersion(ad, u, req.version, p.UserID)
	}
	if err := s.persist(); err != nil {
		serverError(w)
		return
	}
	writeJSONStatus(w, http.StatusOK, allowAddonInstance, renderAddon(ad, a.prof.base(r), s.now(), v))
}

// applyMetadata copies the metadata req sets onto ad.
func applyMetadata(ad *addon, req *addonRequest) {
	if len(req.name) > 0 {
		ad.Name = req.name
	}
	if req.summary != nil {
		ad.Summary = req.summary
	}
	if req.description != nil {
		ad.Description = req.description
	}
	if req.categories != nil {
		ad.Categories = req.categories
	}
	if req.slug != "" {
		ad.Slug = req.slug
	}
}

// previousListedLicense is the license of ad's newest listed version.
func previousListedLicense(ad *addon) *license {
	for i := len(ad.Versions) - 1; i >= 0; i-- {
		if v := ad.Versions[i]; v.Channel == channelListed && v.License != nil {
			return v.License
		}
	}
	return nil
}

// newVersion adds the version created from upload u to ad and marks u
// submitted. Its review ends after the review delay, rejected when the
// user armed RejectNextReview. Called with s.mu held.
func (s *Submissions) newVersion(ad *addon, u *upload, req *versionRequest, userID int64) *version {
	now := s.now()
	s.st.LastVersionID++
	s.st.LastFileID++
	v := &version{
		ID:            s.st.LastVersionID,
		Version:       u.Manifest.Version,
		Channel:       u.Channel,
		Created:       now,
		ReviewAt:      now.Add(s.reviewDelay),
		Rejected:      s.rejectReview[userID],
		File:          file{ID: s.st.LastFileID, UploadUUID: u.UUID, Size: u.Size, SHA256: u.SHA256},
		License:       req.license,
		ReleaseNotes:  req.releaseNotes,
		ApprovalNotes: req.approvalNotes,
		Compatibility: compatibility(req.compatibility, u.Manifest),
	}
	delete(s.rejectReview, userID)
	if v.License == nil && v.Channel == channelListed {
		v.License = previousListedLicense(ad)
	}
	v.File.Filename = fileSlug(ad) + "-" + v.Version + ".xpi"
	ad.Versions = append(ad.Versions, v)
	u.Submitted = true
	return v
}

// compatibility fills the requested compatibility (or Firefox alone) with
// the manifest's minimum version or AMO's default, and "*" as maximum.
func compatibility(req map[string]compat, m *manifestInfo) map[string]compat {
	if len(req) == 0 {
		req = map[string]compat{firefoxApp: {}}
	}
	minVersion := m.StrictMinVersion
	if minVersion == "" {
		minVersion = defaultCompatMinMV2
		if m.ManifestVersion >= 3 {
			minVersion = defaultCompatMinMV3
		}
	}
	out := make(map[string]compat, len(req))
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

// uniqueSlug is a slug for an add-on named name that no add-on uses: the
// slugified name (prefixed when empty or all digits, which AMO refuses),
// with -2, -3, ... appended when taken.
func (st *state) uniqueSlug(name string) string {
	base := slugify(name)
	if strings.Trim(base, "0123456789") == "" {
		base = strings.TrimSuffix("addon-"+base, "-")
	}
	slug := base
	for n := 2; st.slugTaken(slug); n++ {
		slug = base + "-" + strconv.Itoa(n)
	}
	return slug
}

// fileSlug is the name part of ad's file names, as AMO's: the slugified
// add-on name with "_" for "-", at most 50 characters.
func fileSlug(ad *addon) string {
	s := strings.ReplaceAll(slugify(ad.Name.text()), "-", "_")
	if s == "" {
		s = "addon"
	}
	if len(s) > 50 {
		s = s[:50]
	}
	return s
}

// getAddon is GET /api/v5/addons/addon/<id|slug|guid>/: the caller's
// add-on; 404 when unknown, 403 when another user's.
func (a *api) getAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	ad, ok := a.s.authorsAddon(w, param(r, "addon"), p)
	if !ok {
		return
	}
	writeJSONStatus(w, http.StatusOK, allowAddonInstance, renderAddon(ad, a.prof.base(r), a.s.now(), nil))
}

// authorsAddon finds the add-on ident names and checks that the caller is
// an author, or answers 404 or 403. Called with s.mu held.
func (s *Submissions) authorsAddon(w http.ResponseWriter, ident string, p *verifier.Principal) (*addon, bool) {
	ad := s.st.findAddon(ident)
	switch {
	case ad == nil:
		notFoundDetail(w)
		return nil, false
	case !ad.isAuthor(p.UserID):
		addonForbidden(w)
		return nil, false
	}
	return ad, true
}

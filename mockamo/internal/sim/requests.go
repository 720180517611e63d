package sim

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// Texts of DRF's and AMO's serializers.
const (
	msgRequired        = "This field is required."
	msgNull            = "This field may not be null."
	msgInvalidValue    = "Invalid value."
	msgNotAString      = "Not a valid string."
	msgNotAFile        = "The submitted data was not a file. Check the encoding type on the form."
	msgInvalidCategory = "Invalid category name."
	msgSlugDenied      = "This slug cannot be used. Please choose another."
	msgSlugInvalid     = "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."
	msgSourceType      = "Unsupported file type, please upload an archive file (.zip, .tar.gz, .tgz, .tar.bz2)."
	maxCompatibleApps  = 2
	firefoxApp         = "firefox"
	androidApp         = "android"
)

// categories are the extension categories AMO accepts, by application.
var categories = map[string][]string{
	firefoxApp: {"alerts-updates", "appearance", "bookmarks", "download-management", "feeds-news-blogging",
		"games-entertainment", "language-support", "other", "photos-music-videos", "privacy-security",
		"search-tools", "shopping", "social-communication", "tabs", "web-development"},
	androidApp: {"device-features-location", "experimental", "feeds-news-blogging", "other", "performance",
		"photos-media", "security-privacy", "shopping", "social-networking", "user-interface"},
}

var slugPattern = regexp.MustCompile(`^[-\w~]+$`)

// sourceExtensions are the source archive types AMO accepts.
var sourceExtensions = []string{".zip", ".tar.gz", ".tgz", ".tar.bz2"}

// DecodeObject returns the members of the JSON value raw as a DRF
// serializer reads its data: a *ValidationError
// {"non_field_errors":["Invalid data. Expected a dictionary, but got
// <type>."]} when raw is not an object.
func DecodeObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, invalid(fieldErr("non_field_errors", notADict(raw)))
	}
	return obj, nil
}

// notADict is DRF's message for data that is not an object.
func notADict(raw json.RawMessage) string {
	return "Invalid data. Expected a dictionary, but got " + pyType(raw) + "."
}

// AddonRequest is the decoded body of POST addon/ and PUT addon/<guid>/:
// the metadata the mock keeps and the version to create, with the errors
// of its fields. Other fields AMO accepts (tags, homepage, ...) are
// ignored.
type AddonRequest struct {
	name, summary, description Translated
	categories                 map[string][]string
	slug                       string
	version                    *versionRequest // nil when absent or invalid
	versionGiven               bool            // the body has "version", even null
	errs                       FieldErrors
}

// versionRequest is the "version" object of an add-on request.
type versionRequest struct {
	upload        json.RawMessage // nil when absent
	license       *License
	releaseNotes  Translated
	approvalNotes string
	compatibility map[string]Compat
}

// DecodeAddonRequest decodes body in AMO's field order, keeping the field
// errors DRF would report; the State adds those that need its records
// (DRF reports the errors of every field at once).
func DecodeAddonRequest(body map[string]json.RawMessage) *AddonRequest {
	req := &AddonRequest{}
	add := func(field, msg string) {
		req.errs = append(req.errs, FieldError{Field: field, Messages: []string{msg}})
	}
	if raw, ok := body["categories"]; ok {
		cats, msg := parseCategories(raw)
		if msg != "" {
			add("categories", msg)
		}
		req.categories = cats
	}
	for _, f := range []struct {
		name string
		dst  *Translated
	}{{"description", &req.description}, {"name", &req.name}} {
		if raw, ok := body[f.name]; ok {
			t, msg := parseTranslated(raw)
			if msg != "" {
				add(f.name, msg)
			}
			*f.dst = t
		}
	}
	if raw, ok := body["slug"]; ok {
		if json.Unmarshal(raw, &req.slug) != nil || !slugPattern.MatchString(req.slug) {
			add("slug", msgSlugInvalid)
		} else if strings.Trim(req.slug, "0123456789") == "" {
			add("slug", msgSlugDenied)
		}
	}
	if raw, ok := body["summary"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			add("summary", msg)
		}
		req.summary = t
	}
	if raw, ok := body["version"]; ok {
		req.versionGiven = true
		v, verr := parseVersionRequest(raw)
		if verr != nil {
			req.errs = append(req.errs, *verr)
		}
		req.version = v
	}
	return req
}

// parseVersionRequest decodes the version object, or returns its errors
// as the "version" field: messages about the object itself, or the
// errors of its fields.
func parseVersionRequest(raw json.RawMessage) (*versionRequest, *FieldError) {
	if isNull(raw) {
		return nil, &FieldError{Field: "version", Messages: []string{msgNull}}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, &FieldError{Field: "version", Nested: fieldErr("non_field_errors", notADict(raw))}
	}
	v := &versionRequest{upload: obj["upload"]}
	var errs FieldErrors
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Messages: []string{msg}}) }
	if raw, ok := obj["compatibility"]; ok {
		c, ok := parseCompatibility(raw)
		if !ok {
			add("compatibility", msgInvalidValue)
		}
		v.compatibility = c
	}
	if raw, ok := obj["custom_license"]; ok {
		var cl struct {
			Name, Text json.RawMessage
		}
		if json.Unmarshal(raw, &cl) != nil || cl.Name == nil || cl.Text == nil {
			errs = append(errs, FieldError{Field: "custom_license", Nested: fieldErr("text", msgRequired)})
		} else {
			name, m1 := parseTranslated(cl.Name)
			text, m2 := parseTranslated(cl.Text)
			if m1 != "" || m2 != "" {
				add("custom_license", msgInvalidValue)
			}
			v.license = &License{Name: name, Text: text}
		}
	}
	if raw, ok := obj["license"]; ok {
		var slug string
		if json.Unmarshal(raw, &slug) != nil || slug == "" {
			add("license", msgInvalidValue)
		} else {
			v.license = &License{Slug: slug}
		}
	}
	if raw, ok := obj["release_notes"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			add("release_notes", msg)
		}
		v.releaseNotes = t
	}
	if raw, ok := obj["approval_notes"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &v.approvalNotes) != nil {
			add("approval_notes", msgNotAString)
		}
	}
	if errs != nil {
		return nil, &FieldError{Field: "version", Nested: errs}
	}
	return v, nil
}

// parseTranslated reads an AMO translated field: a string (the default
// locale's text), an object of locale to text (null values dropped), or
// null.
func parseTranslated(raw json.RawMessage) (Translated, string) {
	if isNull(raw) {
		return nil, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return Translated{DefaultLocale: s}, ""
	}
	var m map[string]*string
	if json.Unmarshal(raw, &m) != nil {
		return nil, `Expected a dictionary of items but got type "` + pyType(raw) + `".`
	}
	t := Translated{}
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
func parseCompatibility(raw json.RawMessage) (map[string]Compat, bool) {
	out := map[string]Compat{}
	var apps []string
	if json.Unmarshal(raw, &apps) == nil {
		for _, app := range apps {
			if app != firefoxApp && app != androidApp {
				return nil, false
			}
			out[app] = Compat{}
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
		var v Compat
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

// VersionEdit is the decoded body of PATCH addon/<addon>/versions/<id>/
// with the errors of its fields.
type VersionEdit struct {
	source        *UploadFile // a new source archive
	clearSource   bool
	license       *License
	releaseNotes  Translated
	notesSet      bool
	approvalNotes *string
	errs          FieldErrors
}

// DecodeVersionEditForm decodes a multipart PATCH: the file "source" (or
// an empty text value to remove the source) and "license".
func DecodeVersionEditForm(files map[string]UploadFile, fields map[string]string) *VersionEdit {
	e := &VersionEdit{}
	if f, ok := files["source"]; ok {
		if !hasSourceExtension(f.Name) {
			e.fail("source", msgSourceType)
		}
		e.source = &f
	} else if s, ok := fields["source"]; ok && s == "" {
		e.clearSource = true
	} else if ok {
		e.fail("source", msgNotAFile)
	}
	if slug, ok := fields["license"]; ok {
		if slug == "" {
			e.fail("license", msgInvalidValue)
		}
		e.license = &License{Slug: slug}
	}
	return e
}

// DecodeVersionEditJSON decodes a JSON PATCH: "approval_notes",
// "license", "release_notes", and "source": null to remove the source.
func DecodeVersionEditJSON(body map[string]json.RawMessage) *VersionEdit {
	e := &VersionEdit{}
	if raw, ok := body["approval_notes"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			e.fail("approval_notes", msgNotAString)
		}
		e.approvalNotes = &s
	}
	if raw, ok := body["license"]; ok {
		var slug string
		if json.Unmarshal(raw, &slug) != nil || slug == "" {
			e.fail("license", msgInvalidValue)
		}
		e.license = &License{Slug: slug}
	}
	if raw, ok := body["release_notes"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			e.fail("release_notes", msg)
		}
		e.releaseNotes, e.notesSet = t, true
	}
	if raw, ok := body["source"]; ok {
		if !isNull(raw) {
			e.fail("source", msgNotAFile)
		}
		e.clearSource = true
	}
	return e
}

func (e *VersionEdit) fail(field, msg string) {
	e.errs = append(e.errs, FieldError{Field: field, Messages: []string{msg}})
}

func hasSourceExtension(name string) bool {
	name = strings.ToLower(name)
	return slices.ContainsFunc(sourceExtensions, func(ext string) bool { return strings.HasSuffix(name, ext) })
}

// pyType is the Python type name DRF reports for a JSON value.
func pyType(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return "NoneType"
	case s == "true" || s == "false":
		return "bool"
	case strings.HasPrefix(s, "["):
		return "list"
	case strings.HasPrefix(s, "{"):
		return "dict"
	case strings.HasPrefix(s, `"`):
		return "str"
	case strings.ContainsAny(s, ".eE"):
		return "float"
	default:
		return "int"
	}
}

// isNull reports whether raw is JSON null.
func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

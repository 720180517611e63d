package mockamo

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/amojwt/amojwt/verifier"
)

const allowVersionInstance = "GET, PATCH, HEAD, OPTIONS"

// sourceExtensions are the source archive types AMO accepts.
var sourceExtensions = []string{".zip", ".tar.gz", ".tgz", ".tar.bz2"}

// msgSourceType is AMO's error for a source file of another type.
const msgSourceType = "Unsupported file type, please upload an archive file (.zip, .tar.gz, .tgz, .tar.bz2)."

// getVersion is GET /api/v5/addons/addon/<addon>/versions/<id|number>/:
// one version of the caller's add-on; web-ext polls it until file.status
// is "public", then downloads file.url.
func (a *api) getVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	ad, v, ok := a.s.authorsVersion(w, r, p)
	if !ok {
		return
	}
	writeJSONStatus(w, http.StatusOK, allowVersionInstance, renderVersion(ad, v, a.prof.base(r), a.s.now()))
}

// authorsVersion finds the version the URL names in the caller's add-on,
// or answers 404 or 403. Called with s.mu held.
func (s *Submissions) authorsVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal) (*addon, *version, bool) {
	ad, ok := s.authorsAddon(w, param(r, "addon"), p)
	if !ok {
		return nil, nil, false
	}
	v := ad.findVersion(param(r, "version"))
	if v == nil {
		notFoundDetail(w)
		return nil, nil, false
	}
	return ad, v, true
}

// patchVersion is PATCH /api/v5/addons/addon/<addon>/versions/<id>/: as
// multipart form data, "source" (the source code archive web-ext's
// --upload-source-code sends) and "license"; as JSON, "license",
// "release_notes", "approval_notes" and "source": null (to remove the
// source). 200 with the version.
func (a *api) patchVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	a.s.mu.Lock()
	_, _, ok := a.s.authorsVersion(w, r, p)
	a.s.mu.Unlock()
	if !ok {
		return
	}
	var edit versionEdit
	var errs fieldErrors
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		files, fields, ok := readMultipart(w, r, a.s.lim.MaxUploadBytes)
		if !ok {
			return
		}
		edit, errs = formEdit(files, fields)
	} else {
		body, ok := readJSONObject(w, r, allowVersionInstance)
		if !ok {
			return
		}
		edit, errs = jsonEdit(body)
	}
	if errs != nil {
		writeFieldErrors(w, allowVersionInstance, errs)
		return
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	ad, v, ok := a.s.authorsVersion(w, r, p)
	if !ok {
		return
	}
	if edit.source != nil {
		if err := a.s.blobs.put(sourceKey(v.ID), edit.source.data); err != nil {
			serverError(w)
			return
		}
	}
	edit.apply(v)
	if err := a.s.persist(); err != nil {
		serverError(w)
		return
	}
	writeJSONStatus(w, http.StatusOK, allowVersionInstance, renderVersion(ad, v, a.prof.base(r), a.s.now()))
}

// versionEdit is the change a PATCH asks for.
type versionEdit struct {
	source        *multipartFile // a new source archive
	clearSource   bool
	license       *license
	releaseNotes  translated
	notesSet      bool
	approvalNotes *string
}

func (e versionEdit) apply(v *version) {
	switch {
	case e.source != nil:
		v.Source = &source{Filename: e.source.name, Size: int64(len(e.source.data))}
	case e.clearSource:
		v.Source = nil
	}
	if e.license != nil {
		v.License = e.license
	}
	if e.notesSet {
		v.ReleaseNotes = e.releaseNotes
	}
	if e.approvalNotes != nil {
		v.ApprovalNotes = *e.approvalNotes
	}
}

// formEdit reads a multipart PATCH: "source" (a file, or an empty value
// to remove the source) and "license".
func formEdit(files map[string]multipartFile, fields map[string]string) (versionEdit, fieldErrors) {
	var e versionEdit
	var errs fieldErrors
	if f, ok := files["source"]; ok {
		if !hasSourceExtension(f.name) {
			errs = append(errs, fieldError{"source", []string{msgSourceType}})
		}
		e.source = &f
	} else if s, ok := fields["source"]; ok && s == "" {
		e.clearSource = true
	} else if ok {
		errs = append(errs, fieldError{"source", []string{"The submitted data was not a file. Check the encoding type on the form."}})
	}
	if slug, ok := fields["license"]; ok {
		if slug == "" {
			errs = append(errs, fieldError{"license", []string{msgInvalidValue}})
		}
		e.license = &license{Slug: slug}
	}
	return e, errs
}

// jsonEdit reads a JSON PATCH.
func jsonEdit(body map[string]json.RawMessage) (versionEdit, fieldErrors) {
	var e versionEdit
	var errs fieldErrors
	if raw, ok := body["approval_notes"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			errs = append(errs, fieldError{"approval_notes", []string{"Not a valid string."}})
		}
		e.approvalNotes = &s
	}
	if raw, ok := body["license"]; ok {
		var slug string
		if json.Unmarshal(raw, &slug) != nil || slug == "" {
			errs = append(errs, fieldError{"license", []string{msgInvalidValue}})
		}
		e.license = &license{Slug: slug}
	}
	if raw, ok := body["release_notes"]; ok {
		t, msg := parseTranslated(raw)
		if msg != "" {
			errs = append(errs, fieldError{"release_notes", []string{msg}})
		}
		e.releaseNotes, e.notesSet = t, true
	}
	if raw, ok := body["source"]; ok {
		if !isNull(raw) {
			errs = append(errs, fieldError{"source", []string{"The submitted data was not a file. Check the encoding type on the form."}})
		}
		e.clearSource = true
	}
	return e, errs
}

func hasSourceExtension(name string) bool {
	name = strings.ToLower(name)
	for _, ext := range sourceExtensions {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

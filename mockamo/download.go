package mockamo

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// NotSignedHeader is the response header on every file the mock serves
// as a version's "signed" file: the mock never signs, the file is the
// upload returned byte for byte, and Firefox will refuse to install it
// like any unsigned add-on.
const NotSignedHeader = "X-Amojwt-Not-Signed"

// notSignedValue is the value of NotSignedHeader.
const notSignedValue = "this is the uploaded file, unchanged: amojwt's mock AMO does not sign add-ons"

// downloadFile is GET /firefox/downloads/file/<file id>/[<name>]: the
// "signed" file of a version of the caller's add-on, which is the upload
// unchanged, with NotSignedHeader. It is served whatever the review
// status, to the add-on's authors only (404 for others, as AMO hides
// files a caller may not see).
func (a *api) downloadFile(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	id, err := strconv.ParseInt(param(r, "file"), 10, 64)
	v := a.authorVersion(p.UserID, func(v *version) bool { return err == nil && v.File.ID == id })
	if v == nil {
		notFoundDetail(w)
		return
	}
	data, err := a.s.blobs.get(uploadKey(v.File.UploadUUID))
	if err != nil {
		serverError(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-xpinstall")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.File.Filename}))
	h.Set(NotSignedHeader, notSignedValue)
	http.ServeContent(w, r, v.File.Filename, v.Created, bytes.NewReader(data))
}

// downloadSource is GET /firefox/downloads/source/<version id>: the
// source archive attached to a version of the caller's add-on.
func (a *api) downloadSource(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	id, err := strconv.ParseInt(param(r, "version"), 10, 64)
	var src *source // read under the lock: a PATCH may replace it
	a.authorVersion(p.UserID, func(v *version) bool {
		if err == nil && v.ID == id && v.Source != nil {
			src = v.Source
			return true
		}
		return false
	})
	if src == nil {
		notFoundDetail(w)
		return
	}
	data, err := a.s.blobs.get(sourceKey(id))
	if err != nil {
		serverError(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": src.Filename}))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// authorVersion returns the last version, among the add-ons userID is an
// author of, for which match is true, or nil. match runs under the state's
// lock. Versions of other users'
// add-ons are never returned: the caller answers 404 for them, as AMO hides
// what a caller may not see.
func (a *api) authorVersion(userID int64, match func(*version) bool) *version {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	var found *version
	for _, ad := range a.s.st.Addons {
		if !ad.isAuthor(userID) {
			continue
		}
		for _, v := range ad.Versions {
			if match(v) {
				found = v
			}
		}
	}
	return found
}

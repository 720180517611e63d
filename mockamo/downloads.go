package mockamo

import (
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
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
	if err != nil {
		writeError(w, sim.ErrNotFound)
		return
	}
	f, err := a.s.st.OpenFile(p.UserID, id)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/x-xpinstall")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	h.Set(NotSignedHeader, notSignedValue)
	http.ServeContent(w, r, f.Filename, f.Version.Created, f)
}

// downloadSource is GET /firefox/downloads/source/<version id>: the
// source archive attached to a version of the caller's add-on.
func (a *api) downloadSource(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	id, err := strconv.ParseInt(param(r, "version"), 10, 64)
	if err != nil {
		writeError(w, sim.ErrNotFound)
		return
	}
	f, err := a.s.st.OpenSource(p.UserID, id)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	http.ServeContent(w, r, "", time.Time{}, f)
}

package mockamo

import (
	"net/http"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/verifier"
)

// getVersion is GET /api/v5/addons/addon/<addon>/versions/<id|number>/:
// one version of the caller's add-on; web-ext polls it until file.status
// is "public", then downloads file.url.
func (a *api) getVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	ad, v, err := a.s.st.Version(p.UserID, param(r, "addon"), param(r, "version"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusOK, renderVersion(ad, v, a.prof.base(r), a.s.st.Now()))
}

// patchVersion is PATCH /api/v5/addons/addon/<addon>/versions/<id>/: as
// multipart form data, "source" (the source code archive web-ext's
// --upload-source-code sends) and "license"; as JSON, "license",
// "release_notes", "approval_notes" and "source": null (to remove the
// source). 200 with the version. Whether the caller may edit the version
// is decided before the body is read.
func (a *api) patchVersion(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	addon, version := param(r, "addon"), param(r, "version")
	if _, _, err := a.s.st.Version(p.UserID, addon, version); err != nil {
		writeError(w, err)
		return
	}
	if isMultipart(r) {
		// The file stays in memory until the source is stored.
		release, err := a.s.acquireSlot(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		defer release()
	}
	edit, err := a.readVersionEdit(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	ad, v, err := a.s.st.EditVersion(p.UserID, addon, version, edit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusOK, renderVersion(ad, v, a.prof.base(r), a.s.st.Now()))
}

// readVersionEdit reads the body of a version PATCH, multipart or JSON.
func (a *api) readVersionEdit(w http.ResponseWriter, r *http.Request) (*sim.VersionEdit, error) {
	if !isMultipart(r) {
		body, err := readJSONObject(w, r)
		if err != nil {
			return nil, err
		}
		return sim.DecodeVersionEditJSON(body), nil
	}
	files, fields, err := readMultipart(w, r, a.s.lim.MaxUploadBytes)
	if err != nil {
		return nil, err
	}
	return sim.DecodeVersionEditForm(files, fields), nil
}

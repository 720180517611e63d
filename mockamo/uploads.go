package mockamo

import (
	"net/http"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/verifier"
)

// createUpload is POST /api/v5/addons/upload/: multipart "upload" (the
// add-on file) and "channel" (listed or unlisted). It answers 201 with the
// upload; validation runs at once, and its result shows once the
// processing delay has passed.
func (a *api) createUpload(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	release, err := a.s.acquireSlot(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	files, fields, err := readMultipart(w, r, a.s.lim.MaxUploadBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	var f *sim.UploadFile
	if file, ok := files["upload"]; ok {
		f = &file
	}
	u, err := a.s.st.AddUpload(p.UserID, fields["channel"], f)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusCreated, renderUpload(&u, a.prof.base(r), a.s.st.Now()))
}

// getUpload is GET /api/v5/addons/upload/<uuid>/: the caller's upload, or
// 404 (also for another user's upload, as AMO filters by user).
func (a *api) getUpload(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	u, err := a.s.st.Upload(p.UserID, param(r, "uuid"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusOK, renderUpload(&u, a.prof.base(r), a.s.st.Now()))
}

// uploadList is DRF's paginated list; the mock returns one page.
type uploadList struct {
	Count    int          `json:"count"`
	Next     *string      `json:"next"`
	Previous *string      `json:"previous"`
	Results  []uploadBody `json:"results"`
}

// listUploads is GET /api/v5/addons/upload/: the caller's uploads, newest
// first, all on one page.
func (a *api) listUploads(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	mine, err := a.s.st.Uploads(p.UserID)
	if err != nil {
		writeError(w, err)
		return
	}
	list := uploadList{Count: len(mine), Results: make([]uploadBody, 0, len(mine))}
	now, base := a.s.st.Now(), a.prof.base(r)
	for i := range mine {
		list.Results = append(list.Results, renderUpload(&mine[i], base, now))
	}
	writeJSONStatus(w, http.StatusOK, list)
}

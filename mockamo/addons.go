package mockamo

import (
	"net/http"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/verifier"
)

// createAddon is POST /api/v5/addons/addon/: a new add-on from the
// upload in version.upload, its ID from the manifest or generated ("{" +
// UUID + "}", which web-ext saves in .web-extension-id). 201 with the
// add-on and the version created.
func (a *api) createAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	body, err := readJSONObject(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	ad, v, err := a.s.st.CreateAddon(a.author(r, p), sim.DecodeAddonRequest(body))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusCreated, renderAddon(ad, a.prof.base(r), a.s.st.Now(), v))
}

// putAddon is PUT /api/v5/addons/addon/<guid>/: a new version of the
// caller's add-on with that guid (200), or a new add-on with that guid
// (201). Another user's add-on is 403, decided before the body is read.
func (a *api) putAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	guid := param(r, "addon")
	if err := a.s.st.CheckPut(p.UserID, guid); err != nil {
		writeError(w, err)
		return
	}
	body, err := readJSONObject(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	ad, v, created, err := a.s.st.PutAddon(a.author(r, p), guid, sim.DecodeAddonRequest(body))
	if err != nil {
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSONStatus(w, status, renderAddon(ad, a.prof.base(r), a.s.st.Now(), v))
}

// getAddon is GET /api/v5/addons/addon/<id|slug|guid>/: the caller's
// add-on; 404 when unknown, 403 when another user's.
func (a *api) getAddon(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	ad, err := a.s.st.Addon(p.UserID, param(r, "addon"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONStatus(w, http.StatusOK, renderAddon(ad, a.prof.base(r), a.s.st.Now(), nil))
}

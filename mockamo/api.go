package mockamo

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/verifier"
)

// api serves the submission endpoints from a Submissions. Its handlers
// read the request, call the simulator, and render what it returns or
// hand its error to writeError; they hold no lock.
type api struct {
	s    *Submissions
	prof *profileHandler // for the site's base URL and authors' profiles
}

// handlerFunc is one method of a view, called with the authenticated
// caller.
type handlerFunc = func(http.ResponseWriter, *http.Request, *verifier.Principal)

// endpoint is one view: the methods it implements, answered after
// authentication; others get DRF's 405, OPTIONS its metadata.
type endpoint struct {
	name    string // DRF's view name, for OPTIONS; "" for a view without OPTIONS
	allow   string // the Allow header; "" for a view outside DRF
	methods map[string]handlerFunc
}

// ServeHTTP runs the view as DRF's APIView.dispatch does: authentication
// and permissions first (a key without a user id is refused here, so no
// view sees one), then the method's handler or 405.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := requirePrincipal(w, r)
	if !ok {
		return
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	if p.UserID <= 0 {
		writeError(w, sim.ErrNoUser)
		return
	}
	method := strings.ToUpper(r.Method)
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if h, ok := e.methods[method]; ok {
		h(w, r, p)
		return
	}
	if method == http.MethodOptions && e.name != "" {
		writeJSONStatus(w, http.StatusOK, drfMetadata{Name: e.name, Renders: []string{"application/json"},
			Parses: []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}})
		return
	}
	allow := e.allow
	if allow == "" {
		allow = "GET, HEAD"
	}
	methodNotAllowedAllow(w, r, allow)
}

// drfMetadata is DRF's SimpleMetadata without the "actions" describing
// serializer fields.
type drfMetadata struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Renders     []string `json:"renders"`
	Parses      []string `json:"parses"`
}

// routes returns the submission endpoints by chi pattern.
func (a *api) routes() map[string]*endpoint {
	get, post := http.MethodGet, http.MethodPost
	return map[string]*endpoint{
		"/api/v5/addons/upload/": {name: "File Upload List", allow: "GET, POST, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.listUploads, post: a.createUpload}},
		"/api/v5/addons/upload/{uuid}/": {name: "File Upload Instance", allow: "GET, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getUpload}},
		"/api/v5/addons/addon/": {name: "Addon List", allow: "POST, OPTIONS",
			methods: map[string]handlerFunc{post: a.createAddon}},
		"/api/v5/addons/addon/{addon}/": {name: "Addon Instance", allow: "GET, PUT, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getAddon, http.MethodPut: a.putAddon}},
		"/api/v5/addons/addon/{addon}/versions/{version}/": {name: "Addon Version Instance", allow: "GET, PATCH, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getVersion, http.MethodPatch: a.patchVersion}},
		"/firefox/downloads/file/{file}/":           {methods: map[string]handlerFunc{get: a.downloadFile}},
		"/firefox/downloads/file/{file}/{filename}": {methods: map[string]handlerFunc{get: a.downloadFile}},
		"/firefox/downloads/source/{version}":       {methods: map[string]handlerFunc{get: a.downloadSource}},
		"/__mockamo/fail-next-upload":               {allow: post, methods: map[string]handlerFunc{post: a.armFailUpload}},
		"/__mockamo/reject-next-review":             {allow: post, methods: map[string]handlerFunc{post: a.armRejectReview}},
	}
}

// param is the URL parameter name, percent-decoded (a guid's braces may
// arrive encoded).
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if strings.Contains(v, "%") {
		if dec, err := url.PathUnescape(v); err == nil {
			return dec
		}
	}
	return v
}

// author is the caller as an add-on it creates records its author.
func (a *api) author(r *http.Request, p *verifier.Principal) sim.Author {
	prof := a.prof.profile(r, p)
	return sim.Author{ID: p.UserID, Name: prof.Name, Username: prof.Username}
}

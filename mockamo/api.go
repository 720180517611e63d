package mockamo

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// api serves the submission endpoints from a Submissions.
type api struct {
	s    *Submissions
	prof *profileHandler // for the site's base URL and authors' profiles
}

// endpoint is one view: the methods it implements, answered after
// authentication; others get DRF's 405, OPTIONS its metadata.
type endpoint struct {
	name    string // DRF's view name, for OPTIONS; "" for a view without OPTIONS
	allow   string // the Allow header; "" for a view outside DRF
	methods map[string]func(w http.ResponseWriter, r *http.Request, p *verifier.Principal)
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := requirePrincipal(w, r)
	if !ok {
		return
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
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
		writeJSONStatus(w, http.StatusOK, e.allow, drfMetadata{Name: e.name, Renders: []string{"application/json"},
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

type handlerFunc = func(http.ResponseWriter, *http.Request, *verifier.Principal)

// routes returns the submission endpoints by chi pattern.
func (a *api) routes() map[string]*endpoint {
	get := http.MethodGet
	return map[string]*endpoint{
		"/api/v5/addons/upload/": {name: "File Upload List", allow: "GET, POST, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.listUploads, http.MethodPost: a.createUpload}},
		"/api/v5/addons/upload/{uuid}/": {name: "File Upload Instance", allow: "GET, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getUpload}},
		"/api/v5/addons/addon/": {name: "Addon List", allow: "POST, OPTIONS",
			methods: map[string]handlerFunc{http.MethodPost: a.createAddon}},
		"/api/v5/addons/addon/{addon}/": {name: "Addon Instance", allow: "GET, PUT, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getAddon, http.MethodPut: a.putAddon}},
		"/api/v5/addons/addon/{addon}/versions/{version}/": {name: "Addon Version Instance", allow: "GET, PATCH, HEAD, OPTIONS",
			methods: map[string]handlerFunc{get: a.getVersion, http.MethodPatch: a.patchVersion}},
		"/firefox/downloads/file/{file}/":           {methods: map[string]handlerFunc{get: a.downloadFile}},
		"/firefox/downloads/file/{file}/{filename}": {methods: map[string]handlerFunc{get: a.downloadFile}},
		"/firefox/downloads/source/{version}":       {methods: map[string]handlerFunc{get: a.downloadSource}},
		"/__mockamo/fail-next-upload":               {allow: "POST", methods: map[string]handlerFunc{http.MethodPost: a.armFailUpload}},
		"/__mockamo/reject-next-review":             {allow: "POST", methods: map[string]handlerFunc{http.MethodPost: a.armRejectReview}},
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

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// errTooLarge marks a request body over its limit.
var errTooLarge = errors.New("mockamo: request body too large")

// writeTooLarge answers 413 for a body over limit bytes.
func writeTooLarge(w http.ResponseWriter, limit int64) {
	middleware.WriteDetail(w, http.StatusRequestEntityTooLarge,
		"Request body too large: the mock AMO accepts at most "+formatID(limit)+" bytes.")
}

// readJSONObject reads a JSON request body of at most maxJSONBody bytes
// as DRF's JSONParser would, and answers the request itself when it
// cannot: 415 for a Content-Type other than JSON (the mock parses only
// JSON where AMO would also take forms), 413 when too large, 400 with
// DRF's parse error, 400 when the body is not an object. An empty body is
// an empty object.
func readJSONObject(w http.ResponseWriter, r *http.Request, allow string) (map[string]json.RawMessage, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeTooLarge(w, maxJSONBody)
		return nil, false
	case err != nil:
		middleware.WriteDetail(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return map[string]json.RawMessage{}, true
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		middleware.WriteDetail(w, http.StatusUnsupportedMediaType, `Unsupported media type "`+ct+`" in request.`)
		return nil, false
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		middleware.WriteDetail(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		writeFieldErrors(w, allow, fieldErr("non_field_errors", "Invalid data. Expected a dictionary, but got "+pyType(raw)+"."))
		return nil, false
	}
	return obj, true
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

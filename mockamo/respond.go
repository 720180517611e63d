package mockamo

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// encodeJSON encodes v as DRF's JSONRenderer does: compact, non-ASCII as
// UTF-8, no HTML escaping. v holds only strings, numbers, booleans, maps
// with string keys, slices, pointers and json.RawMessage built by this
// package, so encoding cannot fail; a failure would be a bug, and panics.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("mockamo: encoding a response: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSONStatus writes status with v as its JSON body, and the Allow
// header DRF sends with every response of a view when allow is not empty.
func writeJSONStatus(w http.ResponseWriter, status int, allow string, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if allow != "" {
		h.Set("Allow", allow)
	}
	w.WriteHeader(status)
	_, _ = w.Write(encodeJSON(v))
}

// fieldErrors is a DRF validation error body in DRF's field order: each
// field with its messages ([]string) or, for a nested serializer, its own
// fieldErrors ({"version": {"upload": [...]}}).
type fieldErrors []fieldError

type fieldError struct {
	field string
	errs  any // []string or fieldErrors
}

// MarshalJSON writes the fields in order, as DRF's OrderedDict does.
func (f fieldErrors) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSON(e.field))
		b.WriteByte(':')
		b.Write(encodeJSON(e.errs))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fieldErr is the body {field: [msg]}.
func fieldErr(field, msg string) fieldErrors {
	return fieldErrors{{field, []string{msg}}}
}

// versionErr is {"version": {field: [msg]}}, the shape of an error in the
// version object of an add-on request (AddonSerializer nests
// DeveloperVersionSerializer under "version").
func versionErr(field, msg string) fieldErrors {
	return fieldErrors{{"version", fieldErr(field, msg)}}
}

// writeFieldErrors answers 400 with errs, as DRF does for a
// serializers.ValidationError.
func writeFieldErrors(w http.ResponseWriter, allow string, errs fieldErrors) {
	writeJSONStatus(w, http.StatusBadRequest, allow, errs)
}

// Texts of DRF and AMO responses used by more than one endpoint.
const (
	detailNotFound   = "Not found."
	detailPermission = "You do not have permission to perform this action."
	detailServer     = "Internal Server Error"
	msgRequired      = "This field is required."
	msgNull          = "This field may not be null."
)

// notFoundDetail answers 404 {"detail":"Not found."}, as DRF's Http404.
func notFoundDetail(w http.ResponseWriter) {
	middleware.WriteDetail(w, http.StatusNotFound, detailNotFound)
}

// serverError answers 500 {"detail":"Internal Server Error"}, AMO's body
// for an unhandled exception (docs/AMO.md §1.4). The cause is not sent.
func serverError(w http.ResponseWriter) {
	middleware.WriteDetail(w, http.StatusInternalServerError, detailServer)
}

// addonForbidden answers 403 as AMO's AddonViewSet.check_object_permissions
// does for a caller who is not an author: the DRF detail plus the two
// flags it adds so clients can tell a disabled add-on from a foreign one.
func addonForbidden(w http.ResponseWriter) {
	writeJSONStatus(w, http.StatusForbidden, "", struct {
		Detail                string `json:"detail"`
		IsDisabledByDeveloper bool   `json:"is_disabled_by_developer"`
		IsDisabledByMozilla   bool   `json:"is_disabled_by_mozilla"`
	}{Detail: detailPermission})
}

// requirePrincipal returns the caller that the middleware authenticated,
// or answers 401 and returns false. Behind middleware.New without
// WithOptional the 401 cannot happen; it fails closed all the same.
func requirePrincipal(w http.ResponseWriter, r *http.Request) (*verifier.Principal, bool) {
	p, ok := middleware.PrincipalFrom(r.Context())
	if !ok {
		middleware.WriteError(w, middleware.DefaultRealm,
			verifier.NewError(verifier.ReasonNotAuthenticated, verifier.DetailNotAuthenticated))
	}
	return p, ok
}

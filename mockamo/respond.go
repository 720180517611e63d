package mockamo

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/amojwt/amojwt/internal/drf"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/mockamo/internal/sim"
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

// writeJSONStatus writes status with v as its JSON body. The Allow header
// DRF sends with every response of a view is set by the endpoint.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encodeJSON(v))
}

// writeDetail answers status with DRF's {"detail": detail}.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	drf.WriteDetail(w, status, detail)
}

// fieldErrorsBody is the JSON body of sim.FieldErrors, in DRF's field
// order.
type fieldErrorsBody sim.FieldErrors

// MarshalJSON writes the fields in order, as DRF's OrderedDict does: each
// with its list of messages, or the object of its nested fields.
func (f fieldErrorsBody) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSON(e.Field))
		b.WriteByte(':')
		if e.Nested != nil {
			b.Write(encodeJSON(fieldErrorsBody(e.Nested)))
		} else {
			b.Write(encodeJSON(e.Messages))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// requirePrincipal returns the caller that the middleware authenticated,
// or answers 401 and returns false. Behind middleware.New without
// WithOptional the 401 cannot happen; it fails closed all the same.
func requirePrincipal(w http.ResponseWriter, r *http.Request) (*verifier.Principal, bool) {
	p, ok := middleware.PrincipalFrom(r.Context())
	if !ok {
		middleware.WriteError(w, middleware.DefaultRealm, verifier.NotAuthenticated)
	}
	return p, ok
}

package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of the State's methods, for errors.Is. The HTTP layer answers
// each as AMO does.
var (
	// ErrNotFound: what the request names does not exist, or is hidden
	// from the caller (another user's upload or file). AMO: 404.
	ErrNotFound = errors.New("sim: not found")
	// ErrForbidden: the add-on exists and the caller is not one of its
	// authors. AMO: 403.
	ErrForbidden = errors.New("sim: the caller is not an author of the add-on")
	// ErrNoUser: the caller's key has no user id (0), so the mock cannot
	// tell its uploads and add-ons from those of another key without
	// one; every method refuses it rather than let such keys share an
	// owner.
	ErrNoUser = errors.New("sim: the API key has no user id")
	// ErrInvalidState is wrapped by the error Open returns when the data
	// directory holds records it cannot use: not JSON, an unknown format,
	// unknown fields, or records that do not fit together.
	ErrInvalidState = errors.New("mockamo: invalid state in the data directory")
)

// FieldErrors are the errors of a request's fields in DRF's order, the
// body of a DRF ValidationError raised with a dict: each field with its
// messages or, for a nested serializer, the errors of its own fields
// ({"version": {"upload": [...]}}).
type FieldErrors []FieldError

// FieldError is one field of FieldErrors: Messages, or Nested for a
// nested serializer (then Messages is nil).
type FieldError struct {
	Field    string
	Messages []string
	Nested   FieldErrors
}

// clone returns a deep copy of f.
func (f FieldErrors) clone() FieldErrors {
	if f == nil {
		return nil
	}
	out := make(FieldErrors, len(f))
	for i, e := range f {
		out[i] = FieldError{Field: e.Field, Messages: slices.Clone(e.Messages), Nested: e.Nested.clone()}
	}
	return out
}

// fieldErr is {field: [msg]}.
func fieldErr(field, msg string) FieldErrors {
	return FieldErrors{{Field: field, Messages: []string{msg}}}
}

// versionErr is {"version": {field: [msg]}}, the shape of an error in the
// version object of an add-on request (AddonSerializer nests
// DeveloperVersionSerializer under "version").
func versionErr(field, msg string) FieldErrors {
	return FieldErrors{{Field: "version", Nested: fieldErr(field, msg)}}
}

// ValidationError is a request AMO refuses with 400: a DRF ValidationError
// raised with a message (its body a list of messages) or with field
// errors (its body an object). Exactly one of Messages and Fields is
// non-empty.
type ValidationError struct {
	messages []string
	fields   FieldErrors
}

// Error describes the refusal; Messages and Fields give its body.
func (e *ValidationError) Error() string {
	if e.messages != nil {
		return "sim: invalid request: " + strings.Join(e.messages, " ")
	}
	return fmt.Sprintf("sim: invalid fields: %v", e.fields)
}

// Messages returns the messages of an error raised with a message, or
// nil.
func (e *ValidationError) Messages() []string { return slices.Clone(e.messages) }

// Fields returns the field errors, or nil for an error raised with a
// message.
func (e *ValidationError) Fields() FieldErrors { return e.fields.clone() }

// invalid is the ValidationError of fields.
func invalid(fields FieldErrors) *ValidationError { return &ValidationError{fields: fields} }

// invalidRequest is the ValidationError raised with msg.
func invalidRequest(msg string) *ValidationError { return &ValidationError{messages: []string{msg}} }

// ConflictError is a request AMO refuses with 409 Conflict (a version
// number the add-on already has), with a field-error body.
type ConflictError struct{ fields FieldErrors }

// Error describes the conflict; Fields gives its body.
func (e *ConflictError) Error() string { return fmt.Sprintf("sim: conflict: %v", e.fields) }

// Fields returns the field errors.
func (e *ConflictError) Fields() FieldErrors { return e.fields.clone() }

// QuotaError is a change refused because the stored files and records
// would pass a Quota. AMO has no such limit; the mock answers 413.
type QuotaError struct {
	perUser bool
	limit   int64
}

// Error names the quota passed.
func (e *QuotaError) Error() string {
	scope := "in all"
	if e.perUser {
		scope = "per user"
	}
	return fmt.Sprintf("sim: storage quota of %d bytes %s exceeded", e.limit, scope)
}

// PerUser reports whether the quota passed is the caller's own
// (Quota.PerUser) rather than the total (Quota.Total).
func (e *QuotaError) PerUser() bool { return e.perUser }

// Limit is the quota passed, in bytes.
func (e *QuotaError) Limit() int64 { return e.limit }

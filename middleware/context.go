package middleware

import (
	"context"

	"github.com/amojwt/amojwt/verifier"
)

// contextKey is the type of the context key; a pointer to it is unique to
// this package, so no other package can read or overwrite the principal by
// accident.
type contextKey struct{ name string }

var principalKey = &contextKey{"amojwt principal"}

// PrincipalFrom returns the principal that the middleware of New stored in
// the request context after accepting the request's token (SPEC §8), and
// true; or nil and false when the request was not authenticated by it (an
// anonymous request let through by WithOptional, or a context that never
// went through the middleware).
func PrincipalFrom(ctx context.Context) (*verifier.Principal, bool) {
	p, ok := ctx.Value(principalKey).(*verifier.Principal)
	return p, ok
}

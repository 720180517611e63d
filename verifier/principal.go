package verifier

import (
	"time"
	"unsafe"
)

// Principal is who an accepted token speaks for (SPEC §8), with its verified
// claims. Times are the claims' NumericDates (seconds since the epoch, UTC)
// as time.Time.
type Principal struct {
	// Issuer is the API key: the key store's spelling of the iss claim
	// (Key.Issuer), or the claim itself when the store leaves it empty.
	Issuer string
	// UserID is the key's user id (Key.UserID): from the key store, else
	// parsed from "user:<id>:<n>". StaticKeys and KeysFile refuse keys
	// without one; a KeyStore of the caller's own may return such a key, and
	// then UserID is 0, which means unknown, not a user.
	UserID int64
	// User is the account from the key store, or nil when it does not know it.
	User *User
	// Nonce is the jti claim, or "" when the token carried none (then the
	// token could not be checked for replay; SPEC §5).
	Nonce string
	// IssuedAt and ExpiresAt are the iat and exp claims.
	IssuedAt, ExpiresAt time.Time
	// NotBefore is the nbf claim, or the zero time when absent.
	NotBefore time.Time
	// Reused reports, under ReplayReport, that the jti was claimed before
	// (or that the reset guard could not vouch for it): the token was
	// accepted as addons.mozilla.org would accept it, and reported.
	Reused bool
}

// principalBox is a Principal with room for its Nonce in one allocation
// (168 bytes, in the allocator's 176-byte size class). The room takes the jti of
// every client we know of (a UUID is 36 bytes, Python's
// str(random.random()) at most 24); a longer one gets its own string.
type principalBox struct {
	p     Principal
	nonce [40]byte
}

// newPrincipal returns a Principal whose Nonce is a copy of jti.
func newPrincipal(jti []byte) *Principal {
	if len(jti) == 0 || len(jti) > len(principalBox{}.nonce) {
		return &Principal{Nonce: string(jti)}
	}
	b := new(principalBox)
	// b.nonce is written here only, so the string never changes.
	b.p.Nonce = unsafe.String(&b.nonce[0], copy(b.nonce[:], jti))
	return &b.p
}

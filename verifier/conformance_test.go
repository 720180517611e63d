package verifier_test

import (
	"context"
	"errors"
	"testing"

	"github.com/amojwt/amojwt/internal/vectors"
	"github.com/amojwt/amojwt/verifier"
)

// TestConformance runs every vector of the testdata vectors files
// (vectors.Files; format: testdata/README.md) through Verify, on both kinds
// of key store: the package's StaticKeys and a KeyStore of the caller's own
// (vectors.MapKeys), which reach the key through different lookup paths.
// HTTP-only vectors (SPEC §2) run in mockamo's conformance test.
func TestConformance(t *testing.T) {
	t.Parallel()
	vectors.RunAll(t, "../testdata", runSuite)
}

// runSuite runs the vectors of one file.
func runSuite(t *testing.T, suite *vectors.Suite) {
	static, err := suite.StaticKeys()
	if err != nil {
		t.Fatal(err)
	}
	stores := []struct {
		name string
		keys verifier.KeyStore
	}{
		{"static", static},
		{"map", suite.MapKeys()},
	}
	for _, c := range suite.Cases {
		if c.HTTPOnly {
			continue
		}
		for _, ks := range stores {
			if c.KeyStore == "map" && ks.name != "map" {
				continue
			}
			t.Run(c.Name+"/"+ks.name, func(t *testing.T) {
				t.Parallel()
				runCase(t, c, ks.keys)
			})
		}
	}
}

func runCase(t *testing.T, c vectors.Case, keys verifier.KeyStore) {
	t.Helper()
	t.Logf("SPEC %s", c.Spec)
	var clock vectors.Clock
	v, err := c.NewVerifier(keys, &clock)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range c.Uses {
		clock.Set(u.Now)
		p, err := v.Verify(context.Background(), u.Token)
		checkOutcome(t, i+1, u.Expect, p, err)
	}
}

// checkOutcome compares one Verify result with its expectation.
func checkOutcome(t *testing.T, use int, want vectors.Expect, p *verifier.Principal, err error) {
	t.Helper()
	if want.Status == 200 {
		if err != nil {
			t.Errorf("use %d: got error %v, want accepted", use, err)
			return
		}
		if p.Issuer != want.Issuer || p.UserID != want.UserID || p.Nonce != want.Nonce || p.Reused != want.Reused {
			t.Errorf("use %d: principal (issuer %q, user %d, nonce %q, reused %v), want (%q, %d, %q, %v)",
				use, p.Issuer, p.UserID, p.Nonce, p.Reused, want.Issuer, want.UserID, want.Nonce, want.Reused)
		}
		return
	}
	var ve *verifier.Error
	if !errors.As(err, &ve) {
		t.Errorf("use %d: got (%v, %v), want *verifier.Error %s %q", use, p, err, want.Reason, want.Detail)
		return
	}
	if p != nil {
		t.Errorf("use %d: non-nil principal with error %v", use, err)
	}
	if ve.Reason() != want.Reason || ve.Detail() != want.Detail || ve.Status() != want.Status {
		t.Errorf("use %d: got %d %s %q, want %d %s %q", use, ve.Status(), ve.Reason(), ve.Detail(), want.Status, want.Reason, want.Detail)
	}
}

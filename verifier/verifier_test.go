package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// countingStore records the claims it is asked for and answers with err.
type countingStore struct {
	calls atomic.Int64
	err   error
}

func (s *countingStore) Claim(context.Context, string, string, time.Time) (time.Time, error) {
	s.calls.Add(1)
	return time.Time{}, s.err
}

func (s *countingStore) Ping(context.Context) (time.Time, error) { return time.Time{}, s.err }

// brokenKeys fails every lookup as a database that is down would.
type brokenKeys struct{}

func (brokenKeys) Lookup(context.Context, string) (*verifier.Key, error) {
	return nil, errors.New("connection refused")
}

const testNow = 1700000000

func newTestVerifier(t *testing.T, opts ...verifier.Option) *verifier.Verifier {
	t.Helper()
	keys, err := verifier.NewStaticKeys(&verifier.Key{Issuer: "user:1:1", Secret: verifier.Secret(secret64), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]verifier.Option{verifier.WithClock(func() time.Time { return time.Unix(testNow, 0) })}, opts...)
	v, err := verifier.New(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStoreFailuresFailClosed(t *testing.T) {
	t.Parallel()
	storeErr := errors.Join(noncestore.ErrUnavailable, errors.New("i/o timeout"))
	store := &countingStore{err: storeErr}
	v := newTestVerifier(t, verifier.WithNonceStore(store))

	good := exampleToken(`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`, secret64)
	_, err := v.Verify(context.Background(), good)
	var verr *verifier.Error
	if !errors.As(err, &verr) || verr.Status() != 503 || verr.Detail != verifier.DetailUnavailable {
		t.Fatalf("store down: got %v, want 503 unavailable", err)
	}
	if !errors.Is(err, noncestore.ErrUnavailable) || !errors.Is(err, verifier.ErrUnavailable) {
		t.Fatalf("store error chain lost: %v", err)
	}

	// Checks that need no store still answer first, and never touch it.
	calls := store.calls.Load()
	for _, tok := range []string{
		exampleToken(`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`, "wrong-secret"),
		exampleToken(`{"iss":"user:1:1","jti":"a","iat":1699999000,"exp":1699999060}`, secret64),
	} {
		_, err := v.Verify(context.Background(), tok)
		if !errors.As(err, &verr) || verr.Status() != 401 {
			t.Fatalf("got %v, want a 401", err)
		}
	}
	if store.calls.Load() != calls {
		t.Fatal("an invalid token reached the nonce store")
	}

	// A token without jti needs no store in the amo profile.
	if _, err := v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","iat":1700000000,"exp":1700000060}`, secret64)); err != nil {
		t.Fatalf("no-jti token with the store down: %v", err)
	}
}

func TestKeyStoreFailureIs503(t *testing.T) {
	t.Parallel()
	v, err := verifier.New(brokenKeys{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","iat":1700000000,"exp":1700000060}`, secret64))
	var verr *verifier.Error
	if !errors.As(err, &verr) || verr.Status() != 503 || verr.Reason != verifier.ReasonUnavailable {
		t.Fatalf("got %v, want 503", err)
	}
}

func TestConcurrentReplayExactlyOne(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	tok := exampleToken(`{"iss":"user:1:1","jti":"once","iat":1700000000,"exp":1700000060}`, secret64)
	var ok, replayed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, verifier.ErrReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 63 {
		t.Fatalf("accepted %d, replayed %d; want 1 and 63", ok.Load(), replayed.Load())
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	var got []verifier.Decision
	v := newTestVerifier(t, verifier.WithObserver(func(d verifier.Decision) { got = append(got, d) }))
	tok := exampleToken(`{"iss":"user:1:1","jti":"x","iat":1700000000,"exp":1700000060}`, secret64)
	_, _ = v.Verify(context.Background(), tok)
	_, _ = v.Verify(context.Background(), tok)
	_, _ = v.Verify(context.Background(), "garbage")
	if len(got) != 3 {
		t.Fatalf("%d decisions, want 3", len(got))
	}
	if !got[0].Accepted() || !got[0].HasNonce || !got[0].StoreCalled || got[0].Issuer != "user:1:1" {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Reason != verifier.ReasonReplayed || !errors.Is(got[1].Err, verifier.ErrReplayed) {
		t.Errorf("second: %+v", got[1])
	}
	if got[2].Reason != verifier.ReasonMalformed || got[2].Issuer != "" || got[2].StoreCalled {
		t.Errorf("third: %+v", got[2])
	}
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	keys, _ := verifier.NewStaticKeys()
	for name, opt := range map[string]verifier.Option{
		"negative leeway":   verifier.WithLeeway(-time.Second),
		"zero max lifetime": verifier.WithMaxLifetime(0),
		"nil clock":         verifier.WithClock(nil),
		"nil store":         verifier.WithNonceStore(nil),
		"unknown profile":   verifier.WithProfile(verifier.Profile(7)),
	} {
		if _, err := verifier.New(keys, opt); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := verifier.New(nil); err == nil {
		t.Error("nil key store: New succeeded")
	}
}

// bareKeys is a KeyStore that returns keys without their Issuer, as a
// careless implementation might.
type bareKeys struct{}

func (bareKeys) Lookup(context.Context, string) (*verifier.Key, error) {
	return &verifier.Key{Secret: verifier.Secret(secret64), Active: true}, nil
}

func TestKeyWithoutIssuerKeepsIssuersApart(t *testing.T) {
	t.Parallel()
	v, err := verifier.New(bareKeys{}, verifier.WithClock(func() time.Time { return time.Unix(testNow, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	for _, iss := range []string{"user:1:1", "user:2:1"} {
		p, err := v.Verify(context.Background(), exampleToken(`{"iss":"`+iss+`","jti":"same","iat":1700000000,"exp":1700000060}`, secret64))
		if err != nil || p.Issuer != iss {
			t.Fatalf("issuer %s: principal %+v, error %v", iss, p, err)
		}
	}
}

// TestKnownHeaderFraming runs tokens that begin with a header the verifier
// knows without reading it (knownHeaders) but frame it otherwise than a
// JWS does: each gets the answer it would get if the header were read.
func TestKnownHeaderFraming(t *testing.T) {
	t.Parallel()
	const (
		h1     = `{"alg":"HS256","typ":"JWT"}`
		claims = `{"iss":"user:1:1","jti":"%s","iat":1700000000,"exp":1700000060}`
	)
	seg1 := jwttest.Segment([]byte(h1))
	good := func(jti string) string { return jwttest.Sign(h1, fmt.Sprintf(claims, jti), []byte(secret64)) }
	rest := func(tok string) string { return tok[strings.IndexByte(tok, '.'):] }
	// h1 with a letter where its dot belongs, signed: if the letter were
	// taken for the dot, the rest would be a good payload and signature.
	noDot := seg1 + "A" + jwttest.Segment([]byte(fmt.Sprintf(claims, "m")))
	noDot += "." + jwttest.Segment(jwttest.MAC("HS256", noDot, []byte(secret64)))
	tests := []struct {
		name  string
		token string
		want  verifier.Reason // "" accepted
	}{
		{"h1", good("a"), ""},
		{"h1, wrong key", jwttest.Sign(h1, fmt.Sprintf(claims, "b"), []byte("wrong")), verifier.ReasonSignature},
		{"h1, claims not JSON", jwttest.Sign(h1, `{"iss":`, []byte(secret64)), verifier.ReasonMalformed},
		{"h1, one segment", seg1, verifier.ReasonMalformed},
		{"h1, then a dot", seg1 + ".", verifier.ReasonMalformed},
		{"h1, two dots only", seg1 + "..", verifier.ReasonMalformed},
		{"h1 and more before the dot", seg1 + "A" + rest(good("c")), verifier.ReasonMalformed},
		{"h1, a letter for the dot", noDot, verifier.ReasonMalformed},
		{"h1 cut short", seg1[:len(seg1)-1] + rest(good("d")), verifier.ReasonMalformed},
		{"h1, three dots", good("e") + ".", verifier.ReasonMalformed},
		{"h1 replayed", good("a"), verifier.ReasonReplayed},
		{"h1 with crit", jwttest.Sign(`{"alg":"HS256","typ":"JWT","crit":["exp"]}`, fmt.Sprintf(claims, "f"), []byte(secret64)), verifier.ReasonAlgorithm},
		{"h1 signed with HS512", jwttest.SignAlg("HS512", h1, fmt.Sprintf(claims, "g"), []byte(secret64)), verifier.ReasonSignature},
		{"unknown header", jwttest.Sign(`{"alg":"HS256","kid":"1"}`, fmt.Sprintf(claims, "h"), []byte(secret64)), ""},
		{"alg none", jwttest.Sign(`{"alg":"none"}`, fmt.Sprintf(claims, "i"), []byte(secret64)), verifier.ReasonAlgorithm},
	}
	v := newTestVerifier(t)
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), tt.token)
		if got := reasonOf(err); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// reasonOf is the SPEC reason of a Verify error, or "" for nil.
func reasonOf(err error) verifier.Reason {
	var verr *verifier.Error
	if errors.As(err, &verr) {
		return verr.Reason
	}
	if err != nil {
		return "not an *Error"
	}
	return ""
}

// TestPrincipalNonce checks the principal's copy of the jti at the lengths
// around the room a Principal has for it, and that principals do not share
// it.
func TestPrincipalNonce(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	var got []*verifier.Principal
	var want []string
	for _, n := range []int{1, 36, 39, 40, 41, verifier.MaxNonceBytes} {
		for _, c := range "ab" {
			jti := strings.Repeat(string(c), n)
			p, err := v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","jti":"`+jti+`","iat":1700000000,"exp":1700000060}`, secret64))
			if err != nil {
				t.Fatalf("jti of %d bytes: %v", n, err)
			}
			got, want = append(got, p), append(want, jti)
		}
	}
	p, err := v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","iat":1700000000,"exp":1700000060}`, secret64))
	if err != nil {
		t.Fatal(err)
	}
	got, want = append(got, p), append(want, "")
	for i, p := range got {
		if p.Nonce != want[i] {
			t.Errorf("principal %d: Nonce %q, want %q", i, p.Nonce, want[i])
		}
	}
}

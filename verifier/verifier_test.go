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
	if !errors.As(err, &verr) || verr.Status() != 503 || verr.Detail() != verifier.DetailUnavailable || verr.Rule().String() != "§7" {
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
	if !errors.As(err, &verr) || verr.Status() != 503 || verr.Reason() != verifier.ReasonUnavailable {
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

// TestCheckDecision checks the Decision that Check returns, the record of
// what it did, under each replay policy and with a store that works or
// fails. No observer is involved: the record is Check's own.
func TestCheckDecision(t *testing.T) {
	t.Parallel()
	storeErr := errors.Join(noncestore.ErrUnavailable, errors.New("i/o timeout"))
	tok := exampleToken(`{"iss":"user:1:1","jti":"x","iat":1700000000,"exp":1700000060}`, secret64)
	noJTI := exampleToken(`{"iss":"user:1:1","iat":1700000000,"exp":1700000060}`, secret64)
	type want struct {
		reason                   verifier.Reason // "" accepted
		hasNonce, called, reused bool
		storeErr                 bool
	}
	tests := []struct {
		name   string
		replay verifier.ReplayPolicy
		broken bool // the store fails every claim
		tokens []string
		want   []want
	}{
		{"refuse", verifier.ReplayRefuse, false, []string{tok, tok, noJTI},
			[]want{{"", true, true, false, false}, {verifier.ReasonReplayed, true, true, false, false}, {"", false, false, false, false}}},
		{"report", verifier.ReplayReport, false, []string{tok, tok, noJTI},
			[]want{{"", true, true, false, false}, {"", true, true, true, false}, {"", false, false, false, false}}},
		{"allow", verifier.ReplayAllow, false, []string{tok, tok},
			[]want{{"", true, false, false, false}, {"", true, false, false, false}}},
		{"refuse, store down", verifier.ReplayRefuse, true, []string{tok},
			[]want{{verifier.ReasonUnavailable, true, true, false, true}}},
		// AMO never checks, so a mock of it accepts; the error is kept.
		{"report, store down", verifier.ReplayReport, true, []string{tok},
			[]want{{"", true, true, false, true}}},
		{"refused before the store", verifier.ReplayRefuse, false, []string{"garbage"},
			[]want{{verifier.ReasonMalformed, false, false, false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []verifier.Option{verifier.WithReplay(tt.replay)}
			if tt.broken {
				opts = append(opts, verifier.WithNonceStore(&countingStore{err: storeErr}))
			}
			v := newTestVerifier(t, opts...)
			for i, tok := range tt.tokens {
				p, d := v.Check(context.Background(), tok)
				w := tt.want[i]
				got := want{d.Reason(), d.HasNonce, d.StoreCalled, d.Reused, d.StoreErr != nil}
				if got != w {
					t.Errorf("use %d: decision %+v, want %+v", i+1, got, w)
				}
				if (p != nil) != d.Accepted() || (p != nil && p.Reused != d.Reused) {
					t.Errorf("use %d: principal %+v with decision %+v", i+1, p, d)
				}
				if w.storeErr && !errors.Is(d.StoreErr, noncestore.ErrUnavailable) {
					t.Errorf("use %d: StoreErr %v", i+1, d.StoreErr)
				}
				if w.reason == verifier.ReasonUnavailable && !errors.Is(d.Err, noncestore.ErrUnavailable) {
					t.Errorf("use %d: the 503 lost the store's error: %v", i+1, d.Err)
				}
				if d.StoreLatency < 0 || (!d.StoreCalled && d.StoreLatency != 0) {
					t.Errorf("use %d: StoreLatency %v with StoreCalled %v", i+1, d.StoreLatency, d.StoreCalled)
				}
				if d.Accepted() || d.Reason() == verifier.ReasonReplayed {
					if d.Issuer != "user:1:1" {
						t.Errorf("use %d: Issuer %q", i+1, d.Issuer)
					}
				}
			}
		})
	}
}

// TestErrorRule checks the SPEC rule of each refusal whose reason covers
// several rules: the rule is decided where the check fails.
func TestErrorRule(t *testing.T) {
	t.Parallel()
	const iss = `"iss":"user:1:1",`
	tests := []struct {
		name   string
		claims string
		header string // "" for the default
		reason verifier.Reason
		rule   string
	}{
		{"not JSON", `{"iss":`, "", verifier.ReasonMalformed, "§3 row 1"},
		{"crit", `{` + iss + `"iat":1700000000,"exp":1700000060}`, `{"alg":"HS256","crit":["exp"]}`, verifier.ReasonAlgorithm, "§3 row 1"},
		{"alg none", `{` + iss + `"iat":1700000000,"exp":1700000060}`, `{"alg":"none"}`, verifier.ReasonAlgorithm, "§3 row 4"},
		{"exp missing", `{` + iss + `"iat":1700000000}`, "", verifier.ReasonClaimMissing, "§3 row 6"},
		{"iat missing", `{` + iss + `"exp":1700000060}`, "", verifier.ReasonClaimMissing, "§3 row 6"},
		{"iat a list", `{` + iss + `"iat":[],"exp":1700000060}`, "", verifier.ReasonClaimType, "§3 row 7"},
		{"iat a numeric string", `{` + iss + `"iat":"1700000000","exp":1700000060}`, "", verifier.ReasonClaimType, "§3 row 7"},
		{"iat a word", `{` + iss + `"iat":"soon","exp":1700000060}`, "", verifier.ReasonIssuedInFuture, "§3 row 7"},
		{"iat in the future", `{` + iss + `"iat":1700000100,"exp":1700000160}`, "", verifier.ReasonIssuedInFuture, "§3 row 8"},
		{"exp a list", `{` + iss + `"iat":1700000000,"exp":[]}`, "", verifier.ReasonClaimType, "§3 row 9"},
		{"exp beyond 2^53", `{` + iss + `"iat":1700000000,"exp":1e300}`, "", verifier.ReasonClaimType, "§3 row 9"},
		{"exp a word", `{` + iss + `"iat":1700000000,"exp":"soon"}`, "", verifier.ReasonClaimType, "§3 row 9"},
		{"exp a numeric string", `{` + iss + `"iat":1700000000,"exp":"1700000060"}`, "", verifier.ReasonClaimType, "§3 row 10"},
		{"lifetime", `{` + iss + `"iat":1700000000,"exp":1700000301}`, "", verifier.ReasonLifetimeTooLong, "§3 row 10"},
		{"nbf beyond 2^53", `{` + iss + `"iat":1700000000,"exp":1700000060,"nbf":1e300}`, "", verifier.ReasonClaimType, "§3 row 12"},
		{"jti a number", `{` + iss + `"jti":1,"iat":1700000000,"exp":1700000060}`, "", verifier.ReasonNonceInvalid, "§3 row 13"},
	}
	v := newTestVerifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := tt.header
			if header == "" {
				header = `{"alg":"HS256","typ":"JWT"}`
			}
			_, err := v.Verify(context.Background(), jwttest.Sign(header, tt.claims, []byte(secret64)))
			var verr *verifier.Error
			if !errors.As(err, &verr) || verr.Reason() != tt.reason || verr.Rule().String() != tt.rule {
				t.Errorf("got %v (rule %v), want %s at %s", err, verr.Rule(), tt.reason, tt.rule)
			}
		})
	}
}

// TestErrorsIsAsDoNotAllocate: branching on a refusal costs no allocation,
// for a shared error and for a 503 that carries the store's error chain.
func TestErrorsIsAsDoNotAllocate(t *testing.T) {
	storeErr := errors.Join(noncestore.ErrUnavailable, errors.New("i/o timeout"))
	v := newTestVerifier(t, verifier.WithNonceStore(&countingStore{err: storeErr}))
	_, expired := v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","iat":1699999000,"exp":1699999060}`, secret64))
	_, down := v.Verify(context.Background(), exampleToken(`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`, secret64))
	for _, tt := range []struct {
		name   string
		err    error
		is     error
		isNot  error
		reason verifier.Reason
	}{
		{"expired", expired, verifier.ErrExpired, verifier.ErrReplayed, verifier.ReasonExpired},
		{"store down", down, noncestore.ErrUnavailable, verifier.ErrExpired, verifier.ReasonUnavailable},
	} {
		// The target of errors.As is the caller's variable: declared here,
		// as a caller's would be, it is not the allocation measured.
		var verr *verifier.Error
		allocs := testing.AllocsPerRun(100, func() {
			asType, ok := errors.AsType[*verifier.Error](tt.err)
			if !errors.Is(tt.err, tt.is) || errors.Is(tt.err, tt.isNot) || !errors.As(tt.err, &verr) ||
				verr.Reason() != tt.reason || !ok || asType != verr {
				t.Fatalf("%s: %v does not branch as expected", tt.name, tt.err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: errors.Is and errors.As allocate %v times, want 0", tt.name, allocs)
		}
	}
	if !errors.Is(down, verifier.ErrUnavailable) {
		t.Errorf("%v does not match ErrUnavailable", down)
	}
}

// manyMembersToken is a token of issuer, signed with secret64, as close to
// MaxTokenBytes as it goes, whose claims are distinct short member names:
// the token that costs the most to a reader that compares each name with
// the earlier ones.
func manyMembersToken(tb testing.TB, issuer string) string {
	tb.Helper()
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	claims := []byte(`{"iss":"` + issuer + `","jti":"m","iat":1700000000,"exp":1700000060`)
	best := ""
	for i := 0; ; i++ {
		// Member names in base 62: one or two characters each.
		name := string(digits[i%len(digits)])
		if i >= len(digits) {
			name = string(digits[i/len(digits)-1]) + name
		}
		claims = fmt.Appendf(claims, `,"%s":0`, name)
		tok := jwttest.Sign(`{"alg":"HS256","typ":"JWT"}`, string(claims)+"}", []byte(secret64))
		if len(tok) > verifier.MaxTokenBytes {
			if i < 850 {
				tb.Fatalf("only %d members fit", i)
			}
			return best
		}
		best = tok
	}
}

// TestManyMembersRefused: a token with more members than MaxMembers is
// malformed (SPEC §6), decided while decoding (§3 row 1), before the
// issuer, whatever else it holds.
func TestManyMembersRefused(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	_, err := v.Verify(context.Background(), manyMembersToken(t, "user:1:1"))
	var verr *verifier.Error
	if !errors.As(err, &verr) || verr.Reason() != verifier.ReasonMalformed || verr.Detail() != verifier.DetailDecoding ||
		verr.Rule().String() != "§3 row 1" {
		t.Fatalf("got %v, want malformed at §3 row 1", err)
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
		"unknown replay":    verifier.WithReplay(verifier.ReplayPolicy(7)),
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
		return verr.Reason()
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

// Package vectors loads the conformance vectors of testdata/vectors.json and
// testdata/hostile.json (format: testdata/README.md) and turns each one into ready-to-send tokens,
// expectations and a configured *verifier.Verifier, so that the verifier's
// table test and the HTTP table test run the same cases from one loader.
//
// Tokens are built with package jwttest from the raw header and claims texts
// of the file, after placeholder substitution; nothing here decodes a token.
package vectors

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// DefaultHeader is the protected header of a vector that gives none: what
// the AMO docs' Node example and PyJWT send (SPEC §1).
const DefaultHeader = `{"alg":"HS256","typ":"JWT"}`

// DefaultTemplate assembles a compact JWS from its three segments.
const DefaultTemplate = "{{header}}.{{payload}}.{{signature}}"

// Suite is a loaded vectors file.
type Suite struct {
	// File is the file's name without its directory, e.g. "vectors.json".
	File string
	// Now is the fixed clock every vector's time offsets are relative to.
	Now time.Time
	// Keys are the API keys of the file, in file order.
	Keys []Key
	// Cases are the vectors, in file order.
	Cases []Case
}

// Key is one API key of the file.
type Key struct {
	verifier.Key
	// UserID is the id an accepted token of this key must yield
	// (Principal.UserID, and the profile's "id" over HTTP).
	UserID int64
	// Broken makes the "map" key store fail every lookup of this key with
	// an error other than verifier.ErrKeyNotFound (SPEC §7).
	Broken bool
}

// Case is one vector: a verifier configuration and the requests sent to it,
// in order, sharing one nonce store.
type Case struct {
	Name string
	// Spec is the SPEC section or row the vector checks, e.g. "§3 row 8".
	Spec string
	// HTTPOnly vectors are about the Authorization header (SPEC §2); only
	// the HTTP test runs them.
	HTTPOnly bool
	// HTTPSkip, when not empty, says why the HTTP test cannot send this
	// vector (for example a newline, which no HTTP header value can carry).
	HTTPSkip string
	// KeyStore is "static" (verifier.StaticKeys, the default) or "map" (a
	// KeyStore of the caller's own, see MapKeys) when the vector needs a key
	// that StaticKeys refuses to hold. A "static" vector runs on both.
	KeyStore string
	Profile  verifier.Profile
	Replay   verifier.ReplayPolicy
	// ResetGuard turns the memory store's reset guard on; the store is
	// created while the clock reads Epoch, which becomes its epoch.
	ResetGuard bool
	Epoch      time.Time
	// Capacity bounds the memory store (0: its default).
	Capacity int
	Uses     []Use
}

// Use is one request of a Case.
type Use struct {
	// Token is the credentials string; empty for HTTP-only uses whose
	// Authorization values carry no token.
	Token string
	// Authorization are the Authorization header values the HTTP test sends,
	// in order; none means no header.
	Authorization []string
	// Now is what the clock reads during this use.
	Now time.Time
	// Expect is what the verifier must answer; HTTPExpect what the server
	// must answer (the same unless the vector says otherwise).
	Expect, HTTPExpect Expect
}

// Expect is an expected outcome. For Status 200, Issuer, UserID, Nonce and
// Reused describe the Principal; otherwise Reason and Detail the
// *verifier.Error.
type Expect struct {
	Status int
	Reason verifier.Reason
	Detail string
	Issuer string
	UserID int64
	Nonce  string
	Reused bool
}

// Files are the vectors files of the repository's testdata directory, each
// in the format of testdata/README.md: vectors.json, the behaviour of SPEC
// §2-§7, and hostile.json, the hostile inputs of issue 4. Every table test
// runs all of them (LoadAll).
var Files = []string{"vectors.json", "hostile.json"}

// RunAll loads every file of Files from dir (LoadAll) and runs run on each
// in a parallel subtest named after the file. A file that fails to load
// fails the test.
func RunAll(t *testing.T, dir string, run func(t *testing.T, suite *Suite)) {
	t.Helper()
	suites, err := LoadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range suites {
		t.Run(suite.File, func(t *testing.T) {
			t.Parallel()
			run(t, suite)
		})
	}
}

// LoadAll loads every file of Files from dir, the testdata directory, in
// that order. Names are unique within a file; tests name subtests after
// Suite.File first.
func LoadAll(dir string) ([]*Suite, error) {
	suites := make([]*Suite, 0, len(Files))
	for _, name := range Files {
		s, err := Load(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		suites = append(suites, s)
	}
	return suites, nil
}

// Load reads and checks the vectors file at path and builds every token.
// It returns an error naming the vector for any unknown field, missing
// expectation, unknown key or placeholder, or a vector that does not
// exercise what it claims to (a {{signature_std}} equal to {{signature}}, a
// token_length that does not match).
func Load(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("vectors: %s: %w", path, err)
	}
	if f.Now == nil {
		return nil, fmt.Errorf(`vectors: %s: no "now"`, path)
	}
	s := &Suite{File: filepath.Base(path), Now: time.Unix(*f.Now, 0).UTC()}
	byIssuer := make(map[string]*Key, len(f.Keys))
	for _, fk := range f.Keys {
		if fk.Key == "" || fk.UserID == nil {
			return nil, fmt.Errorf(`vectors: key %q: "key" and "user_id" are required`, fk.Key)
		}
		if _, dup := byIssuer[fk.Key]; dup {
			return nil, fmt.Errorf("vectors: key %q appears twice", fk.Key)
		}
		k := Key{
			Key:    verifier.Key{Issuer: fk.Key, Secret: verifier.Secret(fk.Secret), Active: fk.Active == nil || *fk.Active, User: fk.User},
			UserID: *fk.UserID,
			Broken: fk.Broken,
		}
		s.Keys = append(s.Keys, k)
		byIssuer[fk.Key] = &s.Keys[len(s.Keys)-1]
	}
	if _, ok := byIssuer[f.DefaultKey]; !ok {
		return nil, fmt.Errorf("vectors: default_key %q is not a key", f.DefaultKey)
	}
	names := make(map[string]bool, len(f.Vectors))
	for _, fc := range f.Vectors {
		c, err := s.buildCase(fc, f.DefaultKey, byIssuer)
		if err != nil {
			return nil, fmt.Errorf("vectors: %q: %w", fc.Name, err)
		}
		if names[c.Name] {
			return nil, fmt.Errorf("vectors: %q appears twice", c.Name)
		}
		names[c.Name] = true
		s.Cases = append(s.Cases, c)
	}
	return s, nil
}

func (s *Suite) buildCase(fc fileCase, defaultKey string, keys map[string]*Key) (Case, error) {
	c := Case{Name: fc.Name, Spec: fc.Spec, HTTPOnly: fc.HTTPOnly, HTTPSkip: fc.HTTPSkip, KeyStore: fc.KeyStore}
	switch {
	case c.Name == "" || c.Spec == "":
		return c, errors.New(`"name" and "spec" are required`)
	case c.HTTPOnly && c.HTTPSkip != "":
		return c, errors.New("http_only and http_skip together run nowhere")
	}
	switch c.KeyStore {
	case "":
		c.KeyStore = "static"
	case "static", "map":
	default:
		return c, fmt.Errorf("key_store %q: want static or map", c.KeyStore)
	}
	if fc.Profile != "" {
		if err := c.Profile.UnmarshalText([]byte(fc.Profile)); err != nil {
			return c, err
		}
	}
	if fc.Replay != "" {
		if err := c.Replay.UnmarshalText([]byte(fc.Replay)); err != nil {
			return c, err
		}
	}
	if st := fc.Store; st != nil {
		c.ResetGuard, c.Capacity = st.ResetGuard, st.Capacity
		if st.Epoch != nil {
			if !st.ResetGuard {
				return c, errors.New("store.epoch needs store.reset_guard")
			}
			c.Epoch = s.at(*st.Epoch)
		}
	}
	if c.ResetGuard && c.Epoch.IsZero() {
		c.Epoch = s.Now
	}
	uses := fc.Uses
	if len(uses) == 0 {
		uses = []fileUse{{}}
	}
	for i, fu := range uses {
		u, err := s.buildUse(fu.merge(fc.fileUse), c.HTTPOnly, defaultKey, keys)
		if err != nil {
			return c, fmt.Errorf("use %d: %w", i+1, err)
		}
		c.Uses = append(c.Uses, u)
	}
	return c, nil
}

// at is Now plus offset seconds.
func (s *Suite) at(offset float64) time.Time {
	return s.Now.Add(time.Duration(math.Round(offset * float64(time.Second))))
}

func (s *Suite) buildUse(fu fileUse, httpOnly bool, defaultKey string, keys map[string]*Key) (Use, error) {
	var u Use
	keyName := defaultKey
	if fu.Key != nil {
		keyName = *fu.Key
	}
	key, ok := keys[keyName]
	if !ok {
		return u, fmt.Errorf("key %q is not a key of the file", keyName)
	}
	u.Now = s.Now
	if fu.Clock != nil {
		u.Now = s.at(*fu.Clock)
	}
	switch {
	case fu.Token != nil:
		if fu.Header != nil || fu.Claims != nil || fu.Template != nil {
			return u, errors.New(`"token" excludes "header", "claims" and "template"`)
		}
		u.Token = *fu.Token
	case fu.Claims != nil:
		tok, err := s.sign(fu, key)
		if err != nil {
			return u, err
		}
		u.Token = tok
	case !httpOnly:
		return u, errors.New(`one of "token" or "claims" is required`)
	}
	if fu.TokenLength != nil && len(u.Token) != *fu.TokenLength {
		return u, fmt.Errorf("token is %d bytes, token_length says %d: adjust the filler", len(u.Token), *fu.TokenLength)
	}
	if fu.Authorization != nil {
		if !httpOnly {
			return u, errors.New(`"authorization" is for http_only vectors`)
		}
		for _, a := range *fu.Authorization {
			v, err := s.substitute(a, "{{token}}")
			if err != nil {
				return u, err
			}
			u.Authorization = append(u.Authorization, strings.ReplaceAll(v, "{{token}}", u.Token))
		}
	} else {
		if httpOnly {
			return u, errors.New(`http_only vectors give "authorization"`)
		}
		u.Authorization = []string{"JWT " + u.Token}
	}
	if fu.Expect == nil {
		return u, errors.New(`"expect" is required`)
	}
	var err error
	if u.Expect, err = expectation(*fu.Expect, key); err != nil {
		return u, err
	}
	u.HTTPExpect = u.Expect
	if fu.HTTPExpect != nil {
		if u.HTTPExpect, err = expectation(*fu.HTTPExpect, key); err != nil {
			return u, fmt.Errorf("http_expect: %w", err)
		}
	}
	return u, nil
}

func expectation(fe fileExpect, key *Key) (Expect, error) {
	e := Expect{Status: fe.Status, Reason: verifier.Reason(fe.Reason), Detail: fe.Detail}
	switch fe.Status {
	case 200:
		if fe.Reason != "" || fe.Detail != "" {
			return e, errors.New("status 200 takes no reason or detail")
		}
		e.Issuer, e.UserID, e.Nonce, e.Reused = key.Issuer, key.UserID, fe.Nonce, fe.Reused
	case 401, 503:
		if fe.Reason == "" || fe.Detail == "" {
			return e, fmt.Errorf("status %d needs a reason and a detail", fe.Status)
		}
		if fe.Nonce != "" || fe.Reused {
			return e, errors.New("only status 200 takes a nonce or reused")
		}
		if (fe.Status == 503) != (e.Reason == verifier.ReasonUnavailable) {
			return e, fmt.Errorf("status %d does not go with reason %q", fe.Status, fe.Reason)
		}
	default:
		return e, fmt.Errorf("status %d: want 200, 401 or 503", fe.Status)
	}
	return e, nil
}

// sign builds the token of a use from its header, claims and template.
func (s *Suite) sign(fu fileUse, key *Key) (string, error) {
	header := DefaultHeader
	if fu.Header != nil {
		header = *fu.Header
	}
	header, err := s.substitute(header)
	if err != nil {
		return "", err
	}
	claims, err := s.substitute(*fu.Claims)
	if err != nil {
		return "", err
	}
	secret := []byte(key.Secret)
	switch {
	case fu.Secret != nil && fu.SecretHex != nil:
		return "", errors.New(`"secret" and "secret_hex" exclude each other`)
	case fu.Secret != nil:
		secret = []byte(*fu.Secret)
	case fu.SecretHex != nil:
		if secret, err = hex.DecodeString(*fu.SecretHex); err != nil {
			return "", fmt.Errorf("secret_hex: %w", err)
		}
	}
	mac := "HS256"
	if fu.MAC != nil {
		mac = *fu.MAC
	}
	input := jwttest.SigningInput(header, claims)
	var sig []byte
	switch mac {
	case "HS256", "HS384", "HS512":
		sig = jwttest.MAC(mac, input, secret)
	case "none":
	default:
		return "", fmt.Errorf("mac %q: want HS256, HS384, HS512 or none", mac)
	}
	template := DefaultTemplate
	if fu.Template != nil {
		template = *fu.Template
	}
	// {{repeat:S:N}} and {{now}} work in a template too ("one million
	// dots"); the segment placeholders are kept for the replacer below.
	template, err = s.substitute(template, "{{header}}", "{{payload}}", "{{signature}}", "{{signature_std}}", "{{signature_alt}}")
	if err != nil {
		return "", err
	}
	segs := strings.SplitN(input, ".", 2)
	sigURL := jwttest.Segment(sig)
	replacements := []string{
		"{{header}}", segs[0],
		"{{payload}}", segs[1],
		"{{signature}}", sigURL,
	}
	if strings.Contains(template, "{{signature_std}}") {
		std := strings.NewReplacer("-", "+", "_", "/").Replace(sigURL)
		if std == sigURL {
			return "", errors.New("{{signature_std}} equals {{signature}} (no - or _): change the claims")
		}
		replacements = append(replacements, "{{signature_std}}", std)
	}
	if strings.Contains(template, "{{signature_alt}}") {
		alt, err := altSpelling(sigURL)
		if err != nil {
			return "", err
		}
		replacements = append(replacements, "{{signature_alt}}", alt)
	}
	check := template
	for i := 0; i < len(replacements); i += 2 {
		check = strings.ReplaceAll(check, replacements[i], "")
	}
	if strings.Contains(check, "{{") {
		return "", fmt.Errorf("unknown placeholder in template %q", template)
	}
	return strings.NewReplacer(replacements...).Replace(template), nil
}

const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// altSpelling returns seg with its unused low bits set in the last
// character: another spelling of the same bytes (RFC 4648 §3.5 "canonical
// encoding"). It fails when seg has no unused bits.
func altSpelling(seg string) (string, error) {
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return "", fmt.Errorf("{{signature_alt}}: a %d-character segment has no unused bits", len(seg))
	}
	last := strings.IndexByte(base64url, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(base64url[last|(1<<unused-1)]), nil
}

// placeholder matches {{now}}, {{now+N}}, {{now-N}} and {{repeat:S:N}}.
var placeholder = regexp.MustCompile(`\{\{(now(?:[+-][0-9]+)?|repeat:.*?:[0-9]+)\}\}`)

// substitute replaces the time and repeat placeholders of a header, claims
// or Authorization text. It fails on any other {{...}} except those in keep.
func (s *Suite) substitute(text string, keep ...string) (string, error) {
	out := placeholder.ReplaceAllStringFunc(text, func(m string) string {
		body := m[2 : len(m)-2]
		if rest, ok := strings.CutPrefix(body, "repeat:"); ok {
			i := strings.LastIndexByte(rest, ':')
			n, _ := strconv.Atoi(rest[i+1:])
			return strings.Repeat(rest[:i], n)
		}
		v := s.Now.Unix()
		if len(body) > len("now") {
			d, _ := strconv.ParseInt(body[len("now"):], 10, 64)
			v += d
		}
		return strconv.FormatInt(v, 10)
	})
	rest := out
	for _, k := range keep {
		rest = strings.ReplaceAll(rest, k, "")
	}
	if strings.Contains(rest, "{{") {
		return "", fmt.Errorf("unknown placeholder in %q", text)
	}
	return out, nil
}

// StaticKeys returns the file's keys that verifier.StaticKeys can hold (those
// with a secret, not Broken), as the server's key store would.
func (s *Suite) StaticKeys() (*verifier.StaticKeys, error) {
	var keys []*verifier.Key
	for i := range s.Keys {
		k := &s.Keys[i]
		if len(k.Secret) > 0 && !k.Broken {
			keys = append(keys, &k.Key)
		}
	}
	return verifier.NewStaticKeys(keys...)
}

// ErrBrokenKeyStore is what the MapKeys store returns for a Broken key.
var ErrBrokenKeyStore = errors.New("vectors: key store unreachable")

// MapKeys returns a KeyStore over every key of the file, written as an
// application's own store would be (a map and a lookup): it holds keys that
// StaticKeys refuses, such as an empty secret, and fails lookups of Broken
// keys with ErrBrokenKeyStore.
func (s *Suite) MapKeys() verifier.KeyStore {
	m := make(mapKeys, len(s.Keys))
	for i := range s.Keys {
		m[s.Keys[i].Issuer] = &s.Keys[i]
	}
	return m
}

type mapKeys map[string]*Key

func (m mapKeys) Lookup(_ context.Context, issuer string) (*verifier.Key, error) {
	k, ok := m[issuer]
	switch {
	case !ok:
		return nil, fmt.Errorf("lookup %q: %w", issuer, verifier.ErrKeyNotFound)
	case k.Broken:
		return nil, ErrBrokenKeyStore
	}
	return &k.Key, nil
}

// Clock is a settable clock for WithClock options; safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Set makes Now return t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Now returns the time last Set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewVerifier returns a Verifier configured as c says, over keys, with a
// fresh noncestore.NewMemory store; both read clock. It sets clock to the
// store's epoch while creating the store (the reset guard takes its epoch
// from the clock), then to the first use's time.
func (c *Case) NewVerifier(keys verifier.KeyStore, clock *Clock) (*verifier.Verifier, error) {
	return c.NewVerifierWrapped(keys, clock, nil)
}

// NewVerifierWrapped is NewVerifier with the memory store passed through
// wrap, when not nil, before the verifier gets it: for tests that count the
// store's calls or make them fail.
func (c *Case) NewVerifierWrapped(keys verifier.KeyStore, clock *Clock, wrap func(noncestore.Store) noncestore.Store) (*verifier.Verifier, error) {
	mopts := []noncestore.MemoryOption{noncestore.WithClock(clock.Now)}
	if c.ResetGuard {
		clock.Set(c.Epoch)
		mopts = append(mopts, noncestore.WithResetGuard(true))
	}
	if c.Capacity > 0 {
		mopts = append(mopts, noncestore.WithCapacity(c.Capacity))
	}
	mem, err := noncestore.NewMemory(mopts...)
	if err != nil {
		return nil, err
	}
	var store noncestore.Store = mem
	if wrap != nil {
		store = wrap(store)
	}
	clock.Set(c.Uses[0].Now)
	return verifier.New(keys,
		verifier.WithClock(clock.Now),
		verifier.WithNonceStore(store),
		verifier.WithProfile(c.Profile),
		verifier.WithReplay(c.Replay))
}

package verifier_test

// Benchmarks for issue 6: Verify beside the alternatives a Go service would
// reach for, measured in one run so their ratios can be compared:
//
//	go test -run XXX -bench . -benchmem ./verifier/

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

const (
	benchIssuer = "user:543210:23"
	benchHeader = `{"alg":"HS256","typ":"JWT"}`
	// benchTokens is how many distinct tokens (distinct jti) a benchmark
	// cycles through; every cycle gets a fresh nonce store.
	benchTokens = 1 << 15
)

var benchNow = time.Unix(testNow, 0)

// benchClaims is an AMO docs style claims set with jti number i, issued at
// iat (Unix seconds) for 60 s.
func benchClaims(i int, iat int64) string {
	return fmt.Sprintf(`{"iss":%q,"jti":"0.%016d","iat":%d,"exp":%d}`, benchIssuer, i, iat, iat+60)
}

var benchTokenSet = sync.OnceValue(func() []string {
	toks := make([]string, benchTokens)
	for i := range toks {
		toks[i] = jwttest.Sign(benchHeader, benchClaims(i, testNow), []byte(secret64))
	}
	return toks
})

func benchKeys(b *testing.B) *verifier.StaticKeys {
	keys, err := verifier.NewStaticKeys(&verifier.Key{Issuer: benchIssuer, Secret: verifier.Secret(secret64), Active: true})
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

func newBenchVerifier(b *testing.B) *verifier.Verifier {
	store, err := noncestore.NewMemory(noncestore.WithClock(func() time.Time { return benchNow }))
	if err != nil {
		b.Fatal(err)
	}
	v, err := verifier.New(benchKeys(b), verifier.WithNonceStore(store), verifier.WithClock(func() time.Time { return benchNow }))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// benchCursor hands out the tokens of benchTokenSet in order. When they
// are used up it calls fresh, with the timer stopped, to start the next
// round on new nonce stores (the set's nonces have all been used), and
// starts over.
type benchCursor struct {
	b     *testing.B
	toks  []string
	fresh func()
	next  int
}

// newBenchCursor makes the token set, if no benchmark has, before the timer
// runs.
func newBenchCursor(b *testing.B, fresh func()) *benchCursor {
	return &benchCursor{b: b, toks: benchTokenSet(), fresh: fresh}
}

// take returns the next n tokens; n must divide benchTokens.
func (c *benchCursor) take(n int) []string {
	if c.next == len(c.toks) {
		c.b.StopTimer()
		c.fresh()
		c.next = 0
		c.b.StartTimer()
	}
	c.next += n
	return c.toks[c.next-n : c.next]
}

// BenchmarkVerify is the whole of SPEC §3 for a fresh AMO token, the nonce
// claim in the memory store included.
func BenchmarkVerify(b *testing.B) {
	v := newBenchVerifier(b)
	toks := newBenchCursor(b, func() { v = newBenchVerifier(b) })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, toks.take(1)[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify on every core, sharing one
// verifier and store. Goroutines take token numbers in runs of
// benchParallelRun, so that they do not meet on one counter at every
// token. A goroutine that takes the first number of a round of the token set
// swaps in a fresh verifier; a token that meets the old store's nonce in
// that moment answers ErrReplayed, after the same work.
func BenchmarkVerifyParallel(b *testing.B) {
	const benchParallelRun = 64
	toks := benchTokenSet()
	var (
		cur  atomic.Pointer[verifier.Verifier]
		next atomic.Int64
	)
	cur.Store(newBenchVerifier(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var n, end int64
		for pb.Next() {
			if n == end {
				end = next.Add(benchParallelRun)
				n = end - benchParallelRun
			}
			if n%benchTokens == 0 && n > 0 {
				cur.Store(newBenchVerifier(b))
			}
			_, err := cur.Load().Verify(ctx, toks[n%benchTokens])
			if err != nil && !errors.Is(err, verifier.ErrReplayed) {
				b.Fatal(err)
			}
			n++
		}
	})
}

// BenchmarkVerifyLiveNonces is BenchmarkVerify in the steady state of a
// server whose memory store holds about `live` nonces (issue 6, goal 4): a
// logical clock, read by the verifier and the store, moves 65 s / live per
// token, so the nonce of the token verified `live` tokens ago expires
// (exp + leeway) as each new one comes in. Each token is signed with the
// iat it is verified at. The 10M case needs about 0.5 GB: set
// NONCESTORE_BENCH_10M=1 to run it.
func BenchmarkVerifyLiveNonces(b *testing.B) {
	const (
		held  = 65 * time.Second // lifetime 60 s + leeway 5 s
		batch = 1 << 12          // tokens signed at a time, outside the timer
	)
	for _, live := range []int{10_000, 1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("live=%s", liveName(live)), func(b *testing.B) {
			if live > 1_000_000 && os.Getenv("NONCESTORE_BENCH_10M") == "" {
				b.Skip("set NONCESTORE_BENCH_10M=1 to run")
			}
			tick := held / time.Duration(live)
			var n atomic.Int64 // tokens verified
			clock := func() time.Time { return benchNow.Add(time.Duration(n.Load()) * tick) }
			// Room for live nonces and 1/16 more (expiries are rounded up
			// to the second): a store that failed to expire would fill up
			// and fail the benchmark.
			store, err := noncestore.NewMemory(noncestore.WithClock(clock), noncestore.WithCapacity(live+live/16))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range live {
				// Held as if verified over the last 65 s: one expires per token.
				until := benchNow.Add(held - time.Duration(live-i)*tick)
				if _, err := store.Claim(ctx, benchIssuer, "fill-"+strconv.Itoa(i), until); err != nil {
					b.Fatal(err)
				}
			}
			v, err := verifier.New(benchKeys(b), verifier.WithNonceStore(store), verifier.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			toks := make([]string, 0, batch)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(toks) {
					b.StopTimer()
					toks, i = toks[:0], 0
					for j := n.Load(); len(toks) < batch; j++ {
						iat := benchNow.Add(time.Duration(j) * tick).Unix()
						toks = append(toks, jwttest.Sign(benchHeader, benchClaims(int(j), iat), []byte(secret64)))
					}
					b.StartTimer()
				}
				if _, err := v.Verify(ctx, toks[i]); err != nil {
					b.Fatal(err)
				}
				i++
				n.Add(1)
			}
		})
	}
}

// BenchmarkVerifyManyMembers runs turns of benchTurn of BenchmarkVerify's
// tokens and as many refusals of manyMembersToken, the 8 KiB token of
// distinct member names (SPEC §6: refused once MaxMembers are read), in
// alternating order, and reports the ns per token of each and their ratio:
// the worst token of that kind costs a few normal ones, not hundreds.
func BenchmarkVerifyManyMembers(b *testing.B) {
	const benchTurn = 256 // divides benchTokens
	v := newBenchVerifier(b)
	toks := newBenchCursor(b, func() { v = newBenchVerifier(b) })
	hostile := manyMembersToken(b, benchIssuer)
	ctx := context.Background()
	normal := func() time.Duration {
		turn := toks.take(benchTurn)
		start := time.Now()
		for _, tok := range turn {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	many := func() time.Duration {
		start := time.Now()
		for range benchTurn {
			if _, err := v.Verify(ctx, hostile); !errors.Is(err, verifier.ErrMalformed) {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var spentNormal, spentMany time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			spentNormal += normal()
			spentMany += many()
		} else {
			spentMany += many()
			spentNormal += normal()
		}
	}
	tokens := float64(b.N * benchTurn)
	b.ReportMetric(float64(spentNormal)/tokens, "normal-ns/token")
	b.ReportMetric(float64(spentMany)/tokens, "many-members-ns/token")
	b.ReportMetric(float64(spentMany)/float64(spentNormal), "many-members/normal")
}

// liveName is 10k for 10000, 1M for 1000000.
func liveName(n int) string {
	if n >= 1_000_000 {
		return strconv.Itoa(n/1_000_000) + "M"
	}
	return strconv.Itoa(n/1_000) + "k"
}

// BenchmarkVerifyParallelVsSequential runs turns of benchParallelTurn
// tokens through one Verifier on one goroutine, then as many through
// GOMAXPROCS goroutines sharing it, one slice each, and reports the
// ns per token of each and the speedup (goal 2 of issue 6), with the two
// sharing the machine's drift. A parallel turn lasts until its slowest
// goroutine is done.
func BenchmarkVerifyParallelVsSequential(b *testing.B) {
	const benchParallelTurn = 4096 // 2 turns divide benchTokens
	procs := runtime.GOMAXPROCS(0)
	v := newBenchVerifier(b)
	toks := newBenchCursor(b, func() { v = newBenchVerifier(b) })
	ctx := context.Background()
	verify := func(toks []string) {
		for _, tok := range toks {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	}
	var seq, par time.Duration
	for b.Loop() {
		one, all := toks.take(benchParallelTurn), toks.take(benchParallelTurn)
		t0 := time.Now()
		verify(one)
		t1 := time.Now()
		var wg sync.WaitGroup
		for g := range procs {
			wg.Go(func() { verify(all[g*len(all)/procs : (g+1)*len(all)/procs]) })
		}
		wg.Wait()
		t2 := time.Now()
		seq += t1.Sub(t0)
		par += t2.Sub(t1)
	}
	tokens := float64(b.N * benchParallelTurn)
	b.ReportMetric(float64(seq)/tokens, "sequential-ns/token")
	b.ReportMetric(float64(par)/tokens, "parallel-ns/token")
	b.ReportMetric(float64(seq)/float64(par), "speedup")
}

// stdlibVerify is the reference: what a careful hand-written verifier with
// the standard library does (base64url, encoding/json, crypto/hmac, a mutex
// map for nonces). It applies fewer rules than Verify (no SPEC §4 typing,
// no duplicate-member check).
type stdlibVerifier struct {
	keys map[string][]byte
	mu   sync.Mutex
	seen map[string]int64
}

func (s *stdlibVerifier) verify(token string) error {
	dot1 := strings.IndexByte(token, '.')
	dot2 := dot1 + 1 + strings.IndexByte(token[dot1+1:], '.')
	if dot1 < 0 || dot2 <= dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return errors.New("segments")
	}
	hdr, err := base64.RawURLEncoding.DecodeString(token[:dot1])
	if err != nil {
		return err
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[dot1+1 : dot2])
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[dot2+1:])
	if err != nil {
		return err
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return err
	}
	var c struct {
		Iss string  `json:"iss"`
		Jti string  `json:"jti"`
		Iat float64 `json:"iat"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	secret, ok := s.keys[c.Iss]
	if !ok {
		return errors.New("issuer")
	}
	if h.Alg != "HS256" {
		return errors.New("alg")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(token[:dot2]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return errors.New("signature")
	}
	now := float64(benchNow.Unix())
	if c.Iat > now+5 || c.Exp <= now-5 || c.Exp-c.Iat > 300 {
		return errors.New("time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := c.Iss + "\x00" + c.Jti
	if _, dup := s.seen[key]; dup {
		return errors.New("replayed")
	}
	s.seen[key] = int64(c.Exp)
	return nil
}

func newStdlibVerifier() *stdlibVerifier {
	return &stdlibVerifier{keys: map[string][]byte{benchIssuer: []byte(secret64)}, seen: map[string]int64{}}
}

func BenchmarkReferenceStdlib(b *testing.B) {
	ref := newStdlibVerifier()
	toks := newBenchCursor(b, func() { ref = newStdlibVerifier() })
	b.ReportAllocs()
	for b.Loop() {
		if err := ref.verify(toks.take(1)[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// newGolangJWT returns golang-jwt/jwt v5 set up as BenchmarkGolangJWT
// describes, as a function of the token.
func newGolangJWT() func(token string) error {
	parser := gjwt.NewParser(gjwt.WithValidMethods([]string{"HS256"}), gjwt.WithLeeway(5*time.Second),
		gjwt.WithIssuedAt(), gjwt.WithTimeFunc(func() time.Time { return benchNow }))
	keys := map[string][]byte{benchIssuer: []byte(secret64)}
	keyfunc := func(t *gjwt.Token) (any, error) {
		iss, err := t.Claims.GetIssuer()
		if err != nil {
			return nil, err
		}
		k, ok := keys[iss]
		if !ok {
			return nil, errors.New("unknown issuer")
		}
		return k, nil
	}
	return func(token string) error {
		_, err := parser.Parse(token, keyfunc)
		return err
	}
}

// BenchmarkGolangJWT is golang-jwt/jwt v5 with a keyfunc by iss, HS256 only,
// the time checks with leeway (no replay check).
func BenchmarkGolangJWT(b *testing.B) {
	toks := benchTokenSet()
	parse := newGolangJWT()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := parse(toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyVsOthers runs BenchmarkVerify, BenchmarkGolangJWT and
// BenchmarkReferenceStdlib in turns of benchTurn tokens each, the same
// tokens, in a rotating order, and reports each one's ns per token and the ratios of goal 1 of
// issue 6: on a shared machine, whose speed drifts from one benchmark to the
// next, the three then share every drift.
func BenchmarkVerifyVsOthers(b *testing.B) {
	const benchTurn = 256 // divides benchTokens
	v, ref := newBenchVerifier(b), newStdlibVerifier()
	toks := newBenchCursor(b, func() { v, ref = newBenchVerifier(b), newStdlibVerifier() })
	ctx := context.Background()
	verifiers := [...]func(token string) error{
		func(tok string) error { _, err := v.Verify(ctx, tok); return err },
		newGolangJWT(),
		func(tok string) error { return ref.verify(tok) },
	}
	var spent [len(verifiers)]time.Duration
	first := 0
	for b.Loop() {
		turn := toks.take(benchTurn)
		// The three take turns going first, which meets the tokens cold.
		for k := range verifiers {
			w := (first + k) % len(verifiers)
			start := time.Now()
			for _, tok := range turn {
				if err := verifiers[w](tok); err != nil {
					b.Fatal(err)
				}
			}
			spent[w] += time.Since(start)
		}
		first++
	}
	tokens := float64(b.N * benchTurn)
	b.ReportMetric(float64(spent[0])/tokens, "verify-ns/token")
	b.ReportMetric(float64(spent[1])/tokens, "golang-jwt-ns/token")
	b.ReportMetric(float64(spent[2])/tokens, "stdlib-ns/token")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "verify/golang-jwt")
	b.ReportMetric(float64(spent[0])/float64(spent[2]), "verify/stdlib")
}

// BenchmarkJWXParse is jwx v2's jwt.Parse with the key known in advance.
func BenchmarkJWXParse(b *testing.B) {
	toks := benchTokenSet()
	clock := jwt.ClockFunc(func() time.Time { return benchNow })
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := jwt.Parse([]byte(toks[i%len(toks)]), jwt.WithKey(jwa.HS256, []byte(secret64)),
			jwt.WithClock(clock), jwt.WithAcceptableSkew(5*time.Second)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkJWXParseInsecureThenParse reads iss without verifying, then
// parses again with the issuer's key: the two-parse pattern docs/ARCHITECTURE.md rules
// out.
func BenchmarkJWXParseInsecureThenParse(b *testing.B) {
	toks := benchTokenSet()
	clock := jwt.ClockFunc(func() time.Time { return benchNow })
	keys := map[string][]byte{benchIssuer: []byte(secret64)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tok := []byte(toks[i%len(toks)])
		insecure, err := jwt.ParseInsecure(tok)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jwt.Parse(tok, jwt.WithKey(jwa.HS256, keys[insecure.Issuer()]),
			jwt.WithClock(clock), jwt.WithAcceptableSkew(5*time.Second)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkJWXJWSParse is the best path through jwx v2 found for an AMO
// token: jws.Parse once, the claims decoded from its payload with
// encoding/json (iss first, to find the key), alg pinned from the parsed
// header, then jwx's HS256 verifier over the signing input. No replay check.
func BenchmarkJWXJWSParse(b *testing.B) {
	toks := benchTokenSet()
	hv, err := jws.NewVerifier(jwa.HS256)
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string][]byte{benchIssuer: []byte(secret64)}
	now := float64(benchNow.Unix())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tok := toks[i%len(toks)]
		i++
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			b.Fatal(err)
		}
		sigs := msg.Signatures()
		if len(sigs) != 1 || sigs[0].ProtectedHeaders().Algorithm() != jwa.HS256 {
			b.Fatal("not one HS256 signature")
		}
		var c struct {
			Iss string  `json:"iss"`
			Jti string  `json:"jti"`
			Iat float64 `json:"iat"`
			Exp float64 `json:"exp"`
		}
		if err := json.Unmarshal(msg.Payload(), &c); err != nil {
			b.Fatal(err)
		}
		key, ok := keys[c.Iss]
		if !ok {
			b.Fatal("unknown issuer")
		}
		if err := hv.Verify([]byte(tok[:strings.LastIndexByte(tok, '.')]), sigs[0].Signature(), key); err != nil {
			b.Fatal(err)
		}
		if c.Iat > now+5 || c.Exp <= now-5 || c.Exp-c.Iat > 300 {
			b.Fatal("times")
		}
	}
}

// BenchmarkJWXHS256Verifier is jwx's HS256 verifier alone, the signature
// check Verify relies on.
func BenchmarkJWXHS256Verifier(b *testing.B) {
	tok := benchTokenSet()[0]
	dot := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:dot])
	sig, _ := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	hv, err := jws.NewVerifier(jwa.HS256)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte(secret64)
	b.ReportAllocs()
	for b.Loop() {
		if err := hv.Verify(input, sig, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACFloor is HMAC-SHA256 over one token's signing input with a
// reused hash: the cost of the cryptography itself.
func BenchmarkHMACFloor(b *testing.B) {
	tok := benchTokenSet()[0]
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	mac := hmac.New(sha256.New, []byte(secret64))
	sum := make([]byte, 0, sha256.Size)
	b.ReportAllocs()
	for b.Loop() {
		mac.Reset()
		mac.Write(input)
		sum = mac.Sum(sum[:0])
	}
}

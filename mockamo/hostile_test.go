package mockamo_test

import (
	"context"
	"flag"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
	"github.com/amojwt/amojwt/verifier"
)

// Sizes of the hostile tests, raised on the command line to measure
// (docs give the commands).
var (
	hostileUploads = flag.Int("hostile-uploads", 20,
		"how many uploads TestHostileManifestState sends")
	hostileEntries = flag.Int("hostile-entries", 3<<16+7,
		"how many 46-byte directory headers each archive of TestHostileArchivesAtOnce has")
	hostileAtOnce = flag.Int("hostile-at-once", 8,
		"how many archives TestHostileArchivesAtOnce uploads at once")
)

// keysWithoutUsers is a key store that knows keys but not their users:
// the principal of an issuer that carries no user id (not
// "user:<id>:<n>") has UserID 0.
type keysWithoutUsers map[string]bool

func (k keysWithoutUsers) Lookup(_ context.Context, issuer string) (*verifier.Key, error) {
	if !k[issuer] {
		return nil, verifier.ErrKeyNotFound
	}
	return &verifier.Key{Issuer: issuer, Secret: verifier.Secret(testSecret), Active: true}, nil
}

// TestKeysWithoutUserID: two keys without a user id would share the
// owner 0; the submission API refuses them (403) instead, so that neither
// sees or changes what the other uploads, while the profile endpoint
// still answers them.
func TestKeysWithoutUserID(t *testing.T) {
	t.Parallel()
	v, err := verifier.New(keysWithoutUsers{"ci-key-a": true, "ci-key-b": true, "user:543210:23": true}, verifier.WithClock(testClock))
	if err != nil {
		t.Fatal(err)
	}
	subs, err := mockamo.NewSubmissions()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, h: mockamo.New(v, mockamo.WithSubmissions(subs)), s: subs}
	token := func(issuer string) string {
		return "JWT " + jwttest.Sign(testHeader, `{"iss":"`+issuer+`","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	}
	keyA, keyB := token("ci-key-a"), token("ci-key-b")
	const refused = `{"detail":"This API key has no user id (its key store knows no user for it, and it is not of the form ` +
		`user:<id>:<n>), so amojwt's mock AMO cannot keep its uploads and add-ons apart from other keys'."}`
	ct, upload := multipartBody(t, map[string]string{"channel": "unlisted"}, "upload", "a.zip",
		ziptest.Of(t, "manifest.json", manifest("shared@example.com", "1.0")))
	requests := []struct {
		method, path, contentType string
		body                      []byte
	}{
		{http.MethodPost, "/api/v5/addons/upload/", ct, upload},
		{http.MethodGet, "/api/v5/addons/upload/", "", nil},
		{http.MethodGet, "/api/v5/addons/upload/0123456789abcdef0123456789abcdef/", "", nil},
		{http.MethodPost, "/api/v5/addons/addon/", "application/json", []byte(`{"version":{"upload":"0123456789abcdef0123456789abcdef"}}`)},
		{http.MethodPut, "/api/v5/addons/addon/shared@example.com/", "application/json", []byte(`{}`)},
		{http.MethodGet, "/api/v5/addons/addon/shared@example.com/", "", nil},
		{http.MethodGet, "/api/v5/addons/addon/shared@example.com/versions/1/", "", nil},
		{http.MethodGet, "/firefox/downloads/file/1/", "", nil},
		{http.MethodOptions, "/api/v5/addons/upload/", "", nil},
		{http.MethodPost, "/__mockamo/fail-next-upload", "", nil},
		{http.MethodPost, "/__mockamo/reject-next-review", "", nil},
	}
	for _, key := range []struct{ name, auth string }{{"key a", keyA}, {"key b", keyB}} {
		for _, req := range requests {
			t.Run(key.name+" "+req.method+" "+req.path, func(t *testing.T) {
				wantResponse(t, h.do(req.method, req.path, key.auth, req.contentType, req.body), http.StatusForbidden, refused)
			})
		}
	}
	rec := h.do(http.MethodGet, "/api/v5/accounts/profile/", keyA, "", nil)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), `{"id":0,`) {
		t.Errorf("profile: %d %s", rec.Code, rec.Body)
	}
	// A key with a user id, beside them, submits as usual.
	if s := h.submit(authA, "owned@example.com", "1.0"); s.GUID != "owned@example.com" {
		t.Errorf("key with a user id: %+v", s)
	}
}

// TestHostileManifestState uploads, into a data directory, archives of
// about 1 KiB whose manifest.json repeats a 500000-byte key: each
// validation finding quotes the key cut short, so the state grows by a
// bounded record per upload, not by the key.
func TestHostileManifestState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := newHarness(t, mockamo.WithDataDir(dir))
	key := strings.Repeat("k", 500000)
	data := ziptest.Of(t, "manifest.json", `{"`+key+`":1,"`+key+`":2}`)
	for i := range *hostileUploads {
		rec := h.postUpload(authA, "unlisted", "a.zip", data)
		var u uploadDetail
		decode(t, rec, &u)
		if rec.Code != http.StatusCreated || len(u.Validation.Messages) != 1 || u.codes()[0] != "JSON_DUPLICATE_KEY" {
			t.Fatalf("upload %d: %d %.300s", i, rec.Code, rec.Body)
		}
		if d := u.Validation.Messages[0].Description; len(d) > 200 || !strings.HasPrefix(d, "Duplicate key: kkk") {
			t.Fatalf("upload %d: description of %d bytes: %.300s", i, len(d), d)
		}
	}
	var state int64
	for name, content := range dataFiles(t, dir) {
		if strings.HasPrefix(name, "state/") {
			state += int64(len(content))
		}
	}
	// A record is about 1 KiB: the validation, its one finding, the
	// upload's fields.
	const perUpload = 2 << 10
	t.Logf("%d uploads of %d bytes: records take %d bytes", *hostileUploads, len(data), state)
	if limit := int64(*hostileUploads) * perUpload; state > limit {
		t.Errorf("%d uploads of %d bytes: records take %d bytes, want at most %d", *hostileUploads, len(data), state, limit)
	}
}

// TestStorageQuota: uploads and sources past MaxStoredBytesPerUser or
// MaxStoredBytes are refused with 413, and what was stored stays: past
// the quota per user, another user still uploads; past the quota in all,
// nobody does.
func TestStorageQuota(t *testing.T) {
	t.Parallel()
	data := ziptest.Of(t, "manifest.json", manifest("quota@example.com", "1.0"))
	tests := []struct {
		name        string
		limits      mockamo.Limits
		othersStore bool // whether user B still uploads once A is refused
		want        string
	}{
		{"per user", mockamo.Limits{MaxStoredBytesPerUser: 8 << 10}, true,
			`{"detail":"amojwt's mock AMO keeps at most 8192 bytes of files and records per user, and this request would pass that limit."}`},
		{"in all", mockamo.Limits{MaxStoredBytes: 8 << 10}, false,
			`{"detail":"amojwt's mock AMO keeps at most 8192 bytes of files and records in all, and this request would pass that limit."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, mockamo.WithLimits(tt.limits))
			stored := 0
			for ; stored < 100; stored++ {
				if rec := h.postUpload(authA, "unlisted", "a.zip", data); rec.Code != http.StatusCreated {
					wantResponse(t, rec, http.StatusRequestEntityTooLarge, tt.want)
					break
				}
			}
			if stored < 2 || stored == 100 {
				t.Fatalf("%d uploads stored before the refusal", stored)
			}
			rec := h.do(http.MethodGet, "/api/v5/addons/upload/", authA, "", nil)
			if !strings.Contains(rec.Body.String(), `"count":`+strconv.Itoa(stored)+`,`) {
				t.Errorf("A's uploads after the refusal: %.100s", rec.Body)
			}
			if rec := h.postUpload(authB, "unlisted", "a.zip", data); (rec.Code == http.StatusCreated) != tt.othersStore {
				t.Errorf("B's upload: %d %s", rec.Code, rec.Body)
			}
			// A source file counts too.
			h2 := newHarness(t, mockamo.WithLimits(tt.limits))
			s := h2.submit(authA, "quota@example.com", "1.0")
			ct, body := multipartBody(t, nil, "source", "src.zip", make([]byte, 8<<10))
			path := "/api/v5/addons/addon/quota@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
			wantResponse(t, h2.do(http.MethodPatch, path, authA, ct, body), http.StatusRequestEntityTooLarge, tt.want)
			if rec := h2.do(http.MethodGet, path, authA, "", nil); !strings.Contains(rec.Body.String(), `"source":null`) {
				t.Errorf("after the refusal: %s", rec.Body)
			}
		})
	}
}

// TestHostileArchivesAtOnce uploads archives of 46-byte directory
// headers that archive/zip would turn into one entry each (see
// ziptest.TinyHeaders), several at once, and bounds how much the heap
// grows: the entries are counted before archive/zip runs, and only
// MaxConcurrentUploads bodies are read at once. The uploads are stored
// in a data directory, so that the heap holds only the requests under
// way. It samples the heap, so it does not run in parallel with other
// tests.
func TestHostileArchivesAtOnce(t *testing.T) {
	data := ziptest.TinyHeaders(*hostileEntries)
	const slots = 2
	stored := int64(*hostileAtOnce) * int64(len(data)+64<<10)
	h := newHarness(t, mockamo.WithDataDir(t.TempDir()), mockamo.WithLimits(mockamo.Limits{MaxUploadBytes: int64(len(data)),
		MaxConcurrentUploads: slots, MaxStoredBytesPerUser: stored, MaxStoredBytes: stored}))
	ct, body := multipartBody(t, map[string]string{"channel": "unlisted"}, "upload", "hostile.zip", data)
	grew := peakHeapGrowth(func() {
		var wg sync.WaitGroup
		for range *hostileAtOnce {
			wg.Go(func() {
				rec := h.do(http.MethodPost, "/api/v5/addons/upload/", authA, ct, body)
				var u uploadDetail
				decode(t, rec, &u)
				if rec.Code != http.StatusCreated || len(u.codes()) != 1 || u.codes()[0] != "ZIP_LIMIT_EXCEEDED" {
					t.Errorf("upload: %d %.300s", rec.Code, rec.Body)
				}
			})
		}
		wg.Wait()
	})
	// Each request in a slot holds up to twice its file while it reads
	// it (io.ReadAll's chunks, then the file), and the garbage that
	// leaves counts until the next collection: up to twice more.
	bound := uint64(slots*4*len(data)) + 16<<20
	t.Logf("%d archives of %d bytes, %d at once: heap grew by %d MiB at most (bound %d MiB)",
		*hostileAtOnce, len(data), *hostileAtOnce, grew>>20, bound>>20)
	if grew > bound {
		t.Errorf("heap grew by %d bytes, want at most %d", grew, bound)
	}
}

// peakHeapGrowth runs f and returns how far the bytes of heap objects
// (runtime/metrics, live or not yet swept) rose above what they were
// before, sampled every 100µs. The collector runs at GOGC=20 meanwhile,
// so that garbage waiting for a collection stays small beside what is
// live.
func peakHeapGrowth(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const name = "/memory/classes/heap/objects:bytes"
	read := func() uint64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-sampled
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

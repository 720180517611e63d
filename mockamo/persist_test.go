package mockamo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// TestDataDir: with WithDataDir, a new Submissions over the same
// directory (a restarted server) knows the uploads, add-ons, versions and
// files of the previous one, and ids keep counting.
func TestDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	first := newHarness(t, mockamo.WithDataDir(dir), mockamo.WithReviewDelay(time.Minute))
	data := ziptest.Of(t, "manifest.json", manifest("keep@example.com", "1.0"))
	uuid := first.upload(authA, "unlisted", data)
	s := submittedFrom(t, first.put(authA, "keep@example.com", map[string]any{"version": map[string]any{"upload": uuid}}))
	pending := first.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest("keep@example.com", "2.0")))

	files := dataFiles(t, dir)
	records := 0
	for name, content := range files {
		if strings.Contains(name, ".tmp") {
			t.Errorf("temporary file left behind: %s", name)
		}
		if strings.HasPrefix(name, "state/") {
			records++
			if !json.Valid(content) {
				t.Errorf("%s is not JSON: %s", name, content)
			}
		}
	}
	// format.json, two uploads, one add-on.
	if records != 4 {
		t.Errorf("%d files under state/, want 4: %v", records, keys(files))
	}

	second := &harness{t: t, clock: first.clock}
	subs, err := mockamo.NewSubmissions(mockamo.WithDataDir(dir), mockamo.WithSubmissionClock(second.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	second.s, second.h = subs, mockamo.New(newVerifier(t), mockamo.WithSubmissions(subs))

	// The review scheduled before the restart ends on time.
	versionPath := "/api/v5/addons/addon/keep@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
	if rec := second.do(http.MethodGet, versionPath, authA, "", nil); !strings.Contains(rec.Body.String(), `"status":"unreviewed"`) {
		t.Errorf("before the review delay: %d %s", rec.Code, rec.Body)
	}
	second.clock.Advance(time.Minute)
	if rec := second.do(http.MethodGet, versionPath, authA, "", nil); !strings.Contains(rec.Body.String(), `"status":"public"`) {
		t.Errorf("after the review delay: %d %s", rec.Code, rec.Body)
	}
	rec := second.do(http.MethodGet, strings.TrimPrefix(s.Version.File.URL, "http://amo.test"), authA, "", nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Errorf("download after restart: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	s2 := submittedFrom(t, second.put(authA, "keep@example.com", map[string]any{"version": map[string]any{"upload": pending}}))
	if s2.ID != s.ID || s2.Version.ID != s.Version.ID+1 || s2.Version.File.ID != s.Version.File.ID+1 {
		t.Errorf("ids after restart: add-on %d version %d file %d", s2.ID, s2.Version.ID, s2.Version.File.ID)
	}
	wantResponse(t, second.put(authB, "keep@example.com", map[string]any{}), http.StatusForbidden,
		`{"detail":"You do not have permission to perform this action.","is_disabled_by_developer":false,"is_disabled_by_mozilla":false}`)
}

func submittedFrom(t *testing.T, rec interface{ Result() *http.Response }) submitted {
	t.Helper()
	resp := rec.Result()
	defer resp.Body.Close()
	var s submitted
	if resp.StatusCode/100 != 2 || json.NewDecoder(resp.Body).Decode(&s) != nil {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return s
}

// TestDataDirWriteFailure: when a record cannot be written, the request
// fails with AMO's 500 and leaves no trace, neither in memory nor on
// disk.
func TestDataDirWriteFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := newHarness(t, mockamo.WithDataDir(dir))
	s := h.submit(authA, "fail@example.com", "1.0")
	before := dataFiles(t, dir)
	// A file in place of a records directory makes every write there
	// fail, even for root.
	for _, sub := range []string{"uploads", "addons"} {
		records := filepath.Join(dir, "state", sub)
		if err := os.Rename(records, records+".away"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(records, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rec := h.postUpload(authA, "unlisted", "a.zip", ziptest.Of(t, "manifest.json", manifest("", "1.0")))
	wantResponse(t, rec, http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
	path := "/api/v5/addons/addon/fail@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
	ct, body := multipartBody(t, nil, "source", "src.zip", []byte("source"))
	wantResponse(t, h.do(http.MethodPatch, path, authA, ct, body), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
	wantResponse(t, h.put(authA, "fail@example.com", map[string]any{"summary": "new"}), http.StatusInternalServerError,
		`{"detail":"Internal Server Error"}`)

	rec = h.do(http.MethodGet, "/api/v5/addons/upload/", authA, "", nil)
	if !strings.Contains(rec.Body.String(), `"count":1,`) {
		t.Errorf("uploads after the failure: %s", rec.Body)
	}
	rec = h.do(http.MethodGet, path, authA, "", nil)
	if !strings.Contains(rec.Body.String(), `"source":null`) {
		t.Errorf("version after the failure: %s", rec.Body)
	}
	rec = h.do(http.MethodGet, "/api/v5/addons/addon/fail@example.com/", authA, "", nil)
	if strings.Contains(rec.Body.String(), "new") {
		t.Errorf("add-on after the failure: %s", rec.Body)
	}
	// The files written before the records failed are gone again.
	for name := range dataFiles(t, dir) {
		_, existed := before[name]
		if !existed && !strings.HasPrefix(name, "state/") {
			t.Errorf("file left by a failed change: %s", name)
		}
	}
}

// TestDataDirWritesOnlyTheChange: each change writes the one record it
// changes (and its file), whatever else the state holds: an upload adds
// its record and its file, a new version or an edit rewrites its
// add-on's record, and every other file stays as it was.
func TestDataDirWritesOnlyTheChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := newHarness(t, mockamo.WithDataDir(dir))
	first := h.submit(authA, "one@example.com", "1.0")
	h.submit(authB, "two@example.com", "1.0")
	changed := func(before, after map[string][]byte) []string {
		var out []string
		for name, content := range after {
			if old, ok := before[name]; !ok || !bytes.Equal(old, content) {
				out = append(out, name)
			}
		}
		for name := range before {
			if _, ok := after[name]; !ok {
				out = append(out, "-"+name)
			}
		}
		slices.Sort(out)
		return out
	}
	addonRecord := "state/addons/" + strconv.FormatInt(first.ID, 10) + ".json"
	before := dataFiles(t, dir)
	uuid := h.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest("one@example.com", "2.0")))
	after := dataFiles(t, dir)
	if got, want := changed(before, after), []string{"state/uploads/" + uuid + ".json", "uploads/" + uuid}; !slices.Equal(got, want) {
		t.Errorf("an upload changed %v, want %v", got, want)
	}
	before = after
	if rec := h.put(authA, "one@example.com", map[string]any{"version": map[string]any{"upload": uuid}}); rec.Code != http.StatusOK {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	after = dataFiles(t, dir)
	if got := changed(before, after); !slices.Equal(got, []string{addonRecord}) {
		t.Errorf("a new version changed %v, want %v", got, []string{addonRecord})
	}
	before = after
	path := "/api/v5/addons/addon/one@example.com/versions/" + strconv.FormatInt(first.Version.ID, 10) + "/"
	ct, body := multipartBody(t, nil, "source", "src.zip", []byte("source one"))
	if rec := h.do(http.MethodPatch, path, authA, ct, body); rec.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	after = dataFiles(t, dir)
	got := changed(before, after)
	if len(got) != 2 || !strings.HasPrefix(got[0], "sources/") || got[1] != addonRecord {
		t.Errorf("a new source changed %v, want one source file and %s", got, addonRecord)
	}
	// A second source replaces the first, whose file goes.
	before = after
	ct, body = multipartBody(t, nil, "source", "src.zip", []byte("source two"))
	if rec := h.do(http.MethodPatch, path, authA, ct, body); rec.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	got = changed(before, dataFiles(t, dir))
	if len(got) != 3 || !strings.HasPrefix(got[0], "-sources/") || !strings.HasPrefix(got[1], "sources/") || got[2] != addonRecord {
		t.Errorf("a replaced source changed %v, want the old source file removed, a new one, and %s", got, addonRecord)
	}
}

// TestDataDirLeftovers: files an interrupted change left (temporary
// files, a file without its record) are removed when the directory is
// opened again; the records are kept.
func TestDataDirLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := newHarness(t, mockamo.WithDataDir(dir))
	h.submit(authA, "left@example.com", "1.0")
	kept := dataFiles(t, dir)
	leftovers := []string{"uploads/0123456789abcdef0123456789abcdef", "uploads/.tmp-123", "sources/.tmp-456",
		"sources/0123456789abcdef0123456789abcdef", "state/uploads/.tmp-789", "state/addons/.tmp-1"}
	for _, name := range leftovers {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mockamo.NewSubmissions(mockamo.WithDataDir(dir)); err != nil {
		t.Fatal(err)
	}
	if got := dataFiles(t, dir); !slices.Equal(keys(got), keys(kept)) {
		t.Errorf("after reopening: %v, want %v", keys(got), keys(kept))
	}
}

// dataFiles returns the regular files under dir by slash-separated
// relative name, with their contents.
func dataFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		content, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = content
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// keys returns m's keys, sorted.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func TestNewSubmissionsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// dataDir writes files (relative name to content) into a new data
	// directory.
	dataDir := func(name string, files map[string]string) mockamo.SubmissionOption {
		d := filepath.Join(dir, name)
		for rel, content := range files {
			path := filepath.Join(d, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return mockamo.WithDataDir(d)
	}
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		uuid   = "0123456789abcdef0123456789abcdef"
		format = `{"format":2}`
		upload = `{"uuid":"` + uuid + `","user_id":1,"channel":"unlisted","filename":"a.zip","size":1,"sha256":"",` +
			`"created":"2025-01-01T00:00:00Z","processed_at":"2025-01-01T00:00:00Z","validation":null}`
	)
	addon := func(uploadUUID, source string) string {
		return `{"id":1,"guid":"a@b","slug":"a","created":"2025-01-01T00:00:00Z","authors":[{"id":1,"name":"","username":""}],` +
			`"default_locale":"en-US","name":{"en-US":"A"},"versions":[{"id":1,"version":"1.0","channel":"unlisted",` +
			`"created":"2025-01-01T00:00:00Z","review_at":"2025-01-01T00:00:00Z","file":{"id":1,"upload_uuid":"` + uploadUUID +
			`","filename":"a-1.0.xpi","size":1,"sha256":""},"compatibility":{}` + source + `}]}`
	}
	tests := []struct {
		name         string
		opts         []mockamo.SubmissionOption
		wantBadState bool
	}{
		{"negative processing delay", []mockamo.SubmissionOption{mockamo.WithProcessingDelay(-time.Second)}, false},
		{"negative review delay", []mockamo.SubmissionOption{mockamo.WithReviewDelay(-time.Second)}, false},
		{"nil clock", []mockamo.SubmissionOption{mockamo.WithSubmissionClock(nil)}, false},
		{"negative limit", []mockamo.SubmissionOption{mockamo.WithLimits(mockamo.Limits{MaxEntries: -1})}, false},
		{"negative quota", []mockamo.SubmissionOption{mockamo.WithLimits(mockamo.Limits{MaxStoredBytes: -1})}, false},
		{"data dir is a file", []mockamo.SubmissionOption{mockamo.WithDataDir(notADir)}, false},
		{"a state.json of another layout", []mockamo.SubmissionOption{dataDir("a", map[string]string{"state.json": `{"format":1}`})}, true},
		{"unknown format", []mockamo.SubmissionOption{dataDir("b", map[string]string{"state/format.json": `{"format":1}`})}, true},
		{"format not JSON", []mockamo.SubmissionOption{dataDir("c", map[string]string{"state/format.json": `{`})}, true},
		{"records without format", []mockamo.SubmissionOption{dataDir("d", map[string]string{"state/uploads/" + uuid + ".json": upload})}, true},
		{"record not JSON", []mockamo.SubmissionOption{dataDir("e", map[string]string{"state/format.json": format,
			"state/uploads/" + uuid + ".json": `{`})}, true},
		{"unknown field", []mockamo.SubmissionOption{dataDir("f", map[string]string{"state/format.json": format,
			"state/uploads/" + uuid + ".json": strings.Replace(upload, "{", `{"extra":true,`, 1)})}, true},
		{"record under another name", []mockamo.SubmissionOption{dataDir("g", map[string]string{"state/format.json": format,
			"state/uploads/fedcba9876543210fedcba9876543210.json": upload})}, true},
		{"not a record", []mockamo.SubmissionOption{dataDir("h", map[string]string{"state/format.json": format,
			"state/uploads/notes.txt": "x"})}, true},
		{"version of a missing upload", []mockamo.SubmissionOption{dataDir("i", map[string]string{"state/format.json": format,
			"state/addons/1.json": addon(uuid, "")})}, true},
		{"source outside the data directory", []mockamo.SubmissionOption{dataDir("j", map[string]string{"state/format.json": format,
			"state/uploads/" + uuid + ".json": upload,
			"state/addons/1.json":             addon(uuid, `,"source":{"filename":"s.zip","size":1,"blob":"../../etc/passwd"}`)})}, true},
		{"add-on under another id", []mockamo.SubmissionOption{dataDir("k", map[string]string{"state/format.json": format,
			"state/uploads/" + uuid + ".json": upload, "state/addons/2.json": addon(uuid, "")})}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := mockamo.NewSubmissions(tt.opts...)
			if err == nil || s != nil {
				t.Fatalf("got %v, %v; want an error", s, err)
			}
			if got := errors.Is(err, mockamo.ErrInvalidState); got != tt.wantBadState {
				t.Errorf("errors.Is(%v, ErrInvalidState) = %v", err, got)
			}
		})
	}
	// The same records, consistent, load.
	if _, err := mockamo.NewSubmissions(dataDir("ok", map[string]string{"state/format.json": format,
		"state/uploads/" + uuid + ".json": upload, "state/addons/1.json": addon(uuid, "")})); err != nil {
		t.Errorf("consistent records: %v", err)
	}
}

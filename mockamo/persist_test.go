package mockamo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
)

// TestDataDir: with WithDataDir, a new Submissions over the same
// directory (a restarted server) knows the uploads, add-ons, versions and
// files of the previous one, and ids keep counting.
func TestDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	first := newHarness(t, mockamo.WithDataDir(dir), mockamo.WithReviewDelay(time.Minute))
	data := zipOf(t, "manifest.json", manifest("keep@example.com", "1.0"))
	uuid := first.upload(authA, "unlisted", data)
	s := submittedFrom(t, first.put(authA, "keep@example.com", map[string]any{"version": map[string]any{"upload": uuid}}))
	pending := first.upload(authA, "unlisted", zipOf(t, "manifest.json", manifest("keep@example.com", "2.0")))

	raw, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil || !json.Valid(raw) {
		t.Fatalf("state.json: %v %s", err, raw)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
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

// TestDataDirWriteFailure: when the state file cannot be written, the
// request fails with AMO's 500 and leaves no trace.
func TestDataDirWriteFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := newHarness(t, mockamo.WithDataDir(dir))
	// A non-empty directory in place of the state file makes the rename
	// fail, even for root.
	state := filepath.Join(dir, "state.json")
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(state, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	rec := h.postUpload(authA, "unlisted", "a.zip", zipOf(t, "manifest.json", manifest("", "1.0")))
	wantResponse(t, rec, http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
	wantResponse(t, h.do(http.MethodGet, "/api/v5/addons/upload/", authA, "", nil), http.StatusOK,
		`{"count":0,"next":null,"previous":null,"results":[]}`)
}

func TestNewSubmissionsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeState := func(name, content string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "state.json"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
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
		{"data dir is a file", []mockamo.SubmissionOption{mockamo.WithDataDir(notADir)}, false},
		{"state not JSON", []mockamo.SubmissionOption{mockamo.WithDataDir(writeState("a", "{"))}, true},
		{"unknown format", []mockamo.SubmissionOption{mockamo.WithDataDir(writeState("b", `{"format":2}`))}, true},
		{"unknown field", []mockamo.SubmissionOption{mockamo.WithDataDir(writeState("c", `{"format":1,"extra":true}`))}, true},
		{"bad upload key", []mockamo.SubmissionOption{mockamo.WithDataDir(writeState("d", `{"format":1,"uploads":{"x":{"uuid":"x"}}}`))}, true},
		{"version id beyond the counter", []mockamo.SubmissionOption{mockamo.WithDataDir(writeState("e",
			`{"format":1,"last_addon_id":1,"addons":[{"id":1,"guid":"a@b","versions":[{"id":5,"file":{"id":1}}]}]}`))}, true},
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
}

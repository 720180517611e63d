package mockamo_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// Reusable tokens (no jti) of two users: A is user 543210, B is user 7.
var (
	authA = "JWT " + jwttest.Sign(testHeader, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	authB = "JWT " + jwttest.Sign(testHeader, `{"iss":"user:7:1","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
)

// fakeClock is a submission clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a mock AMO with submissions, called in-process.
type harness struct {
	t     *testing.T
	h     http.Handler
	s     *mockamo.Submissions
	clock *fakeClock
}

// newHarness returns a mock AMO whose submissions use a fake clock and
// opts.
func newHarness(t *testing.T, opts ...mockamo.SubmissionOption) *harness {
	t.Helper()
	clock := newFakeClock()
	s, err := mockamo.NewSubmissions(append([]mockamo.SubmissionOption{mockamo.WithSubmissionClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, h: mockamo.New(newVerifier(t), mockamo.WithSubmissions(s)), s: s, clock: clock}
}

// do sends a request to the mock at http://amo.test.
func (h *harness) do(method, path, auth, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://amo.test"+path, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// postUpload sends POST /api/v5/addons/upload/ with a file and a channel.
func (h *harness) postUpload(auth, channel, filename string, data []byte) *httptest.ResponseRecorder {
	ct, body := multipartBody(h.t, map[string]string{"channel": channel}, "upload", filename, data)
	return h.do(http.MethodPost, "/api/v5/addons/upload/", auth, ct, body)
}

// upload uploads data and returns the upload's uuid.
func (h *harness) upload(auth, channel string, data []byte) string {
	h.t.Helper()
	rec := h.postUpload(auth, channel, "addon.zip", data)
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	var u struct{ UUID string }
	decode(h.t, rec, &u)
	return u.UUID
}

// put sends PUT /api/v5/addons/addon/<guid>/ with a JSON body.
func (h *harness) put(auth, guid string, body any) *httptest.ResponseRecorder {
	return h.do(http.MethodPut, "/api/v5/addons/addon/"+guid+"/", auth, "application/json", jsonBody(h.t, body))
}

// submitted is the part of an add-on response web-ext reads.
type submitted struct {
	ID      int64  `json:"id"`
	GUID    string `json:"guid"`
	Slug    string `json:"slug"`
	Status  string `json:"status"`
	Version struct {
		ID      int64  `json:"id"`
		EditURL string `json:"edit_url"`
		Version string `json:"version"`
		File    struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
			URL    string `json:"url"`
			Hash   string `json:"hash"`
			Size   int64  `json:"size"`
		} `json:"file"`
	} `json:"version"`
}

// submit uploads an unlisted add-on with this guid and version and
// creates its version with PUT, as web-ext does.
func (h *harness) submit(auth, guid, version string) submitted {
	h.t.Helper()
	uuid := h.upload(auth, "unlisted", ziptest.Of(h.t, "manifest.json", manifest(guid, version)))
	rec := h.put(auth, guid, map[string]any{"version": map[string]any{"upload": uuid}})
	if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
		h.t.Fatalf("PUT %s: %d %s", guid, rec.Code, rec.Body)
	}
	var s submitted
	decode(h.t, rec, &s)
	return s
}

// manifest is a valid MV2 manifest.json with this add-on id ("" for none)
// and version.
func manifest(id, version string) string {
	m := map[string]any{"manifest_version": 2, "name": "Test Add-on", "version": version}
	if id != "" {
		m["browser_specific_settings"] = map[string]any{"gecko": map[string]any{"id": id}}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// multipartBody builds a multipart/form-data body with text fields and,
// when fileField is not "", one file.
func multipartBody(t testing.TB, fields map[string]string, fileField, filename string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if fileField != "" {
		w, err := mw.CreateFormFile(fileField, filename)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode parses a JSON response body into v and checks that the response
// says it is JSON.
func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, body %s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
}

// wantResponse compares a response's status and exact body, and checks
// it is JSON.
func wantResponse(t testing.TB, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || strings.TrimSpace(rec.Body.String()) != body {
		t.Errorf("got %d %s\nwant %d %s", rec.Code, rec.Body, status, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

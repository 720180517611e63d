package mockamo_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// TestWebExtFlow walks the requests of `web-ext sign` for an add-on with
// an id in its manifest: upload, poll, PUT, poll the version, download.
func TestWebExtFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	data := ziptest.Of(t, "manifest.json", manifest("flow@example.com", "1.0"), "bg.js", "console.log(1)")
	uuid := h.upload(authA, "unlisted", data)

	rec := h.put(authA, "flow@example.com", map[string]any{"version": map[string]any{"upload": uuid}})
	var s submitted
	decode(t, rec, &s)
	if rec.Code != http.StatusCreated || s.GUID != "flow@example.com" || s.Slug != "test-add-on" || s.Status != "incomplete" ||
		s.Version.Version != "1.0" || s.Version.File.Status != "public" ||
		s.Version.EditURL != "http://amo.test/en-US/developers/addon/test-add-on/versions/"+strconv.FormatInt(s.Version.ID, 10) ||
		s.Version.File.URL != "http://amo.test/firefox/downloads/file/"+strconv.FormatInt(s.Version.File.ID, 10)+"/test_add_on-1.0.xpi" ||
		s.Version.File.Size != int64(len(data)) || !strings.HasPrefix(s.Version.File.Hash, "sha256:") {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Allow"); got != "GET, PUT, HEAD, OPTIONS" {
		t.Errorf("Allow %q", got)
	}

	versionPath := "/api/v5/addons/addon/flow@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
	rec = h.do(http.MethodGet, versionPath, authA, "", nil)
	var v struct {
		ID       int64   `json:"id"`
		Channel  string  `json:"channel"`
		Reviewed *string `json:"reviewed"`
		File     struct {
			Status string `json:"status"`
			URL    string `json:"url"`
		} `json:"file"`
		Compatibility map[string]map[string]string `json:"compatibility"`
	}
	decode(t, rec, &v)
	if rec.Code != http.StatusOK || v.ID != s.Version.ID || v.Channel != "unlisted" || v.File.Status != "public" ||
		v.File.URL != s.Version.File.URL || v.Reviewed == nil || v.Compatibility["firefox"]["min"] != "42.0" {
		t.Fatalf("GET version: %d %s", rec.Code, rec.Body)
	}

	rec = h.do(http.MethodGet, strings.TrimPrefix(v.File.URL, "http://amo.test"), authA, "", nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("download: %d, %d bytes, want the %d bytes uploaded", rec.Code, rec.Body.Len(), len(data))
	}
	for header, want := range map[string]string{
		"Content-Type":          "application/x-xpinstall",
		"Content-Disposition":   `attachment; filename=test_add_on-1.0.xpi`,
		mockamo.NotSignedHeader: "this is the uploaded file, unchanged: amojwt's mock AMO does not sign add-ons",
		"Content-Length":        strconv.Itoa(len(data)),
	} {
		if got := rec.Header().Get(header); got != want {
			t.Errorf("download %s: %q, want %q", header, got, want)
		}
	}

	// The upload is used: submitting it again fails, as on AMO.
	rec = h.put(authA, "flow@example.com", map[string]any{"version": map[string]any{"upload": uuid}})
	wantResponse(t, rec, http.StatusBadRequest, `{"version":{"upload":["This upload has already been submitted."]}}`)
	// A new upload of the same version number conflicts.
	uuid2 := h.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest("flow@example.com", "1.0"), "new.js", "2"))
	rec = h.put(authA, "flow@example.com", map[string]any{"version": map[string]any{"upload": uuid2}})
	wantResponse(t, rec, http.StatusConflict, `{"version":["Version 1.0 already exists."]}`)
	// A new version number is a new version of the same add-on.
	s2 := h.submit(authA, "flow@example.com", "1.1")
	if s2.ID != s.ID || s2.Version.Version != "1.1" || s2.Version.ID == s.Version.ID {
		t.Errorf("second version: %+v", s2)
	}
	for _, ident := range []string{"flow@example.com", strconv.FormatInt(s.ID, 10), "test-add-on"} {
		rec = h.do(http.MethodGet, "/api/v5/addons/addon/"+ident+"/", authA, "", nil)
		var a struct {
			GUID                  string `json:"guid"`
			LatestUnlistedVersion struct {
				Version string `json:"version"`
			} `json:"latest_unlisted_version"`
			Authors []struct {
				ID  int64  `json:"id"`
				URL string `json:"url"`
			} `json:"authors"`
		}
		decode(t, rec, &a)
		if rec.Code != http.StatusOK || a.GUID != "flow@example.com" || a.LatestUnlistedVersion.Version != "1.1" ||
			len(a.Authors) != 1 || a.Authors[0].ID != 543210 || a.Authors[0].URL != "http://amo.test/en-US/firefox/user/543210/" {
			t.Errorf("GET addon/%s/: %d %s", ident, rec.Code, rec.Body)
		}
	}
	// Versions are found by number too.
	for _, ident := range []string{"1.1", "v1.1", strconv.FormatInt(s2.Version.ID, 10)} {
		rec = h.do(http.MethodGet, "/api/v5/addons/addon/flow@example.com/versions/"+ident+"/", authA, "", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"version":"1.1"`) {
			t.Errorf("GET versions/%s/: %d %s", ident, rec.Code, rec.Body)
		}
	}
}

// TestNewAddonWithoutID is web-ext's flow for an MV2 add-on without an id:
// POST addon/ generates a guid in braces.
func TestNewAddonWithoutID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	uuid := h.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest("", "1.0")))
	rec := h.do(http.MethodPost, "/api/v5/addons/addon/", authA, "application/json",
		jsonBody(t, map[string]any{"version": map[string]any{"upload": uuid}}))
	var s submitted
	decode(t, rec, &s)
	if rec.Code != http.StatusCreated || len(s.GUID) != 38 || s.GUID[0] != '{' || s.GUID[37] != '}' || s.Version.File.Status != "public" {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Allow"); got != "POST, OPTIONS" {
		t.Errorf("Allow %q", got)
	}
	// The next version, submitted with the generated guid, joins it; a
	// second add-on of the same name gets another slug.
	if s2 := h.submit(authA, s.GUID, "2.0"); s2.ID != s.ID {
		t.Errorf("second version went to add-on %d, want %d", s2.ID, s.ID)
	}
	if s3 := h.submit(authA, "other@example.com", "1.0"); s3.Slug != "test-add-on-2" {
		t.Errorf("second add-on slug %q", s3.Slug)
	}
}

// TestListedSubmission: a listed add-on needs a license, a summary and
// categories, which web-ext sends from --amo-metadata.
func TestListedSubmission(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithReviewDelay(time.Hour))
	uuid := h.upload(authA, "listed", ziptest.Of(t, "manifest.json", manifest("listed@example.com", "1.0")))
	put := func(body map[string]any) *httptest.ResponseRecorder {
		body["version"] = map[string]any{"upload": uuid, "license": "MIT"}
		return h.put(authA, "listed@example.com", body)
	}
	wantResponse(t, h.put(authA, "listed@example.com", map[string]any{"version": map[string]any{"upload": uuid}}),
		http.StatusBadRequest, `{"version":{"license":["This field, or custom_license, is required for listed versions."]}}`)
	wantResponse(t, put(map[string]any{}), http.StatusBadRequest,
		`{"summary":["This field is required for add-ons with listed versions."],"categories":["This field is required for add-ons with listed versions."]}`)
	wantResponse(t, put(map[string]any{"summary": "S", "categories": map[string]any{"firefox": []string{"nope"}}}),
		http.StatusBadRequest, `{"categories":["Invalid category name."]}`)
	rec := put(map[string]any{"summary": map[string]any{"en-US": "A summary"}, "categories": map[string]any{"firefox": []string{"tabs"}},
		"name": "Listed One", "slug": "listed-one"})
	var a struct {
		Status   string              `json:"status"`
		Slug     string              `json:"slug"`
		Name     map[string]string   `json:"name"`
		Summary  map[string]string   `json:"summary"`
		Cats     map[string][]string `json:"categories"`
		Current  *struct{}           `json:"current_version"`
		Unlisted *struct{}           `json:"latest_unlisted_version"`
		Version  struct {
			License struct {
				Slug string `json:"slug"`
			} `json:"license"`
			File struct {
				Status string `json:"status"`
				URL    string `json:"url"`
			} `json:"file"`
		} `json:"version"`
	}
	decode(t, rec, &a)
	if rec.Code != http.StatusCreated || a.Status != "nominated" || a.Slug != "listed-one" || a.Name["en-US"] != "Listed One" ||
		a.Summary["en-US"] != "A summary" || a.Cats["firefox"][0] != "tabs" || a.Current != nil || a.Unlisted != nil ||
		a.Version.License.Slug != "MIT" || a.Version.File.Status != "unreviewed" || !strings.HasSuffix(a.Version.File.URL, "/listed_one-1.0.xpi") {
		t.Fatalf("PUT listed: %d %s", rec.Code, rec.Body)
	}
	h.clock.Advance(time.Hour)
	rec = h.do(http.MethodGet, "/api/v5/addons/addon/listed-one/", authA, "", nil)
	decode(t, rec, &a)
	if a.Status != "public" || a.Current == nil {
		t.Errorf("after review: %s", rec.Body)
	}
	// The next listed version inherits the license.
	uuid2 := h.upload(authA, "listed", ziptest.Of(t, "manifest.json", manifest("listed@example.com", "1.1")))
	rec = h.put(authA, "listed@example.com", map[string]any{"version": map[string]any{"upload": uuid2}})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"slug":"MIT"`) {
		t.Errorf("second listed version: %d %s", rec.Code, rec.Body)
	}
}

// TestReviewDelayAndKnobs: a version is unreviewed until the review delay
// has passed; the knobs fail the caller's next upload or review, once.
func TestReviewDelayAndKnobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithReviewDelay(10*time.Second))
	status := func(s submitted) (string, bool) {
		rec := h.do(http.MethodGet, "/api/v5/addons/addon/"+s.GUID+"/versions/"+strconv.FormatInt(s.Version.ID, 10)+"/", authA, "", nil)
		var v struct {
			Reviewed *string `json:"reviewed"`
			File     struct {
				Status string `json:"status"`
			} `json:"file"`
		}
		decode(t, rec, &v)
		return v.File.Status, v.Reviewed != nil
	}

	first := h.submit(authA, "knobs@example.com", "1.0")
	if st, reviewed := status(first); st != "unreviewed" || reviewed {
		t.Errorf("before the review delay: %s (reviewed %v)", st, reviewed)
	}
	h.clock.Advance(10 * time.Second)
	if st, reviewed := status(first); st != "public" || !reviewed {
		t.Errorf("after the review delay: %s (reviewed %v)", st, reviewed)
	}

	wantResponse(t, h.do(http.MethodPost, "/__mockamo/reject-next-review", authA, "", nil), http.StatusOK,
		`{"reject_next_review":true,"user_id":543210}`)
	rejected := h.submit(authA, "knobs@example.com", "2.0")
	h.clock.Advance(time.Minute)
	if st, reviewed := status(rejected); st != "disabled" || reviewed {
		t.Errorf("rejected review: %s (reviewed %v)", st, reviewed)
	}
	if st, _ := status(h.submit(authA, "knobs@example.com", "3.0")); st != "unreviewed" {
		t.Errorf("the knob must fire once: %s", st)
	}

	// fail-next-upload affects the caller's next upload only.
	wantResponse(t, h.do(http.MethodPost, "/__mockamo/fail-next-upload", authA, "", nil), http.StatusOK,
		`{"fail_next_upload":true,"user_id":543210}`)
	good := ziptest.Of(t, "manifest.json", manifest("knobs@example.com", "4.0"))
	for i, c := range []struct {
		auth      string
		wantValid bool
	}{{authB, true}, {authA, false}, {authA, true}} {
		rec := h.postUpload(c.auth, "unlisted", "a.zip", good)
		var u uploadDetail
		decode(t, rec, &u)
		if u.Valid != c.wantValid || (!c.wantValid && (len(u.codes()) != 1 || u.codes()[0] != "MOCK_AMO_FORCED_FAILURE")) {
			t.Errorf("upload %d: %s, want valid %v", i, rec.Body, c.wantValid)
		}
	}
	rec := h.do(http.MethodGet, "/__mockamo/fail-next-upload", authA, "", nil)
	wantResponse(t, rec, http.StatusMethodNotAllowed, `{"detail":"Method \"GET\" not allowed."}`)
	if got := rec.Header().Get("Allow"); got != "POST" {
		t.Errorf("Allow %q", got)
	}
	wantResponse(t, h.do(http.MethodPost, "/__mockamo/fail-next-upload", "", "", nil), http.StatusUnauthorized,
		`{"detail":"Authentication credentials were not provided."}`)
}

// TestOwnership: an add-on belongs to the user who created it.
func TestOwnership(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := h.submit(authA, "mine@example.com", "1.0")
	forbidden := `{"detail":"You do not have permission to perform this action.","is_disabled_by_developer":false,"is_disabled_by_mozilla":false}`
	uuidB := h.upload(authB, "unlisted", ziptest.Of(t, "manifest.json", manifest("mine@example.com", "2.0")))
	wantResponse(t, h.put(authB, "mine@example.com", map[string]any{"version": map[string]any{"upload": uuidB}}), http.StatusForbidden, forbidden)
	versionPath := "/api/v5/addons/addon/mine@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
	wantResponse(t, h.do(http.MethodGet, versionPath, authB, "", nil), http.StatusForbidden, forbidden)
	wantResponse(t, h.do(http.MethodGet, "/api/v5/addons/addon/mine@example.com/", authB, "", nil), http.StatusForbidden, forbidden)
	ct, body := multipartBody(t, nil, "source", "src.zip", []byte("x"))
	wantResponse(t, h.do(http.MethodPatch, versionPath, authB, ct, body), http.StatusForbidden, forbidden)
	// Files and uploads of others are not found.
	fileURL := strings.TrimPrefix(s.Version.File.URL, "http://amo.test")
	wantResponse(t, h.do(http.MethodGet, fileURL, authB, "", nil), http.StatusNotFound, `{"detail":"Not found."}`)
	uuidA := h.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest("mine@example.com", "3.0")))
	wantResponse(t, h.do(http.MethodGet, "/api/v5/addons/upload/"+uuidA+"/", authB, "", nil), http.StatusNotFound, `{"detail":"Not found."}`)
	// B cannot use A's upload for an add-on of its own either.
	wantResponse(t, h.put(authB, "theirs@example.com", map[string]any{"version": map[string]any{"upload": uuidA}}),
		http.StatusBadRequest, `{"version":{"upload":["Upload is not valid."]}}`)
	// Each user lists only their uploads.
	rec := h.do(http.MethodGet, "/api/v5/addons/upload/", authB, "", nil)
	var list struct {
		Count   int `json:"count"`
		Results []struct {
			UUID string `json:"uuid"`
		} `json:"results"`
	}
	decode(t, rec, &list)
	if rec.Code != http.StatusOK || list.Count != 1 || list.Results[0].UUID != uuidB {
		t.Errorf("B's uploads: %d %s", rec.Code, rec.Body)
	}
}

// TestSourceCode: PATCH with multipart "source" (web-ext
// --upload-source-code) and the source download.
func TestSourceCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithLimits(mockamo.Limits{MaxUploadBytes: 4096}))
	s := h.submit(authA, "src@example.com", "1.0")
	path := "/api/v5/addons/addon/src@example.com/versions/" + strconv.FormatInt(s.Version.ID, 10) + "/"
	src := []byte("PK source archive bytes")
	ct, body := multipartBody(t, map[string]string{"license": "MPL-2.0"}, "source", "sources.tar.gz", src)
	rec := h.do(http.MethodPatch, path, authA, ct, body)
	var v struct {
		Source  *string `json:"source"`
		License struct {
			Slug string `json:"slug"`
		} `json:"license"`
	}
	decode(t, rec, &v)
	wantSource := "http://amo.test/firefox/downloads/source/" + strconv.FormatInt(s.Version.ID, 10)
	if rec.Code != http.StatusOK || v.Source == nil || *v.Source != wantSource || v.License.Slug != "MPL-2.0" {
		t.Fatalf("PATCH source: %d %s", rec.Code, rec.Body)
	}
	rec = h.do(http.MethodGet, strings.TrimPrefix(wantSource, "http://amo.test"), authA, "", nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), src) {
		t.Errorf("source download: %d %q", rec.Code, rec.Body)
	}
	wantResponse(t, h.do(http.MethodGet, strings.TrimPrefix(wantSource, "http://amo.test"), authB, "", nil), http.StatusNotFound, `{"detail":"Not found."}`)

	tests := []struct {
		name       string
		ct         string
		body       []byte
		wantStatus int
		wantBody   string
	}{
		{"source of another type", "", ct2(t, "source", "src.rar", src), http.StatusBadRequest,
			`{"source":["Unsupported file type, please upload an archive file (.zip, .tar.gz, .tgz, .tar.bz2)."]}`},
		{"source too large", "", ct2(t, "source", "src.zip", make([]byte, 5000)), http.StatusRequestEntityTooLarge,
			`{"detail":"Request body too large: the mock AMO accepts at most 4096 bytes."}`},
		{"JSON release notes", "application/json", []byte(`{"release_notes":{"en-US":"Fixed"},"approval_notes":"none"}`), http.StatusOK, ""},
		{"JSON source null", "application/json", []byte(`{"source":null}`), http.StatusOK, ""},
		{"JSON source string", "application/json", []byte(`{"source":"x"}`), http.StatusBadRequest,
			`{"source":["The submitted data was not a file. Check the encoding type on the form."]}`},
		{"text body", "text/plain", []byte("hi"), http.StatusUnsupportedMediaType, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := tt.ct, tt.body
			if ct == "" {
				ct, body = splitCT(tt.body)
			}
			rec := h.do(http.MethodPatch, path, authA, ct, body)
			if tt.wantBody != "" {
				wantResponse(t, rec, tt.wantStatus, tt.wantBody)
			} else if rec.Code != tt.wantStatus {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	rec = h.do(http.MethodGet, path, authA, "", nil)
	if !strings.Contains(rec.Body.String(), `"source":null`) || !strings.Contains(rec.Body.String(), `"release_notes":{"en-US":"Fixed"}`) ||
		!strings.Contains(rec.Body.String(), `"approval_notes":"none"`) {
		t.Errorf("after the edits: %s", rec.Body)
	}
}

// ct2 is a multipart body with one file, prefixed by its Content-Type and
// a newline (see splitCT).
func ct2(t *testing.T, field, name string, data []byte) []byte {
	ct, body := multipartBody(t, nil, field, name, data)
	return append([]byte(ct+"\n"), body...)
}

func splitCT(b []byte) (string, []byte) {
	ct, body, _ := bytes.Cut(b, []byte("\n"))
	return string(ct), body
}

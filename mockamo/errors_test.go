package mockamo_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// TestSubmissionErrors sends each faulty request to a mock where user A
// owns exist@example.com (version 1.0) and has uploads ready, and checks
// AMO's status and body.
func TestSubmissionErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithLimits(mockamo.Limits{MaxUploadBytes: 2048}))
	h.submit(authA, "exist@example.com", "1.0")
	ready := func(id, version string) string {
		return h.upload(authA, "unlisted", ziptest.Of(t, "manifest.json", manifest(id, version)))
	}
	invalid := h.upload(authA, "unlisted", []byte("not a zip"))
	otherUsers := h.upload(authB, "unlisted", ziptest.Of(t, "manifest.json", manifest("b@example.com", "1.0")))
	noUUID := "0123456789abcdef0123456789abcdef"
	version := func(upload any) map[string]any { return map[string]any{"version": map[string]any{"upload": upload}} }

	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		ct         string
		body       string
		wantStatus int
		wantBody   string
	}{
		// POST upload/
		{"upload: not multipart", "POST", "/api/v5/addons/upload/", authA, "application/json", `{}`, 400,
			`["Missing \"upload\" key in multipart file data."]`},
		{"upload: anonymous", "POST", "/api/v5/addons/upload/", "", "", "", 401,
			`{"detail":"Authentication credentials were not provided."}`},
		{"upload: bad signature", "POST", "/api/v5/addons/upload/", authA[:len(authA)-2] + "xx", "", "", 401,
			`{"detail":"Error decoding signature."}`},
		{"upload: bad multipart", "POST", "/api/v5/addons/upload/", authA, "multipart/form-data; boundary=x", "--x\r\nbroken", 400,
			`{"detail":"Multipart form parse error - malformed MIME header: missing colon: \"broken\""}`},
		// GET upload/<uuid>/
		{"upload detail: unknown", "GET", "/api/v5/addons/upload/" + noUUID + "/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"upload detail: not a uuid", "GET", "/api/v5/addons/upload/nope/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"upload detail: no final slash", "GET", "/api/v5/addons/upload/" + noUUID, authA, "", "", 404, `{"detail":"Not found."}`},
		{"upload detail: DELETE", "DELETE", "/api/v5/addons/upload/" + noUUID + "/", authA, "", "", 405,
			`{"detail":"Method \"DELETE\" not allowed."}`},
		{"upload detail: PROPFIND", "PROPFIND", "/api/v5/addons/upload/" + noUUID + "/", authA, "", "", 405,
			`{"detail":"Method \"PROPFIND\" not allowed."}`},
		{"upload detail: anonymous PROPFIND", "PROPFIND", "/api/v5/addons/upload/" + noUUID + "/", "", "", "", 401,
			`{"detail":"Authentication credentials were not provided."}`},
		{"upload detail: OPTIONS", "OPTIONS", "/api/v5/addons/upload/" + noUUID + "/", authA, "", "", 200,
			`{"name":"File Upload Instance","description":"","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}`},
		// POST addon/
		{"create: no version", "POST", "/api/v5/addons/addon/", authA, "application/json", `{}`, 400,
			`{"version":["This field is required."]}`},
		{"create: empty body", "POST", "/api/v5/addons/addon/", authA, "", "", 400, `{"version":["This field is required."]}`},
		{"create: version null", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":null}`, 400,
			`{"version":["This field may not be null."]}`},
		{"create: version a string", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":"x"}`, 400,
			`{"version":{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}}`},
		{"create: no upload", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":{}}`, 400,
			`{"version":{"upload":["This field is required."]}}`},
		{"create: upload null", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":{"upload":null}}`, 400,
			`{"version":{"upload":["This field may not be null."]}}`},
		{"create: upload not a uuid", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":{"upload":"some-invalid-uuid"}}`, 400,
			`{"version":{"upload":["“some-invalid-uuid” is not a valid UUID."]}}`},
		{"create: unknown upload", "POST", "/api/v5/addons/addon/", authA, "application/json", string(jsonBody(t, version(noUUID))), 400,
			`{"version":{"upload":["Object with uuid=` + noUUID + ` does not exist."]}}`},
		{"create: upload a number", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":{"upload":12345}}`, 400,
			`{"version":{"upload":["Object with uuid=12345 does not exist."]}}`},
		{"create: invalid upload", "POST", "/api/v5/addons/addon/", authA, "application/json", string(jsonBody(t, version(invalid))), 400,
			`{"version":{"upload":["Upload is not valid."]}}`},
		{"create: another user's upload", "POST", "/api/v5/addons/addon/", authA, "application/json", string(jsonBody(t, version(otherUsers))), 400,
			`{"version":{"upload":["Upload is not valid."]}}`},
		{"create: duplicate add-on id", "POST", "/api/v5/addons/addon/", authA, "application/json",
			string(jsonBody(t, version(ready("exist@example.com", "2.0")))), 400, `{"version":{"upload":["Duplicate add-on ID found."]}}`},
		{"create: body a list", "POST", "/api/v5/addons/addon/", authA, "application/json", `[1]`, 400,
			`{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"create: not JSON", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"version":`, 400,
			`{"detail":"JSON parse error - unexpected end of JSON input"}`},
		{"create: form body", "POST", "/api/v5/addons/addon/", authA, "application/x-www-form-urlencoded", `version=1`, 415,
			`{"detail":"Unsupported media type \"application/x-www-form-urlencoded\" in request."}`},
		{"create: body too large", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, 413,
			`{"detail":"Request body too large: the mock AMO accepts at most 1048576 bytes."}`},
		{"create: bad categories", "POST", "/api/v5/addons/addon/", authA, "application/json", `{"categories":[],"version":{"upload":null}}`, 400,
			`{"categories":["Expected a dictionary of items but got type \"list\"."],"version":{"upload":["This field may not be null."]}}`},
		{"create: all-digit slug", "POST", "/api/v5/addons/addon/", authA, "application/json",
			string(jsonBody(t, map[string]any{"slug": "123", "version": map[string]any{"upload": ready("", "1.0")}})), 400,
			`{"slug":["This slug cannot be used. Please choose another."]}`},
		{"create: slug taken", "POST", "/api/v5/addons/addon/", authA, "application/json",
			string(jsonBody(t, map[string]any{"slug": "test-add-on", "version": map[string]any{"upload": ready("", "1.0")}})), 400,
			`{"slug":["addon with this slug already exists."]}`},
		{"create: GET", "GET", "/api/v5/addons/addon/", authA, "", "", 405, `{"detail":"Method \"GET\" not allowed."}`},
		// PUT addon/<guid>/
		{"put: guid mismatch", "PUT", "/api/v5/addons/addon/mismatch@example.com/", authA, "application/json",
			string(jsonBody(t, version(ready("new@example.com", "1.0")))), 400,
			`{"version":{"non_field_errors":["GUID mismatch between the URL and manifest."]}}`},
		{"put: no guid in the manifest", "PUT", "/api/v5/addons/addon/noguid@example.com/", authA, "application/json",
			string(jsonBody(t, version(ready("", "1.0")))), 400,
			`{"version":{"non_field_errors":["A GUID must be specified in the manifest."]}}`},
		{"put: not a guid", "PUT", "/api/v5/addons/addon/invalid-guid/", authA, "application/json", `{}`, 404, `{"detail":"Not found."}`},
		{"put: another id in the manifest", "PUT", "/api/v5/addons/addon/exist@example.com/", authA, "application/json",
			string(jsonBody(t, version(ready("else@example.com", "2.0")))), 400,
			`{"version":{"upload":["The add-on ID in your manifest.json (else@example.com) does not match the ID of your add-on on AMO (exist@example.com)"]}}`},
		{"put: no guid in the manifest of a new version", "PUT", "/api/v5/addons/addon/exist@example.com/", authA, "application/json",
			string(jsonBody(t, version(ready("", "2.0")))), 400,
			`{"version":{"non_field_errors":["A GUID must be specified in the manifest."]}}`},
		{"put: existing version", "PUT", "/api/v5/addons/addon/exist@example.com/", authA, "application/json",
			string(jsonBody(t, version(ready("exist@example.com", "1.0")))), 409, `{"version":["Version 1.0 already exists."]}`},
		{"put: listed version of an add-on without metadata", "PUT", "/api/v5/addons/addon/exist@example.com/", authA, "application/json",
			string(jsonBody(t, map[string]any{"version": map[string]any{"license": "MIT",
				"upload": h.upload(authA, "listed", ziptest.Of(t, "manifest.json", manifest("exist@example.com", "5.0")))}})), 400,
			`{"version":{"non_field_errors":["Add-on metadata is required to be set to create a listed version: ['summary', 'categories']."]}}`},
		{"put: metadata only", "PUT", "/api/v5/addons/addon/exist@example.com/", authA, "application/json", `{"summary":"Now with a summary"}`, 200, ""},
		{"put: new add-on without version", "PUT", "/api/v5/addons/addon/fresh@example.com/", authA, "application/json", `{}`, 400,
			`{"version":["This field is required."]}`},
		{"put: another user's add-on", "PUT", "/api/v5/addons/addon/exist@example.com/", authB, "application/json", `{}`, 403,
			`{"detail":"You do not have permission to perform this action.","is_disabled_by_developer":false,"is_disabled_by_mozilla":false}`},
		{"put: PATCH", "PATCH", "/api/v5/addons/addon/exist@example.com/", authA, "application/json", `{}`, 405,
			`{"detail":"Method \"PATCH\" not allowed."}`},
		// versions and files
		{"version: unknown add-on", "GET", "/api/v5/addons/addon/none@example.com/versions/1/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"version: unknown version", "GET", "/api/v5/addons/addon/exist@example.com/versions/99/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"version: unknown number", "GET", "/api/v5/addons/addon/exist@example.com/versions/9.9/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"version: PUT", "PUT", "/api/v5/addons/addon/exist@example.com/versions/1/", authA, "", "", 405, `{"detail":"Method \"PUT\" not allowed."}`},
		{"version: anonymous", "GET", "/api/v5/addons/addon/exist@example.com/versions/1/", "", "", "", 401,
			`{"detail":"Authentication credentials were not provided."}`},
		{"file: unknown", "GET", "/firefox/downloads/file/99/x.xpi", authA, "", "", 404, `{"detail":"Not found."}`},
		{"file: not a number", "GET", "/firefox/downloads/file/x/", authA, "", "", 404, `{"detail":"Not found."}`},
		{"file: anonymous", "GET", "/firefox/downloads/file/1/", "", "", "", 401, `{"detail":"Authentication credentials were not provided."}`},
		{"file: POST", "POST", "/firefox/downloads/file/1/", authA, "", "", 405, `{"detail":"Method \"POST\" not allowed."}`},
		{"source: none", "GET", "/firefox/downloads/source/1", authA, "", "", 404, `{"detail":"Not found."}`},
		{"unknown path", "GET", "/api/v5/addons/nothing/", "", "", "", 404, `{"detail":"Not found."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do(tt.method, tt.path, tt.auth, tt.ct, []byte(tt.body))
			if tt.wantBody == "" {
				if rec.Code != tt.wantStatus {
					t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tt.wantStatus)
				}
				return
			}
			wantResponse(t, rec, tt.wantStatus, tt.wantBody)
		})
	}
}

func TestUploadRequestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithLimits(mockamo.Limits{MaxUploadBytes: 1024}))
	small := ziptest.Of(t, "manifest.json", manifest("", "1.0"))
	tests := []struct {
		name       string
		fields     map[string]string
		fileField  string
		data       []byte
		wantStatus int
		wantBody   string
	}{
		{"no file", map[string]string{"channel": "unlisted"}, "", nil, 400, `["Missing \"upload\" key in multipart file data."]`},
		{"upload as a text field", map[string]string{"channel": "unlisted", "upload": "x"}, "", nil, 400,
			`["Missing \"upload\" key in multipart file data."]`},
		{"file under another name", map[string]string{"channel": "unlisted"}, "file", small, 400,
			`["Missing \"upload\" key in multipart file data."]`},
		{"no channel", nil, "upload", small, 400, `["Missing \"channel\" arg."]`},
		{"unknown channel", map[string]string{"channel": "beta"}, "upload", small, 400, `["Missing \"channel\" arg."]`},
		{"file too large", map[string]string{"channel": "unlisted"}, "upload", make([]byte, 1025), 413,
			`{"detail":"Request body too large: the mock AMO accepts at most 1024 bytes."}`},
		{"field too large", map[string]string{"channel": strings.Repeat("x", 2000)}, "upload", small, 413,
			`{"detail":"Request body too large: the mock AMO accepts at most 1024 bytes."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct, body := multipartBody(t, tt.fields, tt.fileField, "a.zip", tt.data)
			wantResponse(t, h.do(http.MethodPost, "/api/v5/addons/upload/", authA, ct, body), tt.wantStatus, tt.wantBody)
		})
	}
}

// TestWithoutSubmissions: without WithSubmissions the submission paths do
// not exist.
func TestWithoutSubmissions(t *testing.T) {
	t.Parallel()
	h := mockamo.New(newVerifier(t))
	for _, path := range []string{"/api/v5/addons/upload/", "/api/v5/addons/addon/x@y/", "/firefox/downloads/file/1/", "/__mockamo/fail-next-upload"} {
		rec := request(h, http.MethodPost, path, authA)
		wantResponse(t, rec, http.StatusNotFound, `{"detail":"Not found."}`)
	}
}

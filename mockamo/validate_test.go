package mockamo_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// uploadDetail is the part of an upload the validation tests read.
type uploadDetail struct {
	UUID       string  `json:"uuid"`
	Channel    string  `json:"channel"`
	Processed  bool    `json:"processed"`
	Submitted  bool    `json:"submitted"`
	URL        string  `json:"url"`
	Valid      bool    `json:"valid"`
	Version    *string `json:"version"`
	Validation *struct {
		Success  bool `json:"success"`
		Errors   int  `json:"errors"`
		Messages []struct {
			Message      string   `json:"message"`
			Description  string   `json:"description"`
			File         *string  `json:"file"`
			InstancePath *string  `json:"instancePath"`
			UID          string   `json:"uid"`
			Type         string   `json:"type"`
			ID           []string `json:"id"`
			Tier         int      `json:"tier"`
		} `json:"messages"`
		Metadata struct {
			Listed bool    `json:"listed"`
			ID     *string `json:"id"`
		} `json:"metadata"`
		EndingTier int `json:"ending_tier"`
	} `json:"validation"`
}

// codes are the linter codes of the messages.
func (u uploadDetail) codes() []string {
	var out []string
	if u.Validation != nil {
		for _, m := range u.Validation.Messages {
			out = append(out, m.ID...)
		}
	}
	return out
}

// limits are small enough for a test to exceed them cheaply.
var testLimits = mockamo.Limits{MaxUploadBytes: 1 << 20, MaxEntries: 8, MaxUncompressedBytes: 64 << 10, MaxManifestBytes: 4 << 10}

func TestUploadValidation(t *testing.T) {
	t.Parallel()
	bss := manifest("good@example.com", "1.0")
	tests := []struct {
		name        string
		filename    string
		data        []byte
		wantCodes   []string // nil: valid
		wantMessage string   // in the first message, when wantCodes is set
		wantVersion string   // when valid
	}{
		{"MV2 with browser_specific_settings id", "a.zip", ziptest.Of(t, "manifest.json", bss, "bg.js", "1"), nil, "", "1.0"},
		{"MV2 with applications id", "a.xpi", ziptest.Of(t, "manifest.json",
			`{"manifest_version":2,"name":"Apps","version":"2.0.1","applications":{"gecko":{"id":"apps@example.com"}}}`), nil, "", "2.0.1"},
		{"MV2 without id", "a.zip", ziptest.Of(t, "manifest.json", manifest("", "3")), nil, "", "3"},
		{"MV3 with UUID id", "a.zip", ziptest.Of(t, "manifest.json",
			`{"manifest_version":3,"name":"Three","version":"1.2.3.4","browser_specific_settings":{"gecko":{"id":"{12345678-1234-1234-1234-123456789abc}"}}}`), nil, "", "1.2.3.4"},
		{"BOM and line comments", "a.zip", ziptest.Of(t, "manifest.json", "\ufeff// header\n"+`{"manifest_version":2, // two`+"\n"+`"name":"Com // not a comment","version":"1.0"}`), nil, "", "1.0"},
		{"MV3 without id", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":3,"name":"Three","version":"1.0"}`),
			[]string{"ADDON_ID_REQUIRED"}, "The add-on ID is required in Manifest Version 3 and above.", ""},
		{"not a zip", "a.zip", []byte("this is not a zip file"), []string{"BAD_ZIPFILE"}, "Corrupt ZIP file", ""},
		{"empty file", "a.zip", nil, []string{"BAD_ZIPFILE"}, "Corrupt ZIP file", ""},
		{"unsupported extension", "a.txt", ziptest.Of(t, "manifest.json", bss), []string{"UNSUPPORTED_FILE_TYPE"},
			"Unsupported file type, please upload a supported file (.crx, .xpi, .zip).", ""},
		{"no manifest", "a.zip", ziptest.Of(t, "bg.js", "1"), []string{"TYPE_NO_MANIFEST_JSON"}, "manifest.json was not found", ""},
		{"manifest in a directory", "a.zip", ziptest.Of(t, "ext/manifest.json", bss), []string{"TYPE_NO_MANIFEST_JSON"}, "manifest.json was not found", ""},
		{"invalid JSON", "a.zip", ziptest.Of(t, "manifest.json", `{"name": "x",}`), []string{"JSON_INVALID"}, "Your JSON is not valid.", ""},
		{"two JSON values", "a.zip", ziptest.Of(t, "manifest.json", `{} {}`), []string{"JSON_INVALID"}, "Your JSON is not valid.", ""},
		{"block comment", "a.zip", ziptest.Of(t, "manifest.json", `{/* c */"name":"xx"}`), []string{"JSON_BLOCK_COMMENTS"}, "Your JSON contains block comments.", ""},
		{"duplicate key", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":2,"name":"aa","name":"bb","version":"1"}`),
			[]string{"JSON_DUPLICATE_KEY"}, "Duplicate keys are not allowed in JSON files.", ""},
		{"not an object", "a.zip", ziptest.Of(t, "manifest.json", `[1,2]`), []string{"MANIFEST_FIELD_INVALID"}, `"/" must be object`, ""},
		{"missing name and version", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":2}`),
			[]string{"MANIFEST_FIELD_REQUIRED", "MANIFEST_FIELD_REQUIRED"}, `"/" must have required property 'name'`, ""},
		{"version with letters", "a.zip", ziptest.Of(t, "manifest.json", manifest("v@example.com", "1.0 beta")),
			[]string{"VERSION_FORMAT_INVALID"}, "The version string should be simplified.", ""},
		{"version with leading zero", "a.zip", ziptest.Of(t, "manifest.json", manifest("v@example.com", "1.01")),
			[]string{"VERSION_FORMAT_INVALID"}, "The version string should be simplified.", ""},
		{"version with five parts", "a.zip", ziptest.Of(t, "manifest.json", manifest("v@example.com", "1.2.3.4.5")),
			[]string{"VERSION_FORMAT_INVALID"}, "The version string should be simplified.", ""},
		{"version a number", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":2,"name":"Num","version":1}`),
			[]string{"MANIFEST_FIELD_INVALID"}, `"/version" must be string`, ""},
		{"invalid id", "a.zip", ziptest.Of(t, "manifest.json", manifest("invalid-id", "1.0")),
			[]string{"JSON_INVALID", "JSON_INVALID", "JSON_INVALID"}, `"/browser_specific_settings/gecko/id" must match pattern`, ""},
		{"short name", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":2,"name":"n","version":"1.0"}`),
			[]string{"JSON_INVALID", "PROP_NAME_INVALID"}, `"/name" must NOT have fewer than 2 characters`, ""},
		{"manifest_version 4", "a.zip", ziptest.Of(t, "manifest.json", `{"manifest_version":4,"name":"Four","version":"1.0"}`),
			[]string{"MANIFEST_FIELD_INVALID"}, `"/manifest_version" must be 2 or 3`, ""},
		{"absolute entry name", "a.zip", ziptest.Of(t, "manifest.json", bss, "/etc/passwd", "x"), []string{"INVALID_FILE_NAME"}, "Invalid file name in archive: /etc/passwd", ""},
		{"dot-dot entry name", "a.zip", ziptest.Of(t, "manifest.json", bss, "a/../../x", "x"), []string{"INVALID_FILE_NAME"}, "Invalid file name in archive: a/../../x", ""},
		{"too many entries", "a.zip", ziptest.Of(t, manyEntries(testLimits.MaxEntries+1, bss)...), []string{"ZIP_LIMIT_EXCEEDED"}, "The archive has more than 8 entries.", ""},
		{"zip bomb", "a.zip", ziptest.Of(t, "manifest.json", bss, "zeros", strings.Repeat("\x00", 1<<20)),
			[]string{"ZIP_LIMIT_EXCEEDED"}, "The archive decompresses to more than 65536 bytes.", ""},
		{"zip bomb that lies about its size", "a.zip", lyingZip(t, bss, 1<<20), []string{"BAD_ZIPFILE"}, "Corrupt ZIP file", ""},
		{"huge manifest", "a.zip", ziptest.Of(t, "manifest.json", bss+strings.Repeat(" ", 8<<10)),
			[]string{"ZIP_LIMIT_EXCEEDED"}, "manifest.json is larger than 4096 bytes.", ""},
	}
	h := newHarness(t, mockamo.WithLimits(testLimits))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := h.postUpload(authA, "unlisted", tt.filename, tt.data)
			if rec.Code != http.StatusCreated {
				t.Fatalf("POST: %d %s", rec.Code, rec.Body)
			}
			var created uploadDetail
			decode(t, rec, &created)
			rec = h.do(http.MethodGet, "/api/v5/addons/upload/"+created.UUID+"/", authA, "", nil)
			var u uploadDetail
			decode(t, rec, &u)
			if rec.Code != http.StatusOK || !u.Processed || u.Validation == nil || u.Submitted || u.Channel != "unlisted" ||
				u.URL != "http://amo.test/api/v5/addons/upload/"+created.UUID+"/" {
				t.Fatalf("GET: %d %s", rec.Code, rec.Body)
			}
			if tt.wantCodes == nil {
				if !u.Valid || !u.Validation.Success || len(u.Validation.Messages) != 0 || u.Version == nil || *u.Version != tt.wantVersion {
					t.Errorf("want valid version %s, got %s", tt.wantVersion, rec.Body)
				}
				return
			}
			if u.Valid || u.Validation.Success || u.Version != nil || u.Validation.Errors != len(tt.wantCodes) ||
				!slices.Equal(u.codes(), tt.wantCodes) {
				t.Fatalf("want invalid with %v, got %s", tt.wantCodes, rec.Body)
			}
			m := u.Validation.Messages[0]
			if !strings.HasPrefix(m.Message, tt.wantMessage) || m.Type != "error" || m.Tier != 1 || len(m.UID) != 32 || m.Description == "" {
				t.Errorf("first message %+v, want %q", m, tt.wantMessage)
			}
		})
	}
}

// manyEntries is n entries: manifest.json and empty files.
func manyEntries(n int, manifestJSON string) []string {
	pairs := []string{"manifest.json", manifestJSON}
	for i := 1; i < n; i++ {
		pairs = append(pairs, "f"+strconv.Itoa(i), "")
	}
	return pairs
}

// lyingZip is a zip whose entry "zeros" declares 10 bytes but inflates to
// size bytes.
func lyingZip(t *testing.T, manifestJSON string, size int) []byte {
	t.Helper()
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, size)
	_, _ = fw.Write(zeros)
	_ = fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("manifest.json")
	_, _ = w.Write([]byte(manifestJSON))
	raw, err := zw.CreateRaw(&zip.FileHeader{Name: "zeros", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(zeros),
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write(deflated.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUploadMetadataAndChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.postUpload(authA, "listed", "a.zip", ziptest.Of(t, "manifest.json", manifest("meta@example.com", "1.0")))
	var u uploadDetail
	decode(t, rec, &u)
	if rec.Code != http.StatusCreated || u.Channel != "listed" || !u.Valid || !u.Validation.Metadata.Listed ||
		u.Validation.Metadata.ID == nil || *u.Validation.Metadata.ID != "meta@example.com" || u.Validation.EndingTier != 5 {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

// TestProcessingDelay: the validation result shows only once the
// processing delay has passed; until then web-ext keeps polling.
func TestProcessingDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mockamo.WithProcessingDelay(3e9))
	rec := h.postUpload(authA, "unlisted", "a.zip", ziptest.Of(t, "manifest.json", manifest("slow@example.com", "1.0")))
	var u uploadDetail
	decode(t, rec, &u)
	body := `{"uuid":"` + u.UUID + `","channel":"unlisted","processed":false,"submitted":false,` +
		`"url":"http://amo.test/api/v5/addons/upload/` + u.UUID + `/","valid":false,"validation":null,"version":null}`
	wantResponse(t, rec, http.StatusCreated, body)
	h.clock.Advance(2999e6)
	wantResponse(t, h.do(http.MethodGet, "/api/v5/addons/upload/"+u.UUID+"/", authA, "", nil), http.StatusOK, body)
	if rec := h.put(authA, "slow@example.com", map[string]any{"version": map[string]any{"upload": u.UUID}}); rec.Code != http.StatusBadRequest ||
		rec.Body.String() != `{"version":{"upload":["Upload is not valid."]}}` {
		t.Errorf("submitting an unprocessed upload: %d %s", rec.Code, rec.Body)
	}
	h.clock.Advance(1e6)
	rec = h.do(http.MethodGet, "/api/v5/addons/upload/"+u.UUID+"/", authA, "", nil)
	decode(t, rec, &u)
	if !u.Processed || !u.Valid || u.Version == nil || *u.Version != "1.0" {
		t.Errorf("after the delay: %s", rec.Body)
	}
}

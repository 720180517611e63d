package drf_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/amojwt/amojwt/internal/drf"
)

func TestWriteDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		detail string
		want   string
	}{
		{name: "DRF 405", detail: `Method "POST" not allowed.`, want: `{"detail":"Method \"POST\" not allowed."}`},
		{name: "backslash", detail: `a\b`, want: `{"detail":"a\\b"}`},
		{name: "short escapes", detail: "\n\r\t\b\f", want: `{"detail":"\n\r\t\b\f"}`},
		{name: "other control characters", detail: "\x00\x1f", want: `{"detail":"\u0000\u001f"}`},
		{name: "DEL and HTML characters as is", detail: "\x7f<>&'", want: "{\"detail\":\"\x7f<>&'\"}"},
		{name: "non-ASCII as UTF-8", detail: "Krstić €", want: `{"detail":"Krstić €"}`},
		{name: "line and paragraph separators", detail: "a\u2028b\u2029c", want: `{"detail":"a\u2028b\u2029c"}`},
		{name: "invalid UTF-8", detail: "a\xffb", want: "{\"detail\":\"a\uFFFDb\"}"},
		{name: "empty", detail: "", want: `{"detail":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			drf.WriteDetail(rec, http.StatusNotFound, tt.detail)
			if rec.Code != http.StatusNotFound {
				t.Errorf("status %d, want 404", rec.Code)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body %s, want %s", got, tt.want)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}

// FuzzWriteDetail checks that every body is one JSON object whose detail
// reads back as the input, and that it matches encoding/json's spelling
// without HTML escaping (the spelling of Python's json.dumps with
// ensure_ascii=False plus DRF's U+2028/U+2029 escapes).
func FuzzWriteDetail(f *testing.F) {
	for _, s := range []string{"", "Signature has expired.", `"\`, "\x00\u2028é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, detail string) {
		rec := httptest.NewRecorder()
		drf.WriteDetail(rec, http.StatusUnauthorized, detail)
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 {
			t.Fatalf("body %q is not {\"detail\": string}: %v", rec.Body.Bytes(), err)
		}
		if !utf8.ValidString(detail) {
			return
		}
		if got["detail"] != detail {
			t.Errorf("detail reads back as %q, want %q", got["detail"], detail)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]string{"detail": detail}); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String() + "\n"; got != want.String() {
			t.Errorf("body %q, encoding/json writes %q", got, want.String())
		}
	})
}

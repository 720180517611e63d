package vectors

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSubstitute(t *testing.T) {
	t.Parallel()
	s := &Suite{Now: time.Unix(1700000000, 0)}
	tests := []struct {
		name, in, want string
		keep           []string
		wantErr        bool
	}{
		{name: "now", in: `{"iat":{{now}}}`, want: `{"iat":1700000000}`},
		{name: "offsets and fraction", in: `{{now+5}}.5 {{now-4}} "{{now+300}}"`, want: `1700000005.5 1699999996 "1700000300"`},
		{name: "repeat", in: `"{{repeat:ab:3}}"`, want: `"ababab"`},
		{name: "repeat text with colons", in: `{{repeat:{"a"::2}}`, want: `{"a":{"a":`},
		{name: "kept placeholder", in: "JWT {{token}}", keep: []string{"{{token}}"}, want: "JWT {{token}}"},
		{name: "unknown placeholder", in: "{{nwo}}", wantErr: true},
		{name: "token where not kept", in: "{{token}}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.substitute(tt.in, tt.keep...)
			if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
				t.Errorf("substitute(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAltSpelling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		bytes   int
		wantErr bool
	}{
		{"one byte: four unused bits", 1, false},
		{"two bytes: two unused bits", 2, false},
		{"HMAC-SHA256", 32, false},
		{"three bytes: no unused bits", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := make([]byte, tt.bytes)
			for i := range raw {
				raw[i] = byte(0xA5 + i)
			}
			seg := base64.RawURLEncoding.EncodeToString(raw)
			alt, err := altSpelling(seg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("altSpelling(%q) = %q, want an error", seg, alt)
				}
				return
			}
			if err != nil || alt == seg {
				t.Fatalf("altSpelling(%q) = %q, %v; want another spelling", seg, alt, err)
			}
			// Go's RawURLEncoding is strict about unused bits; a lenient
			// decoder (Python's) masks them, as the non-strict mode does.
			if _, err := base64.RawURLEncoding.Strict().DecodeString(alt); err == nil {
				t.Errorf("strict decoding accepted %q: its unused bits are not set", alt)
			}
			got, err := base64.RawURLEncoding.DecodeString(alt)
			if err != nil || string(got) != string(raw) {
				t.Errorf("lenient decoding of %q = %x, %v; want %x", alt, got, err, raw)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	const head = `{"now":1700000000,"default_key":"k","keys":[{"key":"k","secret":"s","user_id":1}],"vectors":[`
	tests := []struct {
		name, vector, wantErr string
	}{
		{"unknown field", `{"name":"a","spec":"§3","claims":"{}","expect":{"status":200},"expct":1}`, "unknown field"},
		{"no spec", `{"name":"a","claims":"{}","expect":{"status":200}}`, `"spec"`},
		{"no expectation", `{"name":"a","spec":"§3","claims":"{}"}`, `"expect"`},
		{"401 without detail", `{"name":"a","spec":"§3","claims":"{}","expect":{"status":401,"reason":"expired"}}`, "detail"},
		{"503 with another reason", `{"name":"a","spec":"§7","claims":"{}","expect":{"status":503,"reason":"expired","detail":"x"}}`, "does not go"},
		{"unknown key", `{"name":"a","spec":"§3","key":"nope","claims":"{}","expect":{"status":200}}`, "nope"},
		{"unknown claims placeholder", `{"name":"a","spec":"§3","claims":"{{now+}}","expect":{"status":200}}`, "placeholder"},
		{"unknown template placeholder", `{"name":"a","spec":"§3","claims":"{}","template":"{{sig}}","expect":{"status":200}}`, "placeholder"},
		{"wrong token length", `{"name":"a","spec":"§6","claims":"{}","token_length":3,"expect":{"status":200}}`, "token_length"},
		{"authorization outside http_only", `{"name":"a","spec":"§2","claims":"{}","authorization":[],"expect":{"status":200}}`, "http_only"},
		{"duplicate name", `{"name":"a","spec":"§3","claims":"{}","expect":{"status":200}},{"name":"a","spec":"§3","claims":"{}","expect":{"status":200}}`, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "v.json")
			if err := os.WriteFile(path, []byte(head+tt.vector+"]}"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadVectorsFiles(t *testing.T) {
	t.Parallel()
	suites, err := LoadAll("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != len(Files) {
		t.Fatalf("%d suites, want one per file of %q", len(suites), Files)
	}
	for _, s := range suites {
		if len(s.Cases) < 60 {
			t.Errorf("%s: %d vectors, want at least 60", s.File, len(s.Cases))
		}
		for _, c := range s.Cases {
			if !strings.HasPrefix(c.Spec, "§") {
				t.Errorf("%s: %s: spec %q does not cite a SPEC section", s.File, c.Name, c.Spec)
			}
		}
	}
}

func TestTemplateRepeat(t *testing.T) {
	t.Parallel()
	const doc = `{"now":1700000000,"default_key":"k","keys":[{"key":"k","secret":"s","user_id":1}],"vectors":[
		{"name":"dots","spec":"§6","claims":"{}","template":"{{repeat:.:5}}{{header}}","expect":{"status":200}}]}`
	path := filepath.Join(t.TempDir(), "v.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "....." + base64.RawURLEncoding.EncodeToString([]byte(DefaultHeader))
	if got := s.Cases[0].Uses[0].Token; got != want || s.File != "v.json" {
		t.Errorf("token %q in file %q, want %q in v.json", got, s.File, want)
	}
}

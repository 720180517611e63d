package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
	"github.com/amojwt/amojwt/mockamo/internal/xpi"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

var (
	alice = sim.Author{ID: 1, Name: "Alice", Username: "alice"}
	bob   = sim.Author{ID: 2, Name: "Bob", Username: "bob"}
)

// open returns an in-memory state with a stopped clock and quota.
func open(t *testing.T, quota sim.Quota) *sim.State {
	t.Helper()
	s, err := sim.Open(sim.Config{
		Archive: xpi.Limits{MaxEntries: 16, MaxUncompressedBytes: 1 << 20, MaxManifestBytes: 1 << 16},
		Quota:   quota,
		Now:     func() time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addon uploads a valid add-on with this guid and version for author and
// returns the upload's uuid.
func upload(t *testing.T, s *sim.State, author sim.Author, guid, version string) string {
	t.Helper()
	manifest := `{"manifest_version":2,"name":"Sim","version":"` + version +
		`","browser_specific_settings":{"gecko":{"id":"` + guid + `"}}}`
	u, err := s.AddUpload(author.ID, sim.ChannelUnlisted, &sim.UploadFile{Name: "a.zip", Data: ziptest.Of(t, "manifest.json", manifest)})
	if err != nil || !u.Valid() {
		t.Fatalf("upload: %v %+v", err, u)
	}
	return u.UUID
}

// versionRequest is the body of a PUT that creates a version from uuid.
func versionRequest(uuid string) *sim.AddonRequest {
	return sim.DecodeAddonRequest(map[string]json.RawMessage{"version": json.RawMessage(`{"upload":"` + uuid + `"}`)})
}

// TestErrors: each refusal of the State is a value callers tell apart
// with errors.Is or errors.As.
func TestErrors(t *testing.T) {
	t.Parallel()
	s := open(t, sim.Quota{PerUser: 1 << 20, Total: 1 << 21})
	if _, _, _, err := s.PutAddon(alice, "mine@example.com", versionRequest(upload(t, s, alice, "mine@example.com", "1.0"))); err != nil {
		t.Fatal(err)
	}
	bobs := upload(t, s, bob, "theirs@example.com", "1.0")
	tests := []struct {
		name string
		call func() error
		want func(error) bool
	}{
		{"a key without user id uploads", func() error {
			_, err := s.AddUpload(0, sim.ChannelUnlisted, &sim.UploadFile{Name: "a.zip"})
			return err
		}, is(sim.ErrNoUser)},
		{"a key without user id lists uploads", func() error { _, err := s.Uploads(0); return err }, is(sim.ErrNoUser)},
		{"a key without user id reads an add-on", func() error { _, err := s.Addon(0, "mine@example.com"); return err }, is(sim.ErrNoUser)},
		{"a key without user id creates an add-on", func() error {
			_, _, err := s.CreateAddon(sim.Author{}, versionRequest(bobs))
			return err
		}, is(sim.ErrNoUser)},
		{"a key without user id downloads", func() error { _, err := s.OpenFile(0, 1); return err }, is(sim.ErrNoUser)},
		{"no file", func() error { _, err := s.AddUpload(1, sim.ChannelUnlisted, nil); return err },
			messages(`Missing "upload" key in multipart file data.`)},
		{"unknown channel", func() error { _, err := s.AddUpload(1, "beta", &sim.UploadFile{Name: "a.zip"}); return err },
			messages(`Missing "channel" arg.`)},
		{"another user's upload", func() error { _, err := s.Upload(1, bobs); return err }, is(sim.ErrNotFound)},
		{"another user's add-on", func() error { _, err := s.Addon(2, "mine@example.com"); return err }, is(sim.ErrForbidden)},
		{"another user's add-on, PUT", func() error { return s.CheckPut(2, "mine@example.com") }, is(sim.ErrForbidden)},
		{"unknown add-on", func() error { _, err := s.Addon(1, "none@example.com"); return err }, is(sim.ErrNotFound)},
		{"unknown version", func() error { _, _, err := s.Version(1, "mine@example.com", "9.9"); return err }, is(sim.ErrNotFound)},
		{"another user's file", func() error { _, err := s.OpenFile(2, 1); return err }, is(sim.ErrNotFound)},
		{"another user's upload in a version", func() error {
			_, _, _, err := s.PutAddon(alice, "mine@example.com", versionRequest(bobs))
			return err
		}, fields(`[{version [] [{upload [Upload is not valid.] []}]}]`)},
		{"a version number used", func() error {
			_, _, _, err := s.PutAddon(alice, "mine@example.com", versionRequest(upload(t, s, alice, "mine@example.com", "1.0")))
			return err
		}, conflict(`[{version [Version 1.0 already exists.] []}]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !tt.want(err) {
				t.Errorf("error %v (%T)", err, err)
			}
		})
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func messages(want ...string) func(error) bool {
	return func(err error) bool {
		var v *sim.ValidationError
		return errors.As(err, &v) && slices.Equal(v.Messages(), want) && v.Fields() == nil
	}
}

// fields matches a *sim.ValidationError whose field errors print as want.
func fields(want string) func(error) bool {
	return func(err error) bool {
		var v *sim.ValidationError
		return errors.As(err, &v) && v.Messages() == nil && sprint(v.Fields()) == want
	}
}

func conflict(want string) func(error) bool {
	return func(err error) bool {
		var c *sim.ConflictError
		return errors.As(err, &c) && sprint(c.Fields()) == want
	}
}

func sprint(f sim.FieldErrors) string { return fmt.Sprint(f) }

// TestQuota: a change that would pass the per-user or the total quota is
// a *sim.QuotaError saying which, and changes nothing.
func TestQuota(t *testing.T) {
	t.Parallel()
	data := ziptest.Of(t, "manifest.json", `{"manifest_version":2,"name":"Sim","version":"1.0"}`)
	// What one upload takes: its file and its record (the JSON of the
	// Upload), the same for each upload of data.
	probe, err := open(t, sim.Quota{PerUser: 1 << 20, Total: 1 << 20}).AddUpload(1, sim.ChannelUnlisted, &sim.UploadFile{Name: "a.zip", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	record, _ := json.Marshal(probe)
	one := int64(len(data) + len(record))
	tests := []struct {
		name        string
		quota       sim.Quota
		uploads     []int64 // by user id: the last one is refused
		wantPerUser bool
	}{
		{"per user", sim.Quota{PerUser: 2 * one, Total: 10 * one}, []int64{1, 1, 2, 2, 1}, true},
		{"in all", sim.Quota{PerUser: 2 * one, Total: 3 * one}, []int64{1, 2, 3, 4}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, tt.quota)
			last := len(tt.uploads) - 1
			for i, user := range tt.uploads {
				_, err := s.AddUpload(user, sim.ChannelUnlisted, &sim.UploadFile{Name: "a.zip", Data: data})
				var q *sim.QuotaError
				switch {
				case i < last && err != nil:
					t.Fatalf("upload %d: %v", i, err)
				case i == last && (!errors.As(err, &q) || q.PerUser() != tt.wantPerUser):
					t.Fatalf("upload %d: %v, want a quota error (per user %v)", i, err, tt.wantPerUser)
				case i == last && q.Limit() != map[bool]int64{true: tt.quota.PerUser, false: tt.quota.Total}[tt.wantPerUser]:
					t.Errorf("limit %d", q.Limit())
				}
			}
			mine, err := s.Uploads(tt.uploads[last])
			if want := countOf(tt.uploads[:last], tt.uploads[last]); err != nil || len(mine) != want {
				t.Errorf("after the refusal the user has %d uploads (%v), want %d", len(mine), err, want)
			}
		})
	}
}

func countOf(ids []int64, id int64) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// TestErrorsAreImmutable: changing what an error's accessors return does
// not change the error.
func TestErrorsAreImmutable(t *testing.T) {
	t.Parallel()
	s := open(t, sim.Quota{PerUser: 1 << 20, Total: 1 << 20})
	_, _, err := s.CreateAddon(alice, sim.DecodeAddonRequest(map[string]json.RawMessage{}))
	var v *sim.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error %v", err)
	}
	f := v.Fields()
	f[0].Field, f[0].Messages[0] = "changed", "changed"
	if got := fmt.Sprint(v.Fields()); got != "[{version [This field is required.] []}]" {
		t.Errorf("after changing a copy: %s", got)
	}
	_, err = s.AddUpload(1, "", nil)
	if !errors.As(err, &v) {
		t.Fatalf("error %v", err)
	}
	v.Messages()[0] = "changed"
	if got := v.Messages(); got[0] != `Missing "upload" key in multipart file data.` {
		t.Errorf("after changing a copy: %v", got)
	}
}

package integration

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/testtool"
)

// webExtBin is the web-ext that `npm ci` installs from package.json.
const webExtBin = "node_modules/.bin/web-ext"

// webExtTimeout bounds one `web-ext sign` run. Against the mock, with no
// processing or review delay, a run takes a few seconds.
const webExtTimeout = 90 * time.Second

// requireWebExt skips the test (or, under CI, fails it) unless node (20 or
// later) and integration/node_modules/.bin/web-ext are present.
func requireWebExt(t *testing.T) {
	t.Helper()
	var missing []testtool.Missing
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, testtool.Missing{What: "node", Get: getNode})
	}
	if _, err := os.Stat(webExtBin); err != nil {
		missing = append(missing, testtool.Missing{What: "integration/" + webExtBin, Get: getModules})
	}
	testtool.Skip(t, missing...)
}

// webExtUser is one account of a keys file, with its API key.
type webExtUser struct {
	issuer, secret string
	id             int64
}

// writeUsersKeys writes a keys file with one key per user, each user
// having read the developer agreement, and returns its path.
func writeUsersKeys(t *testing.T, users ...webExtUser) string {
	t.Helper()
	var keys []any
	for _, u := range users {
		keys = append(keys, map[string]any{"key": u.issuer, "secret": u.secret,
			"user": map[string]any{"id": u.id, "read_dev_agreement": "2024-01-01T00:00:00Z"}})
	}
	data, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeExtension writes a tiny extension (manifest.json and a background
// script) to a new directory and returns it.
func writeExtension(t *testing.T, manifest string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"manifest.json": manifest, "background.js": "console.log('amojwt');\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// webExtSign runs `web-ext sign --channel unlisted` for the extension in
// srcDir against the mock AMO at base, with user's key (secret replaced
// when secret is not ""), saving into artifacts. It returns web-ext's
// output and whether it succeeded.
func webExtSign(t *testing.T, base string, user webExtUser, srcDir, artifacts string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), webExtTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, webExtBin, "sign", "--no-config-discovery",
		"--source-dir", srcDir, "--artifacts-dir", artifacts,
		"--amo-base-url", base+"/api/v5/",
		"--api-key", user.issuer, "--api-secret", user.secret,
		"--channel", "unlisted", "--timeout", "30000")
	// No update check (it would reach the npm registry and leave a
	// process behind), no config files from the home directory.
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "HOME="+t.TempDir())
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("web-ext sign did not finish within %v:\n%s", webExtTimeout, out.String())
	}
	return out.String(), err == nil
}

// TestWebExtSign runs the real `web-ext sign` (npm web-ext) against
// `amojwt serve --mock-amo`: it signs, and the file it downloads is the
// upload; a wrong secret, an invalid manifest and another user's add-on
// fail with AMO's messages.
func TestWebExtSign(t *testing.T) {
	requireWebExt(t)
	alice := webExtUser{issuer: "user:543210:23", secret: randomHex(t, 32), id: 543210}
	bob := webExtUser{issuer: "user:777:1", secret: randomHex(t, 32), id: 777}
	dataDir := t.TempDir()
	base := startServe(t, buildAmojwt(t), "--keys", writeUsersKeys(t, alice, bob), "--mock-amo", "--data-dir", dataDir)
	const guid = "webext-e2e@amojwt.example"

	t.Run("signs and downloads the upload", func(t *testing.T) {
		src := writeExtension(t, `{"manifest_version":2,"name":"amojwt e2e","version":"1.0",`+
			`"browser_specific_settings":{"gecko":{"id":"`+guid+`"}}}`)
		artifacts := t.TempDir()
		out, ok := webExtSign(t, base, alice, src, artifacts)
		if !ok || !strings.Contains(out, "Signed xpi downloaded") {
			t.Fatalf("web-ext sign failed:\n%s", out)
		}
		downloaded, err := os.ReadFile(filepath.Join(artifacts, "amojwt_e2e-1.0.xpi"))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// The mock keeps the upload in --data-dir: the download is it,
		// byte for byte (the mock never signs).
		uploads, err := filepath.Glob(filepath.Join(dataDir, "uploads", "*"))
		if err != nil || len(uploads) != 1 {
			t.Fatalf("uploads in the data directory: %v %v", uploads, err)
		}
		uploaded, err := os.ReadFile(uploads[0])
		if err != nil || !bytes.Equal(downloaded, uploaded) {
			t.Fatalf("downloaded %d bytes, uploaded %d (%v): they differ", len(downloaded), len(uploaded), err)
		}
		// And the upload is web-ext's build of the extension directory.
		zr, err := zip.NewReader(bytes.NewReader(downloaded), int64(len(downloaded)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			want, err := os.ReadFile(filepath.Join(src, f.Name))
			rc, oerr := f.Open()
			if err != nil || oerr != nil {
				t.Fatalf("%s: %v %v", f.Name, err, oerr)
			}
			var got bytes.Buffer
			_, _ = got.ReadFrom(rc)
			rc.Close()
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s in the download differs from the source", f.Name)
			}
		}
		if len(zr.File) != 2 {
			t.Errorf("download has %d entries, want manifest.json and background.js", len(zr.File))
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		src := writeExtension(t, `{"manifest_version":2,"name":"amojwt e2e","version":"1.0",`+
			`"browser_specific_settings":{"gecko":{"id":"secret@amojwt.example"}}}`)
		wrong := alice
		wrong.secret = randomHex(t, 32)
		out, ok := webExtSign(t, base, wrong, src, t.TempDir())
		if ok || !strings.Contains(out, "Upload failed: Unauthorized") || !strings.Contains(out, `"detail": "Error decoding signature."`) {
			t.Errorf("want a refusal with AMO's message, got (success %v):\n%s", ok, out)
		}
	})

	t.Run("invalid manifest", func(t *testing.T) {
		// web-ext checks only that name and version exist; the mock's
		// validation refuses the version string, as AMO's linter does.
		src := writeExtension(t, `{"manifest_version":2,"name":"amojwt e2e","version":"1.0 beta",`+
			`"browser_specific_settings":{"gecko":{"id":"invalid@amojwt.example"}}}`)
		out, ok := webExtSign(t, base, alice, src, t.TempDir())
		if ok || !strings.Contains(out, "Validation failed:") || !strings.Contains(out, "The version string should be simplified.") ||
			!strings.Contains(out, "VERSION_FORMAT_INVALID") {
			t.Errorf("want a validation failure with its messages, got (success %v):\n%s", ok, out)
		}
	})

	t.Run("another user's add-on", func(t *testing.T) {
		src := writeExtension(t, `{"manifest_version":2,"name":"amojwt e2e","version":"2.0",`+
			`"browser_specific_settings":{"gecko":{"id":"`+guid+`"}}}`)
		out, ok := webExtSign(t, base, bob, src, t.TempDir())
		if ok || !strings.Contains(out, "Forbidden") ||
			!strings.Contains(out, `"detail": "You do not have permission to perform this action."`) {
			t.Errorf("want 403, got (success %v):\n%s", ok, out)
		}
	})
}

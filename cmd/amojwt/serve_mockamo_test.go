package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeMockAMOFlags: the --mock-amo flags and their environment
// variables reach the configuration, and check refuses the knobs without
// --mock-amo.
func TestServeMockAMOFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring of the parse or check error; "" for none
	}{
		{name: "flags", args: []string{"--demo", "--mock-amo", "--data-dir", "d", "--mock-amo-processing-delay", "2s", "--mock-amo-review-delay", "1m"}},
		{name: "environment", env: map[string]string{"AMOJWT_DEMO": "1", "AMOJWT_MOCK_AMO": "true", "AMOJWT_DATA_DIR": "d",
			"AMOJWT_MOCK_AMO_PROCESSING_DELAY": "2s", "AMOJWT_MOCK_AMO_REVIEW_DELAY": "1m"}},
		{name: "data dir with --redis, without --mock-amo", args: []string{"--demo", "--redis", "redis://127.0.0.1:1", "--data-dir", "d"}, wantErr: "needs --mock-amo"},
		{name: "review delay without --mock-amo", args: []string{"--demo", "--mock-amo-review-delay", "1s"}, wantErr: "need --mock-amo"},
		{name: "negative delay", args: []string{"--demo", "--mock-amo", "--mock-amo-processing-delay", "-1s"}, wantErr: "must not be negative"},
		{name: "with --upstream", args: []string{"--demo", "--mock-amo", "--upstream", "http://127.0.0.1:1"}, wantErr: "give one of them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var got *serveConfig
			cmd := newServeCommand(func(_ context.Context, c *serveConfig) error {
				got = c
				return c.check()
			})
			err := cmd.ParseAndRun(context.Background(), tt.args)
			if tt.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want a usage error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.mockAMO || got.dataDir != "d" || got.processingDelay != 2*time.Second || got.reviewDelay != time.Minute {
				t.Errorf("config %+v", *got)
			}
		})
	}
}

// TestServeMockAMO: with --mock-amo the server takes uploads and keeps
// them in --data-dir; without it the submission API does not exist.
func TestServeMockAMO(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "amo")
	s := startServer(t, "--demo", "--mock-amo", "--data-dir", dir)
	plain := startServer(t, "--demo")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("channel", "unlisted")
	part, _ := mw.CreateFormFile("upload", "a.zip")
	_, _ = part.Write([]byte("not a zip"))
	_ = mw.Close()
	post := func(base string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, base+"/api/v5/addons/upload/", bytes.NewReader(body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "JWT "+token(t, ""))
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := post(s.url); status != http.StatusCreated || !strings.Contains(b, `"processed":true,"submitted":false`) ||
		!strings.Contains(b, `"valid":false`) || !strings.Contains(b, "Corrupt ZIP file") {
		t.Errorf("--mock-amo upload: %d %s", status, b)
	}
	if status, b := post(plain.url); status != http.StatusNotFound || b != `{"detail":"Not found."}` {
		t.Errorf("upload without --mock-amo: %d %s", status, b)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// One record per upload, kept in the data directory.
	records, err := filepath.Glob(filepath.Join(dir, "state", "uploads", "*.json"))
	if err != nil || len(records) != 1 {
		t.Fatalf("upload records: %v %v", records, err)
	}
	record, err := os.ReadFile(records[0])
	if err != nil || !strings.Contains(string(record), `"user_id":543210`) {
		t.Errorf("upload record: %v\n%s", err, record)
	}
}

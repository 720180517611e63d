package mockamo_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/verifier"
)

// Submit an add-on the way `web-ext sign` does, in-process: upload the
// file, create the add-on with PUT, read the version, download the file.
// The downloaded file is the upload itself: the mock never signs.
func ExampleNewSubmissions() {
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: "user:543210:23",
		Secret: verifier.Secret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		Active: true,
		User:   &verifier.User{ID: 543210, Username: "demo", ReadDevAgreement: &agreed},
	})
	if err != nil {
		panic(err)
	}
	// The verifier's clock is stopped when the example's token was signed.
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	if err != nil {
		panic(err)
	}
	subs, err := mockamo.NewSubmissions() // in memory; WithDataDir keeps it on disk
	if err != nil {
		panic(err)
	}
	amo := mockamo.New(v, mockamo.WithSubmissions(subs))
	// {"iss":"user:543210:23","iat":1700000000,"exp":1700000060}, no jti as web-ext.
	auth := "JWT " + tokDemoNoJTI
	send := func(method, path, contentType string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		amo.ServeHTTP(rec, req)
		return rec
	}

	// The add-on: a zip with a manifest.json.
	var xpi bytes.Buffer
	zw := zip.NewWriter(&xpi)
	f, _ := zw.Create("manifest.json")
	_, _ = f.Write([]byte(`{"manifest_version":2,"name":"My Add-on","version":"1.0","browser_specific_settings":{"gecko":{"id":"my@example.com"}}}`))
	_ = zw.Close()

	// 1. POST addons/upload/ with multipart "upload" and "channel".
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("channel", "unlisted")
	part, _ := mw.CreateFormFile("upload", "my-add-on.zip")
	_, _ = part.Write(xpi.Bytes())
	_ = mw.Close()
	rec := send(http.MethodPost, "/api/v5/addons/upload/", mw.FormDataContentType(), form.Bytes())
	var upload struct {
		UUID      string `json:"uuid"`
		Processed bool   `json:"processed"`
		Valid     bool   `json:"valid"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &upload)
	fmt.Println("upload:", rec.Code, "processed", upload.Processed, "valid", upload.Valid)

	// 2. PUT addons/addon/<guid>/ with the upload's uuid.
	rec = send(http.MethodPut, "/api/v5/addons/addon/my@example.com/", "application/json",
		[]byte(`{"version":{"upload":"`+upload.UUID+`"}}`))
	var created struct {
		GUID    string `json:"guid"`
		Version struct {
			Version string `json:"version"`
			File    struct {
				Status string `json:"status"`
				URL    string `json:"url"`
			} `json:"file"`
		} `json:"version"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	fmt.Println("add-on:", rec.Code, created.GUID, created.Version.Version, created.Version.File.Status)
	fmt.Println("file:", created.Version.File.URL)

	// 3. Download the file.
	rec = send(http.MethodGet, strings.TrimPrefix(created.Version.File.URL, "http://127.0.0.1:8080"), "", nil)
	fmt.Println("download:", rec.Code, "same bytes as the upload:", bytes.Equal(rec.Body.Bytes(), xpi.Bytes()))
	fmt.Println(mockamo.NotSignedHeader+":", rec.Header().Get(mockamo.NotSignedHeader))
	// Output:
	// upload: 201 processed true valid true
	// add-on: 201 my@example.com 1.0 public
	// file: http://127.0.0.1:8080/firefox/downloads/file/1/my_add_on-1.0.xpi
	// download: 200 same bytes as the upload: true
	// X-Amojwt-Not-Signed: this is the uploaded file, unchanged: amojwt's mock AMO does not sign add-ons
}

package mockamo

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"github.com/amojwt/amojwt/mockamo/internal/quote"
	"github.com/amojwt/amojwt/mockamo/internal/sim"
)

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// multipartOverhead is what a multipart body may add to its file: the
// other fields, boundaries and part headers.
const multipartOverhead = 1 << 20

// maxFormField bounds a non-file multipart field (channel, license).
const maxFormField = 1 << 10

// errPartTooLarge marks a multipart part over its limit.
var errPartTooLarge = errors.New("mockamo: multipart part too large")

// readJSONObject reads a JSON request body of at most maxJSONBody bytes
// as DRF's JSONParser would: an error for a Content-Type other than JSON
// (415: the mock parses only JSON where AMO would also take forms), a
// body too large (413), DRF's parse error (400), or a body that is not
// an object (a *sim.ValidationError). An empty body is an empty object.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooLargeErr *http.MaxBytesError
	switch {
	case errors.As(err, &tooLargeErr):
		return nil, tooLarge(maxJSONBody)
	case err != nil:
		return nil, &requestError{status: http.StatusBadRequest, detail: "JSON parse error - " + quote.Input(err.Error())}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, &requestError{status: http.StatusUnsupportedMediaType, detail: `Unsupported media type "` + quote.Input(ct) + `" in request.`}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &requestError{status: http.StatusBadRequest, detail: "JSON parse error - " + quote.Input(err.Error())}
	}
	return sim.DecodeObject(raw)
}

// isMultipart reports whether r's body is multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// readMultipart reads a multipart/form-data body of at most limit bytes
// per file: each file field (the last one of a name wins, as in Django's
// request.FILES) and each short text field. A body that is not multipart
// has neither (Django's request.FILES is empty). The error is a 413 or
// DRF's 400 parse error.
func readMultipart(w http.ResponseWriter, r *http.Request, limit int64) (map[string]sim.UploadFile, map[string]string, error) {
	files, fields := map[string]sim.UploadFile{}, map[string]string{}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return files, fields, nil
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return files, fields, nil
		}
		if err == nil {
			err = readPart(part, limit, files, fields)
		}
		var tooLargeErr *http.MaxBytesError
		switch {
		case errors.As(err, &tooLargeErr) || errors.Is(err, errPartTooLarge):
			return nil, nil, tooLarge(limit)
		case err != nil:
			return nil, nil, &requestError{status: http.StatusBadRequest,
				detail: "Multipart form parse error - " + quote.Input(err.Error())}
		}
	}
}

func readPart(part *multipart.Part, limit int64, files map[string]sim.UploadFile, fields map[string]string) error {
	defer part.Close()
	name := part.FormName()
	if part.FileName() == "" {
		data, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return err
		}
		if len(data) > maxFormField {
			return errPartTooLarge
		}
		fields[name] = string(data)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errPartTooLarge
	}
	files[name] = sim.UploadFile{Name: path.Base(strings.ReplaceAll(part.FileName(), `\`, "/")), Data: data}
	return nil
}

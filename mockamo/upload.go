package mockamo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// multipartOverhead is what a multipart body may add to its file: the
// other fields, boundaries and part headers.
const multipartOverhead = 1 << 20

// maxFormField bounds a non-file multipart field (channel, license).
const maxFormField = 1 << 10

// Texts of AMO's FileUploadViewSet.create, sent as DRF sends a
// ValidationError raised with a string: a JSON list.
const (
	msgMissingUpload  = `Missing "upload" key in multipart file data.`
	msgMissingChannel = `Missing "channel" arg.`
)

// multipartFile is a file field of a multipart body.
type multipartFile struct {
	name string
	data []byte
}

// readMultipart reads a multipart/form-data body of at most limit bytes
// per file: each file field (the last one of a name wins, as in Django's
// request.FILES) and each short text field. It answers the request itself
// (413, or DRF's 400 parse error) and returns false when it cannot.
func readMultipart(w http.ResponseWriter, r *http.Request, limit int64) (files map[string]multipartFile, fields map[string]string, ok bool) {
	files, fields = map[string]multipartFile{}, map[string]string{}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		// Not multipart: Django's request.FILES is empty.
		return files, fields, true
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return files, fields, true
		}
		if err == nil {
			err = readPart(part, limit, files, fields)
		}
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge) || errors.Is(err, errTooLarge):
			writeTooLarge(w, limit)
			return nil, nil, false
		case err != nil:
			middleware.WriteDetail(w, http.StatusBadRequest, "Multipart form parse error - "+err.Error())
			return nil, nil, false
		}
	}
}

func readPart(part *multipart.Part, limit int64, files map[string]multipartFile, fields map[string]string) error {
	defer part.Close()
	name := part.FormName()
	if part.FileName() == "" {
		data, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return err
		}
		if len(data) > maxFormField {
			return errTooLarge
		}
		fields[name] = string(data)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errTooLarge
	}
	files[name] = multipartFile{name: path.Base(strings.ReplaceAll(part.FileName(), `\`, "/")), data: data}
	return nil
}

// createUpload is POST /api/v5/addons/upload/: multipart "upload" (the
// add-on file) and "channel" (listed or unlisted). It answers 201 with the
// upload; validation runs at once, and its result shows once the
// processing delay has passed.
func (a *api) createUpload(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	files, fields, ok := readMultipart(w, r, a.s.lim.MaxUploadBytes)
	if !ok {
		return
	}
	f, hasUpload := files["upload"]
	channel := fields["channel"]
	switch {
	case !hasUpload:
		writeJSONStatus(w, http.StatusBadRequest, "", []string{msgMissingUpload})
		return
	case channel != channelListed && channel != channelUnlisted:
		writeJSONStatus(w, http.StatusBadRequest, "", []string{msgMissingChannel})
		return
	}
	u, err := a.s.addUpload(p.UserID, channel, f)
	if err != nil {
		serverError(w)
		return
	}
	a.s.mu.Lock()
	body := renderUpload(u, a.prof.base(r), a.s.now())
	a.s.mu.Unlock()
	writeJSONStatus(w, http.StatusCreated, "", body)
}

// addUpload validates and stores an upload of the user with this id.
func (s *Submissions) addUpload(userID int64, channel string, f multipartFile) (*upload, error) {
	s.mu.Lock()
	forced := s.failUpload[userID]
	delete(s.failUpload, userID)
	s.mu.Unlock()

	var v *validation
	var info *manifestInfo
	if forced {
		c := &checker{newUID: newUUIDHex}
		c.fail(codeForcedFailure, "The mock AMO was asked to fail this upload.",
			"amojwt's mock AMO fails the next upload of a user after POST /__mockamo/fail-next-upload; nothing is wrong with the add-on.", "", "")
		v = &validation{Errors: 1, Messages: c.messages, EndingTier: validationEndingTier,
			Metadata: validationMetadata{Listed: channel == channelListed, IsWebextension: true, Type: typeExtension}}
	} else {
		v, info = validateUpload(f.data, f.name, channel == channelListed, s.lim, newUUIDHex)
	}
	sum := sha256.Sum256(f.data)
	u := &upload{
		UUID:       newUUIDHex(),
		UserID:     userID,
		Channel:    channel,
		Filename:   f.name,
		Size:       int64(len(f.data)),
		SHA256:     hex.EncodeToString(sum[:]),
		Validation: v,
		Manifest:   info,
	}
	if err := s.blobs.put(uploadKey(u.UUID), f.data); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.Created = s.now()
	u.ProcessedAt = u.Created.Add(s.processingDelay)
	s.st.Uploads[u.UUID] = u
	if err := s.persist(); err != nil {
		return nil, err
	}
	return u, nil
}

// getUpload is GET /api/v5/addons/upload/<uuid>/: the caller's upload, or
// 404 (also for another user's upload, as AMO filters by user).
func (a *api) getUpload(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	u := a.s.st.Uploads[normalizeUUID(param(r, "uuid"))]
	if u == nil || u.UserID != p.UserID {
		notFoundDetail(w)
		return
	}
	writeJSONStatus(w, http.StatusOK, "", renderUpload(u, a.prof.base(r), a.s.now()))
}

// uploadList is DRF's paginated list; the mock returns one page.
type uploadList struct {
	Count    int          `json:"count"`
	Next     *string      `json:"next"`
	Previous *string      `json:"previous"`
	Results  []uploadBody `json:"results"`
}

// listUploads is GET /api/v5/addons/upload/: the caller's uploads, newest
// first, all on one page.
func (a *api) listUploads(w http.ResponseWriter, r *http.Request, p *verifier.Principal) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	var mine []*upload
	for _, u := range a.s.st.Uploads {
		if u.UserID == p.UserID {
			mine = append(mine, u)
		}
	}
	slices.SortFunc(mine, func(x, y *upload) int {
		if c := y.Created.Compare(x.Created); c != 0 {
			return c
		}
		return strings.Compare(x.UUID, y.UUID)
	})
	list := uploadList{Count: len(mine), Results: make([]uploadBody, 0, len(mine))}
	now, base := a.s.now(), a.prof.base(r)
	for _, u := range mine {
		list.Results = append(list.Results, renderUpload(u, base, now))
	}
	writeJSONStatus(w, http.StatusOK, "", list)
}

// normalizeUUID returns s as 32 lower-case hex digits when it is a UUID
// in one of the spellings Python's uuid.UUID accepts (hex, with dashes,
// braces or a urn:uuid: prefix), else "".
func normalizeUUID(s string) string {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "urn:uuid:")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	s = strings.ReplaceAll(s, "-", "")
	if !isUUIDHex(s) {
		return ""
	}
	return s
}

// isUUIDHex reports whether s is 32 lower-case hex digits.
func isUUIDHex(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// dashedUUID spells 32 hex digits with dashes, as a guid in braces uses.
func dashedUUID(h string) string {
	var b bytes.Buffer
	for i, part := range []int{8, 4, 4, 4, 12} {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(h[:part])
		h = h[part:]
	}
	return b.String()
}

package mockamo

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode"
)

// Limits bound what one uploaded file may cost the server, so that a
// hostile archive (a zip bomb, millions of entries) is answered with a
// validation error instead of exhausting memory or CPU. A zero field takes
// its default.
type Limits struct {
	// MaxUploadBytes is the largest upload or source file accepted, in
	// bytes; a larger request body is refused with 413. Default 64 MiB
	// (AMO accepts 200 MB; a mock holds uploads in memory).
	MaxUploadBytes int64
	// MaxEntries is the largest number of entries (files and
	// directories) in an archive, counted in its central directory
	// before anything is allocated per entry. Default 4096.
	MaxEntries int
	// MaxUncompressedBytes bounds the bytes all entries decompress to,
	// counted while decompressing (sizes declared in the archive are not
	// trusted). Default 256 MiB.
	MaxUncompressedBytes int64
	// MaxManifestBytes bounds manifest.json once decompressed. Default
	// 1 MiB.
	MaxManifestBytes int64
}

// Default limits; see Limits.
const (
	DefaultMaxUploadBytes       = 64 << 20
	DefaultMaxEntries           = 4096
	DefaultMaxUncompressedBytes = 256 << 20
	DefaultMaxManifestBytes     = 1 << 20
)

// withDefaults returns l with zero fields replaced by the defaults, or an
// error for a negative field.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxUploadBytes < 0 || l.MaxEntries < 0 || l.MaxUncompressedBytes < 0 || l.MaxManifestBytes < 0 {
		return l, fmt.Errorf("mockamo: negative limit in %+v", l)
	}
	if l.MaxUploadBytes == 0 {
		l.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxUncompressedBytes == 0 {
		l.MaxUncompressedBytes = DefaultMaxUncompressedBytes
	}
	if l.MaxManifestBytes == 0 {
		l.MaxManifestBytes = DefaultMaxManifestBytes
	}
	return l, nil
}

// message is one entry of validation.messages, in the shape AMO gives
// addons-linter's findings (devhub fix_addons_linter_output): the linter's
// message, description, file and instancePath, then uid, type ("error"),
// id ([linter code]) and tier 1.
type message struct {
	Message      string   `json:"message"`
	Description  string   `json:"description"`
	File         *string  `json:"file"`
	InstancePath *string  `json:"instancePath,omitempty"`
	UID          string   `json:"uid"`
	Type         string   `json:"type"`
	ID           []string `json:"id"`
	Tier         int      `json:"tier"`
}

// validation is the "validation" object of an upload: AMO's summary of an
// addons-linter run. The mock reports errors only (no warnings or notices).
type validation struct {
	Success              bool               `json:"success"`
	CompatibilitySummary validationCounts   `json:"compatibility_summary"`
	Notices              int                `json:"notices"`
	Warnings             int                `json:"warnings"`
	Errors               int                `json:"errors"`
	Messages             []message          `json:"messages"`
	Metadata             validationMetadata `json:"metadata"`
	EndingTier           int                `json:"ending_tier"`
}

type validationCounts struct {
	Warnings int `json:"warnings"`
	Errors   int `json:"errors"`
	Notices  int `json:"notices"`
}

// validationMetadata is AMO's metadata (listed, identified_files,
// is_webextension) merged with the linter's (what it read from the
// manifest).
type validationMetadata struct {
	Listed               bool     `json:"listed"`
	IdentifiedFiles      struct{} `json:"identified_files"`
	IsWebextension       bool     `json:"is_webextension"`
	ID                   *string  `json:"id,omitempty"`
	ManifestVersion      *int     `json:"manifestVersion,omitempty"`
	Name                 *string  `json:"name,omitempty"`
	Type                 int      `json:"type"`
	Version              *string  `json:"version,omitempty"`
	TotalScannedFileSize int64    `json:"totalScannedFileSize"`
}

// manifestInfo is what a valid upload's manifest.json contributes to an
// add-on and its version.
type manifestInfo struct {
	GUID             string `json:"guid,omitempty"` // "" when the manifest has none
	Name             string `json:"name"`
	Version          string `json:"version"`
	ManifestVersion  int    `json:"manifest_version"`
	Description      string `json:"description,omitempty"`
	StrictMinVersion string `json:"strict_min_version,omitempty"`
}

// checker collects the findings of one validation.
type checker struct {
	newUID   func() string
	messages []message
}

// fail records an error finding. file is "" for a finding about the
// archive as a whole; instancePath is "" when the linter sends none.
func (c *checker) fail(code, msg, description, file, instancePath string) {
	m := message{Message: msg, Description: description, UID: c.newUID(), Type: "error", ID: []string{code}, Tier: 1}
	if file != "" {
		m.File = &file
	}
	if instancePath != "" || code == codeFieldRequired || code == codeFieldInvalid {
		m.InstancePath = &instancePath
	}
	c.messages = append(c.messages, m)
}

// addons-linter codes, with the linter's texts where the mock reports the
// same finding; the archive limits and the forced failure are the mock's.
const (
	codeUnsupported      = "UNSUPPORTED_FILE_TYPE"
	codeBadZip           = "BAD_ZIPFILE"
	codeZipLimit         = "ZIP_LIMIT_EXCEEDED"
	codeBadEntryName     = "INVALID_FILE_NAME"
	codeNoManifest       = "TYPE_NO_MANIFEST_JSON"
	codeJSONInvalid      = "JSON_INVALID"
	codeBlockComments    = "JSON_BLOCK_COMMENTS"
	codeDuplicateKey     = "JSON_DUPLICATE_KEY"
	codeFieldRequired    = "MANIFEST_FIELD_REQUIRED"
	codeFieldInvalid     = "MANIFEST_FIELD_INVALID"
	codeNameInvalid      = "PROP_NAME_INVALID"
	codeVersionInvalid   = "VERSION_FORMAT_INVALID"
	codeIDRequired       = "ADDON_ID_REQUIRED"
	codeForcedFailure    = "MOCK_AMO_FORCED_FAILURE"
	manifestFile         = "manifest.json"
	descMDNManifest      = "See https://mzl.la/1ZOhoEN (MDN Docs) for more information."
	descJSONNotParsed    = "Your JSON file could not be parsed."
	supportedExtensions  = ".crx, .xpi, .zip"
	maxGUIDLength        = 255
	defaultCompatMinMV2  = "42.0"
	defaultCompatMinMV3  = "109.0"
	typeExtension        = 1
	validationEndingTier = 5
)

// versionPattern is AMO's simplified version string: 1 to 4 numbers
// separated by dots, each up to 9 digits without leading zeros.
var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}$`)

// The two forms of a valid add-on ID (addons-linter's schema).
var (
	guidUUIDPattern  = regexp.MustCompile(`^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$`)
	guidEmailPattern = regexp.MustCompile(`^[a-zA-Z0-9-._]*@[a-zA-Z0-9-._]+$`)
)

// validateUpload checks an uploaded file as AMO's validation would, within
// lim: a .zip/.xpi/.crx name, a readable archive within the limits, and a
// manifest.json whose name, version, manifest_version and add-on ID are
// valid. It returns the validation object and, when it has no errors, the
// manifest's data.
func validateUpload(data []byte, filename string, listed bool, lim Limits, newUID func() string) (*validation, *manifestInfo) {
	c := &checker{newUID: newUID}
	v := &validation{
		CompatibilitySummary: validationCounts{},
		Metadata:             validationMetadata{Listed: listed, IsWebextension: true, Type: typeExtension},
		EndingTier:           validationEndingTier,
	}
	info := c.checkFile(data, filename, lim, &v.Metadata)
	v.Messages = c.messages
	if v.Messages == nil {
		v.Messages = []message{}
	}
	v.Errors = len(v.Messages)
	v.Success = v.Errors == 0
	if !v.Success {
		return v, nil
	}
	return v, info
}

// checkFile runs the checks in order; the first failure of the archive
// stops them, manifest findings are collected together.
func (c *checker) checkFile(data []byte, filename string, lim Limits, meta *validationMetadata) *manifestInfo {
	switch strings.ToLower(path.Ext(filename)) {
	case ".zip", ".xpi", ".crx":
	default:
		c.fail(codeUnsupported, "Unsupported file type, please upload a supported file ("+supportedExtensions+").",
			"Add-ons are uploaded as a ZIP archive with the extension "+supportedExtensions+".", "", "")
		return nil
	}
	manifest, scanned, ok := c.readArchive(data, lim)
	meta.TotalScannedFileSize = scanned
	if !ok {
		return nil
	}
	return c.checkManifest(manifest, meta)
}

// readArchive opens data as a zip archive within lim, decompresses every
// entry (which verifies its checksum) and returns manifest.json's bytes and
// the number of bytes decompressed.
func (c *checker) readArchive(data []byte, lim Limits) (manifest []byte, scanned int64, ok bool) {
	badZip := func() {
		c.fail(codeBadZip, "Corrupt ZIP file", "We were unable to decompress the zip file.", "", "")
	}
	// Counting entries before archive/zip allocates one File per entry:
	// a central directory of tiny headers would cost far more memory
	// than the upload's size.
	if n, found := countCentralDirectory(data, lim.MaxEntries); found && n > lim.MaxEntries {
		c.fail(codeZipLimit, fmt.Sprintf("The archive has more than %d entries.", lim.MaxEntries),
			"amojwt's mock AMO refuses archives with more entries than its limit.", "", "")
		return nil, 0, false
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) > lim.MaxEntries {
		badZip()
		return nil, 0, false
	}
	budget := lim.MaxUncompressedBytes
	found := false
	for _, f := range zr.File {
		if !validEntryName(f.Name) {
			c.fail(codeBadEntryName, "Invalid file name in archive: "+f.Name,
				"Archive entries must be relative paths inside the add-on.", "", "")
			return nil, scanned, false
		}
		isManifest := f.Name == manifestFile
		limit := budget
		manifestBound := isManifest && lim.MaxManifestBytes < budget
		if manifestBound {
			limit = lim.MaxManifestBytes
		}
		body, n, err := readEntry(f, limit, isManifest)
		scanned += n
		budget -= n
		switch {
		case errors.Is(err, errEntryTooLarge) && manifestBound:
			c.fail(codeZipLimit, fmt.Sprintf("manifest.json is larger than %d bytes.", lim.MaxManifestBytes),
				"amojwt's mock AMO refuses a manifest.json larger than its limit.", manifestFile, "")
			return nil, scanned, false
		case errors.Is(err, errEntryTooLarge):
			c.fail(codeZipLimit, fmt.Sprintf("The archive decompresses to more than %d bytes.", lim.MaxUncompressedBytes),
				"amojwt's mock AMO stops decompressing at its limit (a zip bomb, or an add-on too large for the mock).", "", "")
			return nil, scanned, false
		case err != nil:
			badZip()
			return nil, scanned, false
		}
		if isManifest {
			manifest, found = body, true
		}
	}
	if !found {
		c.fail(codeNoManifest, "manifest.json was not found",
			"No manifest.json was found at the root of the extension. The package file must be a ZIP of the extension's files themselves, not of the containing directory. See: https://mzl.la/2r2McKv for more on packaging.", "", "")
		return nil, scanned, false
	}
	return manifest, scanned, true
}

var errEntryTooLarge = errors.New("mockamo: archive entry over the limit")

// readEntry decompresses f, reading at most limit bytes, and returns its
// contents when keep is set, with the number of bytes read.
func readEntry(f *zip.File, limit int64, keep bool) ([]byte, int64, error) {
	if f.FileInfo().IsDir() {
		return nil, 0, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	var sink bytes.Buffer
	var w io.Writer = io.Discard
	if keep {
		w = &sink
	}
	n, err := io.Copy(w, io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, n, err
	}
	if n > limit {
		return nil, n, errEntryTooLarge
	}
	return sink.Bytes(), n, nil
}

// validEntryName reports whether name is a relative path without ".."
// segments (AMO's SafeZip refuses the others).
func validEntryName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

// Zip record signatures and sizes (APPNOTE.TXT 4.3).
const (
	sigCentralHeader  = 0x02014b50
	sigEnd            = 0x06054b50
	sigEnd64          = 0x06064b50
	sigEnd64Locator   = 0x07064b50
	lenEnd            = 22
	lenEnd64Locator   = 20
	lenEnd64          = 56
	lenCentralHeader  = 46
	maxArchiveComment = 0xffff
)

// countCentralDirectory counts the central directory headers of the zip
// archive in data the way archive/zip walks them (from the directory
// offset, header after header, also where the archive has data prepended),
// stopping once the count exceeds limit. found is false when data has no
// end-of-directory record (archive/zip then refuses it anyway).
func countCentralDirectory(data []byte, limit int) (n int, found bool) {
	start := max(0, len(data)-(lenEnd+maxArchiveComment))
	end := bytes.LastIndex(data[start:], binary.LittleEndian.AppendUint32(nil, sigEnd))
	if end < 0 {
		return 0, false
	}
	end += start
	if end+lenEnd > len(data) {
		return 0, false
	}
	rec := data[end:]
	records := binary.LittleEndian.Uint16(rec[10:])
	dirSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(rec[16:]))
	// Like archive/zip, read the zip64 record only when the end record
	// says its fields overflowed.
	zip64 := records == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff
	if loc := end - lenEnd64Locator; zip64 && loc >= 0 && binary.LittleEndian.Uint32(data[loc:]) == sigEnd64Locator {
		off := binary.LittleEndian.Uint64(data[loc+8:])
		if len(data) >= lenEnd64 && off <= uint64(len(data)-lenEnd64) && binary.LittleEndian.Uint32(data[off:]) == sigEnd64 {
			dirSize = binary.LittleEndian.Uint64(data[off+40:])
			dirOffset = binary.LittleEndian.Uint64(data[off+48:])
		}
	}
	// archive/zip's baseOffset: data prepended to the archive shifts the
	// directory to just before the end record.
	pos := dirOffset
	if !isCentralHeader(data, pos) && dirSize <= uint64(end) && isCentralHeader(data, uint64(end)-dirSize) {
		pos = uint64(end) - dirSize
	}
	for isCentralHeader(data, pos) {
		n++
		if n > limit {
			return n, true
		}
		h := data[pos:]
		pos += lenCentralHeader + uint64(binary.LittleEndian.Uint16(h[28:])) +
			uint64(binary.LittleEndian.Uint16(h[30:])) + uint64(binary.LittleEndian.Uint16(h[32:]))
	}
	return n, true
}

func isCentralHeader(data []byte, pos uint64) bool {
	return pos <= uint64(len(data)) && uint64(len(data))-pos >= lenCentralHeader &&
		binary.LittleEndian.Uint32(data[pos:]) == sigCentralHeader
}

// checkManifest parses manifest.json as Firefox does (a byte order mark
// and // line comments allowed) and checks the keys AMO needs.
func (c *checker) checkManifest(raw []byte, meta *validationMetadata) *manifestInfo {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	stripped, blockComment := stripLineComments(raw)
	if blockComment {
		c.fail(codeBlockComments, "Your JSON contains block comments.",
			`Only line comments (comments beginning with "//") are allowed in JSON files. Please remove block comments (comments beginning with "/*")`, "", "")
		return nil
	}
	if key, dup := duplicateKey(stripped); dup {
		c.fail(codeDuplicateKey, "Duplicate keys are not allowed in JSON files.",
			"Duplicate key: "+key+" found in JSON", manifestFile, "")
		return nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		desc := "Unexpected data after the JSON value."
		if err != nil {
			desc = err.Error()
		}
		c.fail(codeJSONInvalid, "Your JSON is not valid.", desc, manifestFile, "")
		return nil
	}
	m, isObject := doc.(map[string]any)
	if !isObject {
		c.fail(codeFieldInvalid, `"/" must be object`, descMDNManifest, manifestFile, "")
		return nil
	}
	info := &manifestInfo{}
	for _, key := range []string{"manifest_version", "name", "version"} {
		if _, ok := m[key]; !ok {
			c.fail(codeFieldRequired, `"/" must have required property '`+key+`'`, descMDNManifest, manifestFile, "")
		}
	}
	c.checkManifestVersion(m, info, meta)
	c.checkName(m, info, meta)
	c.checkVersion(m, info, meta)
	c.checkGUID(m, info, meta)
	if d, ok := m["description"].(string); ok {
		info.Description = d
	}
	if len(c.messages) > 0 {
		return nil
	}
	return info
}

func (c *checker) checkManifestVersion(m map[string]any, info *manifestInfo, meta *validationMetadata) {
	raw, ok := m["manifest_version"]
	if !ok {
		return
	}
	n, isNum := raw.(json.Number)
	if v, err := n.Int64(); isNum && err == nil && (v == 2 || v == 3) {
		info.ManifestVersion = int(v)
		meta.ManifestVersion = &info.ManifestVersion
		return
	}
	c.fail(codeFieldInvalid, `"/manifest_version" must be 2 or 3`, descMDNManifest, manifestFile, "/manifest_version")
}

func (c *checker) checkName(m map[string]any, info *manifestInfo, meta *validationMetadata) {
	raw, ok := m["name"]
	if !ok {
		return
	}
	name, isString := raw.(string)
	if !isString {
		c.fail(codeFieldInvalid, `"/name" must be string`, descMDNManifest, manifestFile, "/name")
		return
	}
	meta.Name = &name
	if len([]rune(name)) < 2 {
		c.fail(codeJSONInvalid, `"/name" must NOT have fewer than 2 characters`, descJSONNotParsed, "", "/name")
	}
	if name == "" || strings.TrimFunc(name, unicode.IsSpace) != name || len([]rune(name)) < 2 {
		c.fail(codeNameInvalid, `The "name" property must be a string with no leading/trailing whitespaces.`,
			"See http://mzl.la/1STmr48 (MDN Docs) for more information.", manifestFile, "")
		return
	}
	info.Name = name
}

func (c *checker) checkVersion(m map[string]any, info *manifestInfo, meta *validationMetadata) {
	raw, ok := m["version"]
	if !ok {
		return
	}
	version, isString := raw.(string)
	if !isString {
		c.fail(codeFieldInvalid, `"/version" must be string`, descMDNManifest, manifestFile, "/version")
		return
	}
	meta.Version = &version
	if !versionPattern.MatchString(version) {
		c.fail(codeVersionInvalid, "The version string should be simplified.",
			"The version should be a string with 1 to 4 numbers separated with dots. Each number should have up to 9 digits and leading zeros are not allowed. Letters are no longer allowed. See https://mzl.la/3h3mCRu (MDN Docs) for more information.",
			manifestFile, "")
		return
	}
	info.Version = version
}

// checkGUID reads the add-on ID from browser_specific_settings.gecko.id,
// or from the MV2 applications.gecko.id when browser_specific_settings has
// no gecko key (Firefox's and web-ext's precedence).
func (c *checker) checkGUID(m map[string]any, info *manifestInfo, meta *validationMetadata) {
	var gecko map[string]any
	pointer := ""
	for _, key := range []string{"browser_specific_settings", "applications"} {
		if settings, ok := m[key].(map[string]any); ok {
			if g, ok := settings["gecko"].(map[string]any); ok {
				gecko, pointer = g, "/"+key+"/gecko/id"
				break
			}
		}
	}
	if gecko != nil {
		if s, ok := gecko["strict_min_version"].(string); ok {
			info.StrictMinVersion = s
		}
		if raw, ok := gecko["id"]; ok {
			id, isString := raw.(string)
			if !isString || len(id) > maxGUIDLength || !(guidUUIDPattern.MatchString(id) || guidEmailPattern.MatchString(id)) {
				c.failGUID(pointer)
				return
			}
			info.GUID = id
			meta.ID = &info.GUID
			return
		}
	}
	if info.ManifestVersion >= 3 {
		c.fail(codeIDRequired, "The add-on ID is required in Manifest Version 3 and above.",
			"See https://mzl.la/3PLZYdo for more information.", manifestFile, "")
	}
}

// failGUID reports an invalid add-on ID as addons-linter does: one message
// per alternative of the schema, then the summary.
func (c *checker) failGUID(pointer string) {
	q := `"` + pointer + `"`
	c.fail(codeJSONInvalid, q+` must match pattern "`+guidUUIDPattern.String()+`"`, descJSONNotParsed, "", pointer)
	c.fail(codeJSONInvalid, q+` must match pattern "`+guidEmailPattern.String()+`"`, descJSONNotParsed, "", pointer)
	c.fail(codeJSONInvalid, q+` is not a valid key or has invalid extra properties`, descJSONNotParsed, "", pointer)
}

// stripLineComments blanks out // comments outside JSON strings (keeping
// byte offsets, so parse errors point at the right place) and reports
// whether a /* block comment starts outside a string.
func stripLineComments(raw []byte) ([]byte, bool) {
	out := bytes.Clone(raw)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		ch := out[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '/' && i+1 < len(out) && out[i+1] == '*':
			return nil, true
		case ch == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		}
	}
	return out, false
}

// duplicateKey reports the first member name that appears twice in one
// JSON object of raw. It walks tokens with an explicit stack, so nesting
// depth costs no recursion; invalid JSON is left to the parser.
func duplicateKey(raw []byte) (string, bool) {
	type frame struct {
		keys     map[string]bool
		wantName bool
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantName {
			if name, ok := tok.(string); ok {
				if top.keys[name] {
					return name, true
				}
				top.keys[name] = true
				top.wantName = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantName: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object expects a name next.
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].wantName = true
		}
	}
}

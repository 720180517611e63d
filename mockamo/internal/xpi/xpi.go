// Package xpi validates an uploaded add-on file as AMO's validation
// (addons-linter, then AMO's own parse) would, within limits that bound
// what one file may cost: a .zip/.xpi/.crx name, a zip archive that
// archive/zip reads without building more entries than the limit, every
// entry decompressed within a byte budget, and a manifest.json whose
// name, version, manifest_version and add-on ID are valid. Findings carry
// addons-linter's codes and texts; what a finding quotes of the file is
// cut short (see package quote), as findings are kept with the upload.
package xpi

import (
	"path"
	"strings"
)

// Limits bound the work one file may cost. Every field must be positive.
type Limits struct {
	// MaxEntries is the most entries (files and directories) an archive
	// may have, decided before archive/zip allocates anything per entry.
	MaxEntries int
	// MaxUncompressedBytes bounds the bytes all entries decompress to,
	// counted while decompressing (sizes declared in the archive are not
	// trusted).
	MaxUncompressedBytes int64
	// MaxManifestBytes bounds manifest.json once decompressed.
	MaxManifestBytes int64
}

// Validation is the "validation" object of an upload: AMO's summary of
// an addons-linter run. The mock reports errors only (no warnings or
// notices). Its JSON is the API's.
type Validation struct {
	Success              bool      `json:"success"`
	CompatibilitySummary Counts    `json:"compatibility_summary"`
	Notices              int       `json:"notices"`
	Warnings             int       `json:"warnings"`
	Errors               int       `json:"errors"`
	Messages             []Message `json:"messages"`
	Metadata             Metadata  `json:"metadata"`
	EndingTier           int       `json:"ending_tier"`
}

// Counts are the compatibility_summary counters.
type Counts struct {
	Warnings int `json:"warnings"`
	Errors   int `json:"errors"`
	Notices  int `json:"notices"`
}

// Message is one entry of Validation.Messages, in the shape AMO gives
// addons-linter's findings (devhub fix_addons_linter_output): the
// linter's message, description, file and instancePath, then uid, type
// ("error"), id ([linter code]) and tier 1.
type Message struct {
	Message      string   `json:"message"`
	Description  string   `json:"description"`
	File         *string  `json:"file"`
	InstancePath *string  `json:"instancePath,omitempty"`
	UID          string   `json:"uid"`
	Type         string   `json:"type"`
	ID           []string `json:"id"`
	Tier         int      `json:"tier"`
}

// Metadata is AMO's metadata (listed, identified_files, is_webextension)
// merged with the linter's (what it read from the manifest; the name and
// version cut short as quotes).
type Metadata struct {
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

// Manifest is what a valid upload's manifest.json contributes to an
// add-on and its version.
type Manifest struct {
	GUID             string `json:"guid,omitempty"` // "" when the manifest has none
	Name             string `json:"name"`
	Version          string `json:"version"`
	ManifestVersion  int    `json:"manifest_version"`
	Description      string `json:"description,omitempty"`
	StrictMinVersion string `json:"strict_min_version,omitempty"`
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
	typeExtension        = 1
	validationEndingTier = 5
)

// checker collects the findings of one validation.
type checker struct {
	newUID   func() string
	messages []Message
}

// fail records an error finding. file is "" for a finding about the
// archive as a whole; instancePath is "" when the linter sends none.
func (c *checker) fail(code, msg, description, file, instancePath string) {
	m := Message{Message: msg, Description: description, UID: c.newUID(), Type: "error", ID: []string{code}, Tier: 1}
	if file != "" {
		m.File = &file
	}
	if instancePath != "" || code == codeFieldRequired || code == codeFieldInvalid {
		m.InstancePath = &instancePath
	}
	c.messages = append(c.messages, m)
}

// newValidation is an empty validation of a file uploaded to the listed
// channel or not.
func newValidation(listed bool) *Validation {
	return &Validation{
		Metadata:   Metadata{Listed: listed, IsWebextension: true, Type: typeExtension},
		EndingTier: validationEndingTier,
	}
}

// finish sets v's messages and counters from c.
func (c *checker) finish(v *Validation) {
	v.Messages = c.messages
	if v.Messages == nil {
		v.Messages = []Message{}
	}
	v.Errors = len(v.Messages)
	v.Success = v.Errors == 0
}

// Validate checks data, uploaded as filename to the listed channel or
// not, within lim. It returns the validation and, when it has no errors,
// the manifest's data (nil otherwise). newUID gives each message its uid
// (AMO's: 32 hex digits).
func Validate(data []byte, filename string, listed bool, lim Limits, newUID func() string) (*Validation, *Manifest) {
	c := &checker{newUID: newUID}
	v := newValidation(listed)
	info := c.checkFile(data, filename, lim, &v.Metadata)
	c.finish(v)
	if !v.Success {
		return v, nil
	}
	return v, info
}

// Forced is the validation of an upload the mock was asked to fail
// (POST /__mockamo/fail-next-upload): one error that says so.
func Forced(listed bool, newUID func() string) *Validation {
	c := &checker{newUID: newUID}
	c.fail(codeForcedFailure, "The mock AMO was asked to fail this upload.",
		"amojwt's mock AMO fails the next upload of a user after POST /__mockamo/fail-next-upload; nothing is wrong with the add-on.", "", "")
	v := newValidation(listed)
	c.finish(v)
	return v
}

// checkFile runs the checks in order; the first failure of the archive
// stops them, manifest findings are collected together.
func (c *checker) checkFile(data []byte, filename string, lim Limits, meta *Metadata) *Manifest {
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

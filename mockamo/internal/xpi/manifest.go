package xpi

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode"

	"github.com/amojwt/amojwt/mockamo/internal/quote"
)

// versionPattern is AMO's simplified version string: 1 to 4 numbers
// separated by dots, each up to 9 digits without leading zeros.
var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}$`)

// The two forms of a valid add-on ID (addons-linter's schema).
var (
	guidUUIDPattern  = regexp.MustCompile(`^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$`)
	guidEmailPattern = regexp.MustCompile(`^[a-zA-Z0-9-._]*@[a-zA-Z0-9-._]+$`)
)

// checkManifest parses manifest.json as Firefox does (a byte order mark
// and // line comments allowed) and checks the keys AMO needs.
func (c *checker) checkManifest(raw []byte, meta *Metadata) *Manifest {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	stripped, blockComment := stripLineComments(raw)
	if blockComment {
		c.fail(codeBlockComments, "Your JSON contains block comments.",
			`Only line comments (comments beginning with "//") are allowed in JSON files. Please remove block comments (comments beginning with "/*")`, "", "")
		return nil
	}
	if key, dup := duplicateKey(stripped); dup {
		c.fail(codeDuplicateKey, "Duplicate keys are not allowed in JSON files.",
			"Duplicate key: "+quote.Input(key)+" found in JSON", manifestFile, "")
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
	info := &Manifest{}
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

func (c *checker) checkManifestVersion(m map[string]any, info *Manifest, meta *Metadata) {
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

func (c *checker) checkName(m map[string]any, info *Manifest, meta *Metadata) {
	raw, ok := m["name"]
	if !ok {
		return
	}
	name, isString := raw.(string)
	if !isString {
		c.fail(codeFieldInvalid, `"/name" must be string`, descMDNManifest, manifestFile, "/name")
		return
	}
	quoted := quote.Input(name)
	meta.Name = &quoted
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

func (c *checker) checkVersion(m map[string]any, info *Manifest, meta *Metadata) {
	raw, ok := m["version"]
	if !ok {
		return
	}
	version, isString := raw.(string)
	if !isString {
		c.fail(codeFieldInvalid, `"/version" must be string`, descMDNManifest, manifestFile, "/version")
		return
	}
	quotedVersion := quote.Input(version)
	meta.Version = &quotedVersion
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
func (c *checker) checkGUID(m map[string]any, info *Manifest, meta *Metadata) {
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

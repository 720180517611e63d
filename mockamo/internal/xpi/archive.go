package xpi

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/amojwt/amojwt/mockamo/internal/quote"
)

// readArchive opens data as a zip archive within lim, decompresses every
// entry (which verifies its checksum) and returns manifest.json's bytes and
// the number of bytes decompressed.
func (c *checker) readArchive(data []byte, lim Limits) (manifest []byte, scanned int64, ok bool) {
	badZip := func() {
		c.fail(codeBadZip, "Corrupt ZIP file", "We were unable to decompress the zip file.", "", "")
	}
	// archive/zip allocates one File per central directory header before
	// it returns, whatever the end record declares: a directory of tiny
	// headers would cost far more memory than the upload's size. So the
	// headers it would read are counted first, and an archive without an
	// end record it would accept is refused without calling it.
	n, readable := entryBound(data, lim.MaxEntries)
	switch {
	case !readable:
		badZip()
		return nil, 0, false
	case n > lim.MaxEntries:
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
			c.fail(codeBadEntryName, "Invalid file name in archive: "+quote.Input(f.Name),
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

var errEntryTooLarge = errors.New("xpi: archive entry over the limit")

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

// Zip record signatures, sizes and search windows (APPNOTE.TXT 4.3, and
// archive/zip's reader for the windows).
const (
	sigCentralHeader = 0x02014b50
	sigEnd           = 0x06054b50
	sigEnd64         = 0x06064b50
	sigEnd64Locator  = 0x07064b50
	lenEnd           = 22
	lenEnd64Locator  = 20
	lenEnd64         = 56
	lenCentralHeader = 46
)

// endSearchWindows are the tails of the file, in bytes, that archive/zip
// searches for the end record, in order.
var endSearchWindows = [...]int64{1024, 65 * 1024}

// centralHeaderSignature is a central directory header's first 4 bytes.
var centralHeaderSignature = binary.LittleEndian.AppendUint32(nil, sigCentralHeader)

// entryBound returns at least the number of entries zip.NewReader builds
// from data, or a number over limit once that number is; readable is false
// when archive/zip would find no usable end-of-directory record, and so
// refuse data.
//
// zip.NewReader finds the end record, reserves room for the entries it
// declares, then reads headers one after the other from the directory's
// start until one does not parse, whatever count the end record declares
// (it compares only the low 16 bits). So the end record is found as
// archive/zip finds it, a declared count over limit is over limit, and
// data with at most limit header signatures cannot hold more entries
// (each header begins with its own); otherwise the headers are walked
// from the directory's start, from both starts where archive/zip chooses
// between two (see readEnd), and the larger count returned.
func entryBound(data []byte, limit int) (n int, readable bool) {
	end, readable := readEnd(data)
	switch {
	case !readable:
		return 0, false
	case end.records > uint64(limit):
		return limit + 1, true
	}
	if n = bytes.Count(data, centralHeaderSignature); n <= limit {
		return n, true
	}
	n = 0
	for _, start := range end.starts {
		n = max(n, countHeaders(data, start, limit))
	}
	return n, true
}

// countHeaders counts the central directory headers of data from offset
// pos, header after header, as archive/zip reads them, stopping once the
// count passes limit.
func countHeaders(data []byte, pos int64, limit int) int {
	n := 0
	for pos >= 0 && pos <= int64(len(data))-lenCentralHeader &&
		binary.LittleEndian.Uint32(data[pos:]) == sigCentralHeader {
		n++
		if n > limit {
			break
		}
		h := data[pos:]
		pos += lenCentralHeader + int64(binary.LittleEndian.Uint16(h[28:])) +
			int64(binary.LittleEndian.Uint16(h[30:])) + int64(binary.LittleEndian.Uint16(h[32:]))
	}
	return n
}

// endRecord is what zip.NewReader reads from the end of an archive.
type endRecord struct {
	records uint64  // the number of entries declared
	starts  []int64 // where the directory's headers may start
}

// readEnd reads the end of data as archive/zip's readDirectoryEnd does:
// the end record found in the last 1 KiB or else the last 65 KiB, its
// zip64 record when its fields say so, then the base offset of data
// prepended to the archive. When the base offset is positive, archive/zip
// starts at the declared offset instead if a whole header parses there;
// both starts are returned then. ok is false when archive/zip would return
// an error.
func readEnd(data []byte) (d endRecord, ok bool) {
	size := int64(len(data))
	end := int64(-1)
	for i, window := range endSearchWindows {
		window = min(window, size)
		if p := findEnd(data[size-window:]); p >= 0 {
			end = size - window + int64(p)
			break
		}
		if i == len(endSearchWindows)-1 || window == size {
			return d, false
		}
	}
	rec := data[end:]
	d.records = uint64(binary.LittleEndian.Uint16(rec[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(rec[16:]))
	// archive/zip compares the 32-bit size with 0xffff, not 0xffffffff.
	if d.records == 0xffff || dirSize == 0xffff || dirOffset == 0xffffffff {
		if p, found := findEnd64(data, end); found {
			if p > size-lenEnd64 || binary.LittleEndian.Uint32(data[p:]) != sigEnd64 {
				return d, false
			}
			d.records = binary.LittleEndian.Uint64(data[p+32:])
			dirSize = binary.LittleEndian.Uint64(data[p+40:])
			dirOffset = binary.LittleEndian.Uint64(data[p+48:])
			end = p
		}
	}
	const maxInt64 = 1<<63 - 1
	if dirSize > maxInt64 || dirOffset > maxInt64 {
		return d, false
	}
	// int64 arithmetic that may wrap, as archive/zip's.
	base := end - int64(dirSize) - int64(dirOffset)
	if o := base + int64(dirOffset); o < 0 || o >= size {
		return d, false
	}
	d.starts = []int64{base + int64(dirOffset)}
	if base > 0 {
		d.starts = append(d.starts, int64(dirOffset))
	}
	return d, true
}

// findEnd returns the offset in block of the end record archive/zip's
// findSignatureInBlock finds: the last signature with a whole record after
// it, or -1, also when that record's comment runs past the block.
func findEnd(block []byte) int {
	for i := len(block) - lenEnd; i >= 0; i-- {
		if binary.LittleEndian.Uint32(block[i:]) == sigEnd {
			comment := int(binary.LittleEndian.Uint16(block[i+lenEnd-2:]))
			if comment+lenEnd+i > len(block) {
				return -1
			}
			return i
		}
	}
	return -1
}

// findEnd64 returns the offset of the zip64 end record that the zip64
// locator just before the end record at end points to, as archive/zip's
// findDirectory64End reads it: found is false without a locator, or with
// one for a multi-disk archive, or pointing to a negative offset.
func findEnd64(data []byte, end int64) (p int64, found bool) {
	loc := end - lenEnd64Locator
	if loc < 0 {
		return 0, false
	}
	l := data[loc:]
	if binary.LittleEndian.Uint32(l) != sigEnd64Locator || binary.LittleEndian.Uint32(l[4:]) != 0 ||
		binary.LittleEndian.Uint32(l[16:]) != 1 {
		return 0, false
	}
	p = int64(binary.LittleEndian.Uint64(l[8:]))
	return p, p >= 0
}

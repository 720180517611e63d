// Package ziptest builds zip archives for the mock AMO's tests: plain
// ones, and hostile ones whose central directory makes archive/zip build
// many entries from few bytes while their trailer hides it.
package ziptest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"testing"
)

// Record signatures and sizes (APPNOTE.TXT 4.3).
const (
	sigCentralHeader = 0x02014b50
	sigEnd           = 0x06054b50
	sigEnd64         = 0x06064b50
	sigEnd64Locator  = 0x07064b50
	lenCentralHeader = 46
	lenEnd           = 22
	lenEnd64         = 56
	lenEnd64Locator  = 20
)

// Of returns a zip archive of name, content pairs.
func Of(tb testing.TB, pairs ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(pairs); i += 2 {
		w, err := zw.Create(pairs[i])
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(pairs[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// headers returns n central directory headers of 46 bytes: empty names,
// stored, sizes 0, local header at offset 0.
func headers(n int) []byte {
	out := make([]byte, n*lenCentralHeader)
	for i := range n {
		binary.LittleEndian.PutUint32(out[i*lenCentralHeader:], sigCentralHeader)
	}
	return out
}

// end returns an end-of-central-directory record declaring records
// entries in a directory of size bytes at offset.
func end(records uint16, size, offset uint32) []byte {
	out := make([]byte, lenEnd)
	binary.LittleEndian.PutUint32(out, sigEnd)
	binary.LittleEndian.PutUint16(out[8:], records)
	binary.LittleEndian.PutUint16(out[10:], records)
	binary.LittleEndian.PutUint32(out[12:], size)
	binary.LittleEndian.PutUint32(out[16:], offset)
	return out
}

// TinyHeaders returns an archive of n entries in 46n + 26 bytes: a
// central directory of 46-byte headers, a valid end record for it, then
// the 4 bytes of an end record's signature. archive/zip ignores the
// signature (it looks for a whole record) and builds one entry per
// header; a scan for the last signature finds the stray one and cannot
// read a record there. The end record declares n modulo 65536 entries,
// all that archive/zip checks, so that it opens the archive.
func TinyHeaders(n int) []byte {
	out := headers(n)
	out = append(out, end(uint16(n), uint32(n*lenCentralHeader), 0)...)
	return append(out, "PK\x05\x06"...)
}

// Zip64SizeQuirk returns an archive of n+1 entries whose end record sends
// archive/zip to its zip64 record: archive/zip reads the zip64 record
// when the end record's 32-bit directory size is 0xffff (not only
// 0xffffffff). The end record's own fields point to the last header
// alone; the zip64 record's to all n+1, and declare n+1 modulo 65536
// entries, all that archive/zip checks.
func Zip64SizeQuirk(n int) []byte {
	out := headers(n)
	last := len(out)
	out = append(out, headers(1)...)
	records := uint64(uint16(n + 1))
	rec64 := make([]byte, lenEnd64)
	binary.LittleEndian.PutUint32(rec64, sigEnd64)
	binary.LittleEndian.PutUint64(rec64[24:], records)
	binary.LittleEndian.PutUint64(rec64[32:], records)
	binary.LittleEndian.PutUint64(rec64[40:], uint64(len(out)))
	binary.LittleEndian.PutUint64(rec64[48:], 0)
	loc := make([]byte, lenEnd64Locator)
	binary.LittleEndian.PutUint32(loc, sigEnd64Locator)
	binary.LittleEndian.PutUint64(loc[8:], uint64(len(out)))
	binary.LittleEndian.PutUint32(loc[16:], 1)
	out = append(append(out, rec64...), loc...)
	return append(out, end(1, 0xffff, uint32(last))...)
}

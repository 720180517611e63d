package mockamo

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
)

// archive returns a zip of n empty entries.
func archive(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		if _, err := zw.Create("f" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCountCentralDirectory(t *testing.T) {
	t.Parallel()
	ten := archive(t, 10)
	// The end record's entry counts (2 bytes each, at 8 and 10) claim 2:
	// archive/zip only checks them modulo 65536, so they are not trusted.
	lying := bytes.Clone(ten)
	end := bytes.LastIndex(lying, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint16(lying[end+8:], 2)
	binary.LittleEndian.PutUint16(lying[end+10:], 2)
	// A zip64 end record and locator between the directory and the end
	// record, pointing away from the directory: archive/zip ignores them
	// while the end record's fields have not overflowed, so must the count.
	fake64 := make([]byte, lenEnd64+lenEnd64Locator)
	binary.LittleEndian.PutUint32(fake64, sigEnd64)
	binary.LittleEndian.PutUint64(fake64[40:], 0) // directory size
	binary.LittleEndian.PutUint64(fake64[48:], 1) // directory offset: not a header
	loc := fake64[lenEnd64:]
	binary.LittleEndian.PutUint32(loc, sigEnd64Locator)
	tenEnd := bytes.LastIndex(ten, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint64(loc[8:], uint64(tenEnd))
	stray64 := append(append(bytes.Clone(ten[:tenEnd]), fake64...), ten[tenEnd:]...)
	tests := []struct {
		name      string
		data      []byte
		limit     int
		wantN     int
		wantFound bool
	}{
		{"stray zip64 records", stray64, 100, 10, true},
		{"ten entries", ten, 100, 10, true},
		{"stops past the limit", ten, 4, 5, true},
		{"data prepended", append(bytes.Repeat([]byte("x"), 1000), ten...), 100, 10, true},
		{"declared count ignored", lying, 100, 10, true},
		{"empty archive", archive(t, 0), 100, 0, true},
		{"no end record", []byte("not a zip"), 100, 0, false},
		{"truncated end record", ten[:len(ten)-5], 100, 0, false},
		{"empty", nil, 100, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, found := countCentralDirectory(tt.data, tt.limit)
			if n != tt.wantN || found != tt.wantFound {
				t.Errorf("got %d, %v; want %d, %v", n, found, tt.wantN, tt.wantFound)
			}
		})
	}
}

func TestStripLineComments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		want      string
		wantBlock bool
	}{
		{"line comment", "{} // x\n", "{}     \n", false},
		{"slashes in a string", `{"a":"http://x"}`, `{"a":"http://x"}`, false},
		{"escaped quote in a string", `{"a":"\"//"} //c`, `{"a":"\"//"}    `, false},
		{"block comment", `{/* x */}`, "", true},
		{"block comment in a string", `{"a":"/* x */"}`, `{"a":"/* x */"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, block := stripLineComments([]byte(tt.in))
			if block != tt.wantBlock || (!block && string(got) != tt.want) {
				t.Errorf("got %q, %v; want %q, %v", got, block, tt.want, tt.wantBlock)
			}
		})
	}
}

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantKey string
	}{
		{"none", `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{"top level", `{"a":1,"b":2,"a":3}`, "a"},
		{"nested", `{"a":{"x":[1,{"y":1,"y":2}]}}`, "y"},
		{"after a nested object", `{"a":{"b":1},"a":2}`, "a"},
		{"key equal to a value", `{"a":"b","b":"a"}`, ""},
		{"invalid JSON", `{"a":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, dup := duplicateKey([]byte(tt.in))
			if key != tt.wantKey || dup != (tt.wantKey != "") {
				t.Errorf("got %q, %v; want %q", key, dup, tt.wantKey)
			}
		})
	}
}

package quote_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/amojwt/amojwt/mockamo/internal/quote"
)

func TestInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 500000)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"short", "name", "name"},
		{"exactly the bound", strings.Repeat("a", quote.MaxRunes), strings.Repeat("a", quote.MaxRunes)},
		{"one over", strings.Repeat("a", quote.MaxRunes+1), strings.Repeat("a", quote.MaxRunes) + "…"},
		{"long", long, long[:quote.MaxRunes] + "…"},
		{"multibyte kept whole", strings.Repeat("é", quote.MaxRunes+5), strings.Repeat("é", quote.MaxRunes) + "…"},
		{"multibyte under the bound in runes, over in bytes", strings.Repeat("é", quote.MaxRunes), strings.Repeat("é", quote.MaxRunes)},
		{"invalid bytes count one each", strings.Repeat("\xff", quote.MaxRunes+1), strings.Repeat("\xff", quote.MaxRunes) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := quote.Input(tt.in)
			if got != tt.want {
				t.Errorf("Input(%.20q...) = %.40q... (%d bytes), want %.40q... (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
			}
			if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
				t.Errorf("Input split a UTF-8 sequence: %q", got)
			}
		})
	}
}

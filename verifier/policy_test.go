package verifier_test

import (
	"encoding"
	"flag"
	"io"
	"testing"

	"github.com/amojwt/amojwt/verifier"
)

// TestPolicyText: Profile and ReplayPolicy read and write their text forms,
// refuse others, and serve as flag values.
func TestPolicyText(t *testing.T) {
	t.Parallel()
	type textValue interface {
		encoding.TextMarshaler
		encoding.TextUnmarshaler
		String() string
	}
	var (
		profile verifier.Profile
		replay  verifier.ReplayPolicy
	)
	tests := []struct {
		name  string
		value textValue
		texts []string
		bad   []string
	}{
		{"profile", &profile, []string{"amo", "strict"}, []string{"", "AMO", "none"}},
		{"replay", &replay, []string{"refuse", "report", "allow"}, []string{"", "Refuse", "allow-reuse"}},
	}
	for _, tt := range tests {
		for _, text := range tt.texts {
			if err := tt.value.UnmarshalText([]byte(text)); err != nil {
				t.Errorf("%s: UnmarshalText(%q): %v", tt.name, text, err)
			}
			if got, err := tt.value.MarshalText(); string(got) != text || err != nil || tt.value.String() != text {
				t.Errorf("%s: %q reads back as %q, %v (String %q)", tt.name, text, got, err, tt.value.String())
			}
		}
		for _, text := range tt.bad {
			if err := tt.value.UnmarshalText([]byte(text)); err == nil {
				t.Errorf("%s: UnmarshalText(%q) succeeded", tt.name, text)
			}
		}
	}
	if _, err := verifier.Profile(7).MarshalText(); err == nil {
		t.Error("Profile(7).MarshalText succeeded")
	}
	if _, err := verifier.ReplayPolicy(7).MarshalText(); err == nil {
		t.Error("ReplayPolicy(7).MarshalText succeeded")
	}

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.TextVar(&profile, "profile", verifier.ProfileAMO, "")
	fs.TextVar(&replay, "replay", verifier.ReplayRefuse, "")
	if err := fs.Parse([]string{"--profile", "strict", "--replay", "report"}); err != nil || profile != verifier.ProfileStrict || replay != verifier.ReplayReport {
		t.Errorf("flags: %v, %v, %v", err, profile, replay)
	}
	if err := fs.Parse([]string{"--replay", "sometimes"}); err == nil {
		t.Error("--replay sometimes accepted")
	}
}

func TestRuleString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rule verifier.Rule
		want string
	}{
		{verifier.Rule{Section: 3, Item: 9}, "§3 row 9"},
		{verifier.Rule{Section: 2, Item: 3}, "§2.3"},
		{verifier.Rule{Section: 7}, "§7"},
		{verifier.Rule{}, ""},
	} {
		if got := tt.rule.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.rule, got, tt.want)
		}
	}
}

package vectors

import "github.com/amojwt/amojwt/verifier"

// The JSON document of a vectors file, as testdata/README.md describes it.

// file mirrors the JSON document.
type file struct {
	Now        *int64     `json:"now"`
	DefaultKey string     `json:"default_key"`
	Keys       []fileKey  `json:"keys"`
	Vectors    []fileCase `json:"vectors"`
}

type fileKey struct {
	Key    string         `json:"key"`
	Secret string         `json:"secret"`
	Active *bool          `json:"active"`
	User   *verifier.User `json:"user"`
	UserID *int64         `json:"user_id"`
	Broken bool           `json:"broken"`
	Note   string         `json:"note"`
}

type fileCase struct {
	Name     string     `json:"name"`
	Spec     string     `json:"spec"`
	Note     string     `json:"note"`
	HTTPOnly bool       `json:"http_only"`
	HTTPSkip string     `json:"http_skip"`
	KeyStore string     `json:"key_store"`
	Profile  string     `json:"profile"`
	Replay   string     `json:"replay"`
	Store    *fileStore `json:"store"`
	fileUse
	Uses []fileUse `json:"uses"`
}

type fileStore struct {
	ResetGuard bool     `json:"reset_guard"`
	Epoch      *float64 `json:"epoch"`
	Capacity   int      `json:"capacity"`
}

// fileUse holds the fields a vector gives once for all its uses and a use
// may override; nil means "not given here".
type fileUse struct {
	Token         *string     `json:"token"`
	Header        *string     `json:"header"`
	Claims        *string     `json:"claims"`
	Template      *string     `json:"template"`
	Key           *string     `json:"key"`
	Secret        *string     `json:"secret"`
	SecretHex     *string     `json:"secret_hex"`
	MAC           *string     `json:"mac"`
	Authorization *[]string   `json:"authorization"`
	Clock         *float64    `json:"clock"`
	TokenLength   *int        `json:"token_length"`
	Expect        *fileExpect `json:"expect"`
	HTTPExpect    *fileExpect `json:"http_expect"`
}

type fileExpect struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Nonce  string `json:"nonce"`
	Reused bool   `json:"reused"`
}

// merge returns u with every field it leaves nil taken from base.
func (u fileUse) merge(base fileUse) fileUse {
	if u.Token == nil {
		u.Token = base.Token
	}
	if u.Header == nil {
		u.Header = base.Header
	}
	if u.Claims == nil {
		u.Claims = base.Claims
	}
	if u.Template == nil {
		u.Template = base.Template
	}
	if u.Key == nil {
		u.Key = base.Key
	}
	if u.Secret == nil {
		u.Secret = base.Secret
	}
	if u.SecretHex == nil {
		u.SecretHex = base.SecretHex
	}
	if u.MAC == nil {
		u.MAC = base.MAC
	}
	if u.Authorization == nil {
		u.Authorization = base.Authorization
	}
	if u.Clock == nil {
		u.Clock = base.Clock
	}
	if u.TokenLength == nil {
		u.TokenLength = base.TokenLength
	}
	if u.Expect == nil {
		u.Expect = base.Expect
	}
	if u.HTTPExpect == nil {
		u.HTTPExpect = base.HTTPExpect
	}
	return u
}

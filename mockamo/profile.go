package mockamo

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// DateTimeFormat is AMO's API datetime format (DATETIME_FORMAT
// "%Y-%m-%dT%H:%M:%SZ", in UTC; SPEC §8).
const DateTimeFormat = "2006-01-02T15:04:05Z"

// Profile is the body of GET /api/v5/accounts/profile/: the fields of AMO's
// SelfUserProfileSerializer (docs/AMO.md §7) that a key store can fill,
// in AMO's order. Fields AMO has and this mock does not send: created,
// biography, homepage, location, occupation, picture_type, picture_upload,
// fxa_edit_email_url.
type Profile struct {
	ID int64 `json:"id"`
	// Name is DisplayName, or "Firefox user <id>" without one.
	Name string `json:"name"`
	// URL is <base>/en-US/firefox/user/<id>/ (see WithBaseURL).
	URL string `json:"url"`
	// Username is the user's, or "anonymous-" and 32 hex digits derived
	// from the id when the key store has none (AMO's anonymous usernames).
	Username                string   `json:"username"`
	AverageAddonRating      *float64 `json:"average_addon_rating"` // always null
	HasAnonymousDisplayName bool     `json:"has_anonymous_display_name"`
	HasAnonymousUsername    bool     `json:"has_anonymous_username"`
	IsAddonDeveloper        bool     `json:"is_addon_developer"` // always false
	IsArtist                bool     `json:"is_artist"`          // always false
	NumAddonsListed         int      `json:"num_addons_listed"`  // always 0
	PictureURL              *string  `json:"picture_url"`        // always null
	Deleted                 bool     `json:"deleted"`            // false: the verifier refuses deleted users
	DisplayName             *string  `json:"display_name"`       // null when unset
	Email                   *string  `json:"email"`              // null when the key store has none
	// LastLogin is the time of this request: AMO records each
	// JWT-authenticated request as a login (docs/AMO.md §4.3).
	LastLogin string `json:"last_login"`
	// LastLoginIP is the IP address of this request's peer.
	LastLoginIP string `json:"last_login_ip"`
	// Permissions are the user's AMO permissions, sorted; [] when none.
	Permissions []string `json:"permissions"`
	// ReadDevAgreement is when the user accepted the developer agreement
	// (DateTimeFormat), or null.
	ReadDevAgreement *string    `json:"read_dev_agreement"`
	SiteStatus       SiteStatus `json:"site_status"`
}

// SiteStatus is AMO's site_status object; this mock is never read-only and
// has no notice.
type SiteStatus struct {
	ReadOnly bool    `json:"read_only"`
	Notice   *string `json:"notice"`
}

type profileHandler struct {
	baseURL string // "" to build it from each request
	now     func() time.Time
}

// viewMetadata is DRF's SimpleMetadata for AMO's ProfileView, the body of
// an OPTIONS request.
const viewMetadata = `{"name":"Profile","description":"","renders":["application/json"],` +
	`"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}`

func (h *profileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		writeJSON(w, []byte(viewMetadata))
		return
	default:
		methodNotAllowed(w, r)
		return
	}
	p, ok := requirePrincipal(w, r)
	if !ok {
		return
	}
	writeJSON(w, encodeJSON(h.profile(r, p)))
}

func (h *profileHandler) profile(r *http.Request, p *verifier.Principal) *Profile {
	u := p.User
	if u == nil {
		u = &verifier.User{ID: p.UserID}
	}
	id := strconv.FormatInt(u.ID, 10)
	pr := &Profile{
		ID:                      u.ID,
		Name:                    u.Name,
		URL:                     h.base(r) + "/en-US/firefox/user/" + id + "/",
		Username:                u.Username,
		HasAnonymousDisplayName: u.Name == "",
		HasAnonymousUsername:    u.Username == "",
		LastLogin:               h.now().UTC().Format(DateTimeFormat),
		LastLoginIP:             remoteIP(r),
		Deleted:                 u.Deleted,
		Permissions:             slices.Sorted(slices.Values(u.Permissions)),
	}
	if u.Name == "" {
		pr.Name = "Firefox user " + id
	} else {
		pr.DisplayName = &u.Name
	}
	if u.Username == "" {
		sum := sha256.Sum256([]byte("amojwt mock username " + id))
		pr.Username = "anonymous-" + hex.EncodeToString(sum[:16])
	}
	if u.Email != "" {
		pr.Email = &u.Email
	}
	if pr.Permissions == nil {
		pr.Permissions = []string{}
	}
	if u.ReadDevAgreement != nil {
		s := u.ReadDevAgreement.UTC().Format(DateTimeFormat)
		pr.ReadDevAgreement = &s
	}
	return pr
}

// base is the configured base URL or the one the request was made to.
func (h *profileHandler) base(r *http.Request) string {
	if h.baseURL != "" {
		return h.baseURL
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// remoteIP is the host part of r.RemoteAddr, or all of it if it has none.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeJSON writes a 200 JSON response with DRF's Allow header.
func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Allow", allowed)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

package mockamo

import (
	"net/http"

	"github.com/amojwt/amojwt/verifier"
)

// armFailUpload is POST /__mockamo/fail-next-upload: the caller's next
// upload will be invalid (see Submissions.FailNextUpload). Like every
// endpoint it needs a valid token, and it only affects the caller.
func (a *api) armFailUpload(w http.ResponseWriter, _ *http.Request, p *verifier.Principal) {
	a.s.FailNextUpload(p.UserID)
	writeJSONStatus(w, http.StatusOK, struct {
		FailNextUpload bool  `json:"fail_next_upload"`
		UserID         int64 `json:"user_id"`
	}{true, p.UserID})
}

// armRejectReview is POST /__mockamo/reject-next-review: the review of the
// caller's next version will end in rejection (see
// Submissions.RejectNextReview).
func (a *api) armRejectReview(w http.ResponseWriter, _ *http.Request, p *verifier.Principal) {
	a.s.RejectNextReview(p.UserID)
	writeJSONStatus(w, http.StatusOK, struct {
		RejectNextReview bool  `json:"reject_next_review"`
		UserID           int64 `json:"user_id"`
	}{true, p.UserID})
}

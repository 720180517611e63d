package mockamo

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/amojwt/amojwt/mockamo/internal/sim"
)

// Texts of DRF and AMO responses, and of the mock's own refusals.
const (
	detailNotFound   = "Not found."
	detailPermission = "You do not have permission to perform this action."
	detailServer     = "Internal Server Error"
	detailNoUser     = "This API key has no user id (its key store knows no user for it, and it is not of the form " +
		"user:<id>:<n>), so amojwt's mock AMO cannot keep its uploads and add-ons apart from other keys'."
)

// requestError is a request refused before it reaches the simulator
// (its body unreadable, too large, of an unsupported type): a status and
// DRF's detail.
type requestError struct {
	status int
	detail string
}

func (e *requestError) Error() string { return "mockamo: " + e.detail }

// tooLarge is the 413 of a request body over limit bytes.
func tooLarge(limit int64) *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge,
		detail: "Request body too large: the mock AMO accepts at most " + strconv.FormatInt(limit, 10) + " bytes."}
}

// writeError answers err as AMO does: the one place where errors of the
// simulator and of request reading become statuses and DRF bodies.
//
//   - *requestError: its status, {"detail": ...};
//   - *sim.ValidationError: 400 with its list of messages or its field
//     errors;
//   - *sim.ConflictError: 409 with its field errors;
//   - sim.ErrNotFound: 404 {"detail":"Not found."};
//   - sim.ErrForbidden: 403 as AMO's AddonViewSet.check_object_permissions,
//     the DRF detail plus the two flags it adds so clients can tell a
//     disabled add-on from a foreign one;
//   - sim.ErrNoUser: 403 saying the key has no user id;
//   - *sim.QuotaError: 413 naming the limit passed;
//   - anything else: 500 {"detail":"Internal Server Error"}, AMO's body for
//     an unhandled exception (docs/AMO.md §1.4), without the cause.
func writeError(w http.ResponseWriter, err error) {
	var (
		reqErr   *requestError
		invalid  *sim.ValidationError
		conflict *sim.ConflictError
		quota    *sim.QuotaError
	)
	switch {
	case errors.As(err, &reqErr):
		writeDetail(w, reqErr.status, reqErr.detail)
	case errors.As(err, &invalid):
		if msgs := invalid.Messages(); msgs != nil {
			writeJSONStatus(w, http.StatusBadRequest, msgs)
		} else {
			writeJSONStatus(w, http.StatusBadRequest, fieldErrorsBody(invalid.Fields()))
		}
	case errors.As(err, &conflict):
		writeJSONStatus(w, http.StatusConflict, fieldErrorsBody(conflict.Fields()))
	case errors.Is(err, sim.ErrNotFound):
		writeDetail(w, http.StatusNotFound, detailNotFound)
	case errors.Is(err, sim.ErrForbidden):
		writeJSONStatus(w, http.StatusForbidden, struct {
			Detail                string `json:"detail"`
			IsDisabledByDeveloper bool   `json:"is_disabled_by_developer"`
			IsDisabledByMozilla   bool   `json:"is_disabled_by_mozilla"`
		}{Detail: detailPermission})
	case errors.Is(err, sim.ErrNoUser):
		writeDetail(w, http.StatusForbidden, detailNoUser)
	case errors.As(err, &quota):
		scope := "in all"
		if quota.PerUser() {
			scope = "per user"
		}
		writeDetail(w, http.StatusRequestEntityTooLarge, "amojwt's mock AMO keeps at most "+
			strconv.FormatInt(quota.Limit(), 10)+" bytes of files and records "+scope+", and this request would pass that limit.")
	default:
		writeDetail(w, http.StatusInternalServerError, detailServer)
	}
}

package verifier

import (
	"errors"
	"net/http"
	"testing"
)

// TestFailureTable checks the one table of refusals: every row is complete,
// a reason always has the same sentinel, only ReasonUnavailable is a 503,
// and each shared *Error answers with its row and matches its sentinel
// alone.
func TestFailureTable(t *testing.T) {
	t.Parallel()
	sentinelOf := map[Reason]error{}
	for f := passed + 1; f < numFailures; f++ {
		row := failures[f]
		e := f.err()
		if row.reason == "" || row.detail == "" || row.sentinel == nil || row.rule.Section == 0 {
			t.Errorf("failure %d: incomplete row %+v", f, row)
			continue
		}
		if s, ok := sentinelOf[row.reason]; ok && s != row.sentinel {
			t.Errorf("failure %d: reason %s has two sentinels", f, row.reason)
		}
		sentinelOf[row.reason] = row.sentinel
		if (row.status == http.StatusServiceUnavailable) != (row.reason == ReasonUnavailable) ||
			(row.status != http.StatusUnauthorized && row.status != http.StatusServiceUnavailable) {
			t.Errorf("failure %d: status %d for %s", f, row.status, row.reason)
		}
		if e.Reason() != row.reason || e.Detail() != row.detail || e.Status() != row.status || e.Rule() != row.rule ||
			e.Unwrap() != nil || e.Error() != "amojwt: "+string(row.reason)+": "+row.detail {
			t.Errorf("failure %d: the *Error does not answer with its row: %v", f, e)
		}
		for g := passed + 1; g < numFailures; g++ {
			if got, want := errors.Is(e, failures[g].sentinel), failures[g].reason == row.reason; got != want {
				t.Errorf("failure %d: errors.Is(%v, %v) = %v", f, e, failures[g].sentinel, got)
			}
		}
	}
	// Every reason has a row.
	for _, r := range []Reason{
		ReasonNotAuthenticated, ReasonHeaderMalformed, ReasonMalformed, ReasonIssuerMissing, ReasonIssuerUnknown,
		ReasonAlgorithm, ReasonSignature, ReasonClaimMissing, ReasonClaimType, ReasonIssuedInFuture, ReasonExpired,
		ReasonLifetimeTooLong, ReasonRefreshable, ReasonNotYetValid, ReasonNonceMissing, ReasonNonceInvalid,
		ReasonUserDisabled, ReasonAgreementMissing, ReasonReplayed, ReasonNonceStoreReset, ReasonUnavailable,
	} {
		if sentinelOf[r] == nil {
			t.Errorf("reason %s has no row", r)
		}
	}
}

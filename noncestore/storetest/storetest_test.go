package storetest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/noncestore/storetest"
)

// tableHarness runs the suite on tableStore (see Example), a new table per
// store: Break closes its connection, Reset makes a new table.
var tableHarness = storetest.Harness{
	New: func(_ *testing.T, clock *storetest.Clock) noncestore.Store { return newTableStore(clock.Now) },
	Break: func(_ *testing.T, s noncestore.Store) {
		ts := s.(*tableStore)
		ts.mu.Lock()
		ts.closed = true
		ts.mu.Unlock()
	},
	Reset: func(_ *testing.T, _ noncestore.Store, clock *storetest.Clock) noncestore.Store {
		return newTableStore(clock.Now)
	},
}

func TestRunOnTableStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, tableHarness)
}

// flawedStore is tableStore with one flaw, for the check that should catch
// it.
type flawedStore struct {
	tableStore
	flaw string
}

func (s *flawedStore) Claim(ctx context.Context, issuer, nonce string, until time.Time) (time.Time, error) {
	switch s.flaw {
	case "racy": // checks, then writes, in two transactions
		s.mu.Lock()
		held, ok := s.rows[[2]string{issuer, nonce}]
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return time.Time{}, fmt.Errorf("%w: connection closed", noncestore.ErrUnavailable)
		}
		if ok && s.now().Before(held) {
			return s.epoch, noncestore.ErrReplayed
		}
		time.Sleep(time.Millisecond)
		s.mu.Lock()
		s.rows[[2]string{issuer, nonce}] = until
		s.mu.Unlock()
		return s.epoch, nil
	case "concatenates": // keys the pair on issuer + nonce
		issuer, nonce = "", issuer+nonce
	case "stops at NUL": // a C string somewhere on the way
		issuer, _, _ = strings.Cut(issuer, "\x00")
		nonce, _, _ = strings.Cut(nonce, "\x00")
	case "forgets early": // an expiry a second short
		until = until.Add(-time.Second)
	case "never forgets":
		until = until.Add(24 * time.Hour)
	case "fails open": // a broken connection reads as a free pair
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return s.epoch, nil
		}
	}
	return s.tableStore.Claim(ctx, issuer, nonce, until)
}

// flawedChecks maps each flaw to the check that must fail on it.
var flawedChecks = map[string]string{
	"racy":            "AtomicClaims",
	"concatenates":    "IssuersApart",
	"stops at NUL":    "HostileBytes",
	"forgets early":   "Expiry",
	"never forgets":   "Expiry",
	"fails open":      "FailClosed",
	"keeps its epoch": "ResetGuard",
}

// TestFlawedStore is run by TestRunCatchesFlaws, in a process of its own,
// with the flaw in STORETEST_FLAW: it fails when the suite does its job.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv("STORETEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestRunCatchesFlaws")
	}
	var mu sync.Mutex
	epochs := map[*storetest.Clock]time.Time{}
	newStore := func(clock *storetest.Clock) noncestore.Store {
		s := &flawedStore{tableStore: *newTableStore(clock.Now), flaw: flaw}
		mu.Lock()
		defer mu.Unlock()
		if e, ok := epochs[clock]; ok && flaw == "keeps its epoch" {
			s.epoch = e
		}
		epochs[clock] = s.epoch
		return s
	}
	h := tableHarness
	h.New = func(_ *testing.T, clock *storetest.Clock) noncestore.Store { return newStore(clock) }
	h.Reset = func(_ *testing.T, _ noncestore.Store, clock *storetest.Clock) noncestore.Store {
		return newStore(clock)
	}
	h.Break = func(_ *testing.T, s noncestore.Store) {
		fs := s.(*flawedStore)
		fs.mu.Lock()
		fs.closed = true
		fs.mu.Unlock()
	}
	storetest.Run(t, h)
}

// TestRunCatchesFlaws runs the suite on stores with one flaw each, in a
// process of their own, and checks that exactly the check meant for the
// flaw fails (and with it the run).
func TestRunCatchesFlaws(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for flaw, check := range flawedChecks {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestFlawedStore$", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s\n%s", flaw, out)
			}
			failed := fmt.Sprintf("--- FAIL: TestFlawedStore/%s ", check)
			if !strings.Contains(string(out), failed) {
				t.Errorf("a store that %s: want %q in the output\n%s", flaw, failed, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--- FAIL: TestFlawedStore/") && !strings.Contains(line, "/"+check) {
					t.Errorf("a store that %s also failed %s", flaw, strings.TrimSpace(line))
				}
			}
		})
	}
}

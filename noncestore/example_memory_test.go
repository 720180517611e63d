package noncestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// A token's (issuer, jti) pair is good once, until the token expires plus
// the leeway (SPEC §5). The same jti from another issuer is another pair.
func ExampleNewMemory() {
	store, err := noncestore.NewMemory()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(300*time.Second + 5*time.Second) // exp + leeway

	_, err = store.Claim(ctx, "user:12345:67", "6f1c3a", until)
	fmt.Println("first use:", err)
	_, err = store.Claim(ctx, "user:12345:67", "6f1c3a", until)
	fmt.Println("replayed:", errors.Is(err, noncestore.ErrReplayed))
	_, err = store.Claim(ctx, "user:999:1", "6f1c3a", until)
	fmt.Println("other issuer:", err)
	// Output:
	// first use: <nil>
	// replayed: true
	// other issuer: <nil>
}

// A full store fails closed: the new nonce is refused with an error that
// wraps ErrUnavailable, which the HTTP layer answers with a 503 (SPEC §7),
// while replays of nonces it holds are still caught. Room comes back as
// nonces expire.
func ExampleWithCapacity() {
	store, err := noncestore.NewMemory(noncestore.WithCapacity(1))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	status := func(err error) int {
		switch {
		case err == nil:
			return http.StatusOK
		case errors.Is(err, noncestore.ErrUnavailable):
			return http.StatusServiceUnavailable
		default: // noncestore.ErrReplayed
			return http.StatusUnauthorized
		}
	}
	_, err = store.Claim(ctx, "user:1:1", "a", until)
	fmt.Println(status(err))
	_, err = store.Claim(ctx, "user:1:1", "b", until)
	fmt.Println(status(err))
	_, err = store.Claim(ctx, "user:1:1", "a", until)
	fmt.Println(status(err))
	_, err = store.Ping(ctx)
	fmt.Println("ready:", err == nil)
	// Output:
	// 200
	// 503
	// 401
	// ready: false
}

// With the reset guard on, Claim returns the store's creation time as the
// epoch; the verifier refuses jti-bearing tokens that could have been used
// before it, when the store remembered nothing (SPEC §5).
func ExampleWithResetGuard() {
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := started
	store, err := noncestore.NewMemory(
		noncestore.WithResetGuard(true),
		noncestore.WithClock(func() time.Time { return now }),
	)
	if err != nil {
		log.Fatal(err)
	}
	now = now.Add(time.Hour)
	epoch, err := store.Claim(context.Background(), "user:1:1", "a", now.Add(time.Minute))
	fmt.Println(epoch, err)
	// Output:
	// 2025-03-01 12:00:00 +0000 UTC <nil>
}

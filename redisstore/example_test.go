package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/redisstore"
)

// A server builds its store from the --redis URL. Neither call connects:
// the first Claim or Ping does.
func ExampleNew() {
	client, err := redisstore.NewClient("redis://redis.internal:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := redisstore.New(client,
		redisstore.WithKeyPrefix("amojwt:nonce:"),    // the default
		redisstore.WithTimeout(250*time.Millisecond)) // the default (SPEC §7)
	if err != nil {
		log.Fatal(err)
	}
	var _ noncestore.Store = store
	fmt.Println("ready")
	// Output: ready
}

// The URL's scheme chooses the client: standalone, Sentinel or Cluster.
func ExampleNewClient() {
	for _, url := range []string{
		"rediss://:secret@redis.internal:6380/0",
		"redis+sentinel://s1.internal:26379,s2.internal:26379/mymaster",
		"redis+cluster://n1.internal:6379,n2.internal:6379,n3.internal:6379",
	} {
		client, err := redisstore.NewClient(url)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%T\n", client)
		client.Close()
	}
	// Output:
	// *redis.Client
	// *redis.Client
	// *redis.ClusterClient
}

// How a verifier branches on Claim's answers (SPEC §3 row 15, §5, §7).
// Not run: it needs a Redis.
func ExampleStore_Claim() {
	client, err := redisstore.NewClient("redis://redis.internal:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	store, err := redisstore.New(client)
	if err != nil {
		log.Fatal(err)
	}
	const leeway = 5 * time.Second
	iat := time.Now()
	exp := iat.Add(time.Minute)

	epoch, err := store.Claim(context.Background(), "user:543210:23", "0.8472", exp.Add(leeway))
	switch {
	case errors.Is(err, noncestore.ErrReplayed):
		fmt.Println("401 JWT jti (nonce) has already been used.")
	case err != nil: // wraps noncestore.ErrUnavailable
		fmt.Println("503 Authentication is temporarily unavailable; try again.")
	case iat.Unix() <= epoch.Unix()+int64(leeway/time.Second):
		// The reset guard: Redis lost its memory around the time this
		// token could first have been used.
		fmt.Println("401 JWT jti (nonce) cannot be checked: token predates the nonce store.")
	default:
		fmt.Println("accepted")
	}
}

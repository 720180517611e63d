// Package redisstore keeps the nonces of package noncestore in Redis, so
// that every process that talks to the same Redis standalone server,
// Sentinel group or Cluster shares them (SPEC §5): a token used on one
// instance is a replay on every other, and a restart of amojwt forgets
// nothing.
//
// It is a package of its own, beside noncestore, as httprate-redis sits
// beside httprate: it is the only package of the module that imports
// go-redis, so a program that verifies tokens with the memory store, or
// with a store of its own, links no Redis client.
//
//	client, err := redisstore.NewClient("redis://redis.internal:6379/0") // or Sentinel, Cluster
//	store, err := redisstore.New(client)                                 // a noncestore.Store
//	v, err := verifier.New(keys, verifier.WithNonceStore(store))
//
// The store passes the conformance suite of package noncestore/storetest,
// on a standalone server and on a Cluster.
package redisstore

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/redisstore"
)

// nonceFile is the memory store's state file in --data-dir.
const nonceFile = "nonces"

// storeName names the nonce store for the log, without the Redis URL,
// which may hold a password.
func storeName(c *serveConfig) string {
	if c.redis != "" {
		return "redis"
	}
	return "memory"
}

// newNonceStore returns the store the verifier records jti values in (SPEC
// §5) and a function that releases it once the server is done. It is the
// one place that picks a store: Redis with --redis (its reset guard on),
// else the in-memory store bounded by --memory-capacity, with the reset
// guard when --reset-guard is given.
//
// With --data-dir, the memory store keeps its nonces in DIR/nonces across
// restarts (noncestore.WithStateFile): the release function saves them. A
// start that finds none saved applies the reset guard by itself; a file
// that is not a valid state file is moved aside to DIR/nonces.corrupt and
// treated the same (logged), since it cannot tell which nonces were used.
func newNonceStore(c *serveConfig, logger *slog.Logger) (noncestore.Store, func() error, error) {
	if c.redis != "" {
		client, err := redisstore.NewClient(c.redis)
		if err != nil {
			return nil, nil, usageError{"serve: --redis: " + err.Error()}
		}
		r, err := redisstore.New(client,
			redisstore.WithKeyPrefix(c.redisKeyPrefix),
			redisstore.WithTimeout(c.storeTimeout))
		if err != nil {
			client.Close()
			return nil, nil, usageError{"serve: " + err.Error()}
		}
		return r, client.Close, nil
	}
	opts := []noncestore.MemoryOption{noncestore.WithResetGuard(c.resetGuard), noncestore.WithCapacity(c.memoryCapacity)}
	if c.dataDir == "" {
		m, err := noncestore.NewMemory(opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("serve: nonce store: %w", err)
		}
		return m, m.Close, nil
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("serve: --data-dir: %w", err)
	}
	path := filepath.Join(c.dataDir, nonceFile)
	opts = append(opts, noncestore.WithStateFile(path))
	m, err := noncestore.NewMemory(opts...)
	if errors.Is(err, noncestore.ErrCorruptState) {
		logger.Error("amojwt nonce store state file is not valid: moved aside, starting as after a crash (reset guard on)",
			"error", err, "moved_to", path+".corrupt")
		if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
			return nil, nil, fmt.Errorf("serve: nonce store: %w; moving it aside: %w", err, rerr)
		}
		m, err = noncestore.NewMemory(opts...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("serve: nonce store: %w", err)
	}
	return m, m.Close, nil
}

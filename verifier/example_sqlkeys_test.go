package verifier_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// sqlKeys is a verifier.KeyStore over a SQL table of API keys:
//
//	CREATE TABLE api_keys (
//	    key                TEXT PRIMARY KEY,  -- "user:543210:23", the iss claim
//	    secret             TEXT NOT NULL,     -- 64 hex characters, used as written
//	    is_active          BOOLEAN NOT NULL,
//	    user_id            BIGINT NOT NULL,
//	    deleted            BOOLEAN NOT NULL,
//	    read_dev_agreement TIMESTAMP NULL
//	);
//
// It works with any database/sql driver; only the placeholder syntax ($1,
// ?) depends on the database.
type sqlKeys struct {
	db *sql.DB
}

// sqlLookupTimeout bounds one lookup: a KeyStore must answer within a
// bounded time (the verifier adds no timeout of its own).
const sqlLookupTimeout = 250 * time.Millisecond

// Lookup returns the key named issuer. No row is verifier.ErrKeyNotFound,
// which the verifier answers with 401 "Unknown JWT iss (issuer)."; any other
// error means the database cannot answer, which the verifier answers with
// 503, never with an accept (SPEC §7).
func (s sqlKeys) Lookup(ctx context.Context, issuer string) (*verifier.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, sqlLookupTimeout)
	defer cancel()
	var (
		secret string
		active bool
		user   verifier.User
		agreed sql.NullTime
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT secret, is_active, user_id, deleted, read_dev_agreement FROM api_keys WHERE key = $1`, issuer,
	).Scan(&secret, &active, &user.ID, &user.Deleted, &agreed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, verifier.ErrKeyNotFound
	case err != nil:
		return nil, fmt.Errorf("api_keys: %w", err)
	}
	if agreed.Valid {
		user.ReadDevAgreement = &agreed.Time
	}
	return &verifier.Key{Issuer: issuer, Secret: verifier.Secret(secret), Active: active, User: &user}, nil
}

// A KeyStore over a SQL table: the verifier asks it for the key of each
// token's iss, and its account decides SPEC §3 row 14. The database here is
// a stand-in driver with three rows; use your own driver's sql.Open.
func ExampleKeyStore_sql() {
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	db := sql.OpenDB(tableConnector{rows: map[string][]driver.Value{
		"user:543210:23": {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true, int64(543210), false, agreed},
		"user:2:1":       {"2222222222222222222222222222222222222222222222222222222222222222", true, int64(2), true, agreed},
		"user:3:1":       {"3333333333333333333333333333333333333333333333333333333333333333", true, int64(3), false, nil},
	}})
	defer db.Close()

	now := time.Unix(1700000000, 0)
	v, err := verifier.New(sqlKeys{db: db}, verifier.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	for _, c := range []struct{ iss, secret string }{
		{"user:543210:23", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"user:2:1", "2222222222222222222222222222222222222222222222222222222222222222"},
		{"user:3:1", "3333333333333333333333333333333333333333333333333333333333333333"},
		{"user:9:9", "9999999999999999999999999999999999999999999999999999999999999999"},
	} {
		token := exampleToken(`{"iss":"`+c.iss+`","iat":1700000000,"exp":1700000060}`, c.secret)
		p, err := v.Verify(context.Background(), token)
		var verr *verifier.Error
		switch {
		case err == nil:
			fmt.Println(c.iss, "accepted: user", p.UserID)
		case errors.As(err, &verr):
			fmt.Println(c.iss, verr.Status(), verr.Detail())
		}
	}

	// The database goes away: 503, not an accept.
	db.Close()
	_, err = v.Verify(context.Background(), exampleToken(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	fmt.Println(errors.Is(err, verifier.ErrUnavailable))
	// Output:
	// user:543210:23 accepted: user 543210
	// user:2:1 401 User account is disabled.
	// user:3:1 401 User has not read developer agreement.
	// user:9:9 401 Unknown JWT iss (issuer).
	// true
}

// tableConnector is a database/sql driver serving one table from memory,
// keyed by its first column, so that the example runs without a database.
// Every query is "SELECT the other columns WHERE key = $1".
type tableConnector struct {
	rows map[string][]driver.Value
}

func (c tableConnector) Connect(context.Context) (driver.Conn, error) { return tableConn(c), nil }
func (c tableConnector) Driver() driver.Driver                        { return c }
func (c tableConnector) Open(string) (driver.Conn, error)             { return tableConn(c), nil }

type tableConn tableConnector

func (c tableConn) Prepare(string) (driver.Stmt, error) { return tableStmt(c), nil }
func (tableConn) Close() error                          { return nil }
func (tableConn) Begin() (driver.Tx, error)             { return nil, errors.New("read-only") }

type tableStmt tableConn

func (tableStmt) Close() error                               { return nil }
func (tableStmt) NumInput() int                              { return 1 }
func (tableStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("read-only") }
func (s tableStmt) Query(args []driver.Value) (driver.Rows, error) {
	row, ok := s.rows[args[0].(string)]
	return &tableRows{row: row, left: ok}, nil
}

type tableRows struct {
	row  []driver.Value
	left bool
}

func (*tableRows) Columns() []string {
	return []string{"secret", "is_active", "user_id", "deleted", "read_dev_agreement"}
}
func (*tableRows) Close() error { return nil }
func (r *tableRows) Next(dest []driver.Value) error {
	if !r.left {
		return io.EOF
	}
	r.left = false
	copy(dest, r.row)
	return nil
}

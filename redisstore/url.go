package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// NewClient builds a go-redis client from a URL (the server's --redis
// flag), for New. It does no I/O. The forms are:
//
//	redis://[user:password@]host:port[/db][?option=value&...]     standalone
//	rediss://...                                                  standalone, TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N&...]         standalone, Unix socket
//	redis+sentinel://[user:password@]host:port[,host:port...]/master-name[/db][?...]
//	rediss+sentinel://...                                         Sentinel, TLS
//	redis+cluster://[user:password@]host:port[,host:port...][?...]
//	rediss+cluster://...                                          Cluster, TLS
//
// In the Sentinel forms the hosts are the Sentinels, user and password are
// for the Redis servers, and the options sentinel_username and
// sentinel_password give the Sentinels' own credentials. In the Cluster
// forms the hosts are seed nodes (any reachable ones will do). Options are
// go-redis's, in snake case (dial_timeout=2s, pool_size=20, max_retries=2,
// skip_verify=true for TLS without verification; see redis.ParseURL,
// redis.ParseFailoverURL and redis.ParseClusterURL); unknown options are
// errors. Reserved characters in a user name or password (@ / ? # : %) must
// be percent-encoded.
//
// The client has ContextTimeoutEnabled set, so the store's timeout also
// bounds its network reads and writes. Errors never contain the password.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	o, err := parseRedisURL(rawURL)
	switch {
	case err != nil:
		return nil, err
	case o.failover != nil:
		o.failover.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o.failover), nil
	case o.cluster != nil:
		o.cluster.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o.cluster), nil
	default:
		o.standalone.ContextTimeoutEnabled = true
		return redis.NewClient(o.standalone), nil
	}
}

// redisURLOptions is a parsed --redis URL: exactly one field is set.
type redisURLOptions struct {
	standalone *redis.Options
	failover   *redis.FailoverOptions
	cluster    *redis.ClusterOptions
}

// parseRedisURL turns the forms NewClient documents into go-redis's
// own URL forms and parses those. Every error it returns is redacted.
func parseRedisURL(raw string) (redisURLOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redisURLOptions{}, errors.New("redisstore: redis URL: want scheme://..., e.g. redis://host:6379/0")
	}
	// A host list ("h1:1,h2:2") is not URL syntax: parse the URL with its
	// first host and keep the others aside.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@") + 1
	first, others, list := strings.Cut(rest[at:end], ",")
	u, err := url.Parse(scheme + "://" + rest[:at] + first + rest[end:])
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return redisURLOptions{}, errors.New("redisstore: redis URL does not parse " +
			"(percent-encode @ / ? # : % in the user name and password)")
	}
	secrets := redisURLSecrets(u)
	where := u.Scheme + "://" + rest[at:end] // no user info
	fail := func(err error) (redisURLOptions, error) {
		msg := err.Error()
		for _, s := range secrets {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
		return redisURLOptions{}, fmt.Errorf("redisstore: redis URL %s: %s", where, msg)
	}
	var more []string
	if list {
		more = strings.Split(others, ",")
		for _, h := range more {
			if host, port, err := net.SplitHostPort(h); err != nil || host == "" || port == "" {
				return fail(fmt.Errorf("host %q in the list is not host:port", h))
			}
		}
	}

	var mode string
	switch s := strings.ToLower(u.Scheme); s {
	case "redis", "rediss", "unix":
	case "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
		u.Scheme, mode, _ = strings.Cut(s, "+")
	default:
		return fail(errors.New("unknown scheme: want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster"))
	}
	q := u.Query()
	var o redisURLOptions
	switch mode {
	case "":
		if more != nil {
			return fail(errors.New("a host list needs redis+sentinel:// or redis+cluster://"))
		}
		o.standalone, err = redis.ParseURL(u.String())
	case "sentinel":
		path := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
		if len(path) < 1 || len(path) > 2 {
			return fail(errors.New("want /master-name or /master-name/db after the Sentinel hosts"))
		}
		q.Set("master_name", path[0])
		u.Path = ""
		if len(path) == 2 {
			u.Path = "/" + path[1]
		}
		// go-redis reads the Sentinels' credentials from the user info and
		// the servers' from options: swap them.
		if u.User != nil {
			q.Set("username", u.User.Username())
			if p, ok := u.User.Password(); ok {
				q.Set("password", p)
			}
		}
		u.User = nil
		if su, sp := q.Get("sentinel_username"), q.Get("sentinel_password"); su != "" || sp != "" {
			u.User = url.UserPassword(su, sp)
		}
		q.Del("sentinel_username")
		q.Del("sentinel_password")
		for _, h := range more {
			q.Add("addr", h)
		}
		u.RawQuery = q.Encode()
		o.failover, err = redis.ParseFailoverURL(u.String())
	case "cluster":
		if strings.Trim(u.Path, "/") != "" {
			return fail(errors.New("a Cluster URL has no path: a Cluster has database 0 only"))
		}
		for _, h := range more {
			q.Add("addr", h)
		}
		u.RawQuery = q.Encode()
		o.cluster, err = redis.ParseClusterURL(u.String())
	}
	if err != nil {
		return fail(err)
	}
	return o, nil
}

// redisURLSecrets lists the passwords in u, decoded and encoded, longest
// first so that a longer form is scrubbed before a part of it.
func redisURLSecrets(u *url.URL) []string {
	var plain []string
	if p, ok := u.User.Password(); ok {
		plain = append(plain, p)
	}
	q := u.Query()
	plain = append(append(plain, q["password"]...), q["sentinel_password"]...)
	var out []string
	for _, s := range plain {
		if s != "" {
			out = append(out, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

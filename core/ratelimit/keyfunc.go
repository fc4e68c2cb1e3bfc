package ratelimit

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/redisware/redisware/core/internal/clientip"
	"github.com/redisware/redisware/core/internal/keys"
)

// KeyFunc names the client a request counts against: an address, an API
// key, a user ID. The string is escaped (or hashed) before it becomes part
// of a Redis key, so it may hold anything. A KeyFunc returns an error
// wrapping ErrNoKey when the request lacks what it keys on; the middleware
// then answers 400.
type KeyFunc func(r *http.Request) (string, error)

// ErrNoKey is wrapped by KeyFunc errors for requests that carry nothing to
// key on, such as a missing header.
var ErrNoKey = errors.New("ratelimit: request has no rate-limit key")

// ClientIPOptions says how to find a client's address.
type ClientIPOptions struct {
	// TrustedProxies lists the proxies (CIDRs or addresses) whose
	// X-Forwarded-For and X-Real-IP headers are believed. Empty, the
	// default, trusts none: only the connection's address counts, so a
	// client cannot pick its own key by sending a header. With proxies
	// listed, X-Forwarded-For is walked from the right past trusted hops
	// only, and the first untrusted address is the client.
	TrustedProxies []string
	// IPv6Prefix is how many leading bits of an IPv6 address name one
	// client: a single host usually controls a whole /64, so counting
	// addresses one by one would let it multiply its quota. Zero means 64;
	// 128 counts each address.
	IPv6Prefix int
}

// KeyByIP returns a KeyFunc keyed on the client address (IPv6 grouped by
// prefix), or an error for an invalid proxy list or prefix length.
func KeyByIP(opts ClientIPOptions) (KeyFunc, error) {
	trusted, err := clientip.ParseTrusted(opts.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	res, err := clientip.New(trusted, opts.IPv6Prefix)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return res.Key, nil
}

// KeyByHeader returns a KeyFunc keyed on the first value of the named
// request header, such as an API key. The value is hashed before it reaches
// Redis, so secrets do not appear in key names. A request without the
// header gets an error wrapping ErrNoKey.
func KeyByHeader(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) (string, error) {
		v := r.Header.Get(name)
		if v == "" {
			return "", fmt.Errorf("%w: no %s header", ErrNoKey, name)
		}
		return keys.Hash(v), nil
	}
}

// KeyFirst returns a KeyFunc that tries each of fns in order and uses the
// first key found; a request none of them keys gets the last ErrNoKey. For
// example KeyFirst(userKey, ipKey) limits signed-in users by account and
// anonymous ones by address.
func KeyFirst(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, error) {
		err := fmt.Errorf("%w: no key function given", ErrNoKey)
		for i, fn := range fns {
			k, e := fn(r)
			if e == nil {
				// the index keeps keys of different functions apart
				return string(rune('a'+i%26)) + ":" + k, nil
			}
			if !errors.Is(e, ErrNoKey) {
				return "", e
			}
			err = e
		}
		return "", err
	}
}

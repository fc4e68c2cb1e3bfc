package ratelimit

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/redisware/redisware/core/internal/keys"
)

// KeyFunc names the client a request counts against: an API key, a user
// ID. The string is escaped (or hashed) before it becomes part of a Redis
// key, so it may hold anything. A KeyFunc returns ("", nil) to have the
// request count against its client address (see Options.Key), and an error
// wrapping ErrNoKey when the request lacks what it keys on and must not
// pass; the limiter then answers 400.
type KeyFunc func(r *http.Request) (string, error)

// ErrNoKey is wrapped by KeyFunc errors for requests that carry nothing to
// key on, such as a missing header.
var ErrNoKey = errors.New("ratelimit: request has no rate-limit key")

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
// first key found; the keys of different functions never collide. A
// function that returns ErrNoKey or ("", nil) is passed over. A request
// none of them keys gets ("", nil), its client address, if any function
// returned that, and otherwise the last ErrNoKey. For example
// KeyFirst(KeyByHeader("X-API-Key"), userKey) limits API clients by key,
// then signed-in users by account; with a userKey that returns ("", nil)
// for anonymous requests, everyone else counts by address.
func KeyFirst(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, error) {
		err := fmt.Errorf("%w: no key function given", ErrNoKey)
		address := false
		for i, fn := range fns {
			k, e := fn(r)
			switch {
			case e == nil && k != "":
				// the index keeps keys of different functions apart
				return string(rune('a'+i%26)) + ":" + k, nil
			case e == nil:
				address = true
			case !errors.Is(e, ErrNoKey):
				return "", e
			default:
				err = e
			}
		}
		if address {
			return "", nil
		}
		return "", err
	}
}

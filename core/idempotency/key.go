package idempotency

import (
	"errors"
	"fmt"
	"strings"
)

// MaxKeyLength is the longest Idempotency-Key accepted, in bytes.
const MaxKeyLength = 255

var (
	// ErrNoKey is returned by ParseKey when the request has no key.
	ErrNoKey = errors.New("idempotency: no Idempotency-Key")
	// ErrMalformedKey is wrapped by ParseKey errors for keys that are not
	// acceptable; the message says why.
	ErrMalformedKey = errors.New("idempotency: malformed Idempotency-Key")
)

// ParseKey returns the key carried by the values of an Idempotency-Key
// header field (all its lines, as http.Header.Values returns them).
//
// The IETF draft defines the field as a structured-field string
// ("8e03978e-40d5-43e8-bc93-6894a57f9324", in double quotes); a bare token
// without quotes is accepted too, since many clients send one. The key must
// be 1 to 255 characters of letters, digits and "-_.:~+/=", which covers
// UUIDs, ULIDs and base64 in both alphabets. More than one value, an
// unterminated or badly escaped string, or any other character is an
// error wrapping ErrMalformedKey; no value at all is ErrNoKey.
func ParseKey(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrNoKey
	case 1:
	default:
		return "", fmt.Errorf("%w: the field appears %d times", ErrMalformedKey, len(values))
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", fmt.Errorf("%w: empty", ErrMalformedKey)
	}
	if v[0] == '"' {
		s, err := unquote(v)
		if err != nil {
			return "", err
		}
		v = s
	}
	if len(v) == 0 {
		return "", fmt.Errorf("%w: empty", ErrMalformedKey)
	}
	if len(v) > MaxKeyLength {
		return "", fmt.Errorf("%w: %d characters, at most %d allowed", ErrMalformedKey, len(v), MaxKeyLength)
	}
	for i := 0; i < len(v); i++ {
		if !keyChar(v[i]) {
			return "", fmt.Errorf("%w: character %q at position %d is not allowed (use letters, digits and -_.:~+/=)", ErrMalformedKey, v[i], i+1)
		}
	}
	return v, nil
}

// unquote decodes an RFC 8941 sf-string: printable ASCII in double quotes,
// with \" and \\ as the only escapes.
func unquote(v string) (string, error) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", fmt.Errorf("%w: unterminated string", ErrMalformedKey)
	}
	inner := v[1 : len(v)-1]
	if !strings.ContainsAny(inner, `\"`) {
		return inner, nil
	}
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch c {
		case '\\':
			i++
			if i == len(inner) || (inner[i] != '"' && inner[i] != '\\') {
				return "", fmt.Errorf("%w: bad escape in string", ErrMalformedKey)
			}
			b.WriteByte(inner[i])
		case '"':
			return "", fmt.Errorf("%w: text after the closing quote", ErrMalformedKey)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':' || c == '~' || c == '+' || c == '/' || c == '='
}

package session

import "encoding/json"

// Codec turns session values into the strings stored in Redis and back.
// Integers must encode as plain decimal digits for Session.Incr to work on
// them, as JSON does.
type Codec interface {
	// Encode returns the stored form of v.
	Encode(v any) (string, error)
	// Decode parses data, as Encode made it, into dst (a pointer).
	Decode(data string, dst any) error
}

// JSONCodec stores values as JSON: readable in Redis, and fit for strings,
// numbers, booleans, times (RFC 3339), byte slices (base64) and structs.
type JSONCodec struct{}

// Encode returns the JSON encoding of v.
func (JSONCodec) Encode(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Decode parses the JSON data into dst.
func (JSONCodec) Decode(data string, dst any) error { return json.Unmarshal([]byte(data), dst) }

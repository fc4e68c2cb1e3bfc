package idempotency

import (
	"errors"
	"net/http"

	"github.com/redisware/redisware/core/internal/packed"
)

// response is a stored response.
type response struct {
	status   int
	header   http.Header
	body     []byte
	complete bool // false: the body was over the size limit and not kept
}

const codecVersion = 1

var errCorrupt = errors.New("idempotency: stored response is corrupt")

// encode packs r as: version, flags, status, the header, the body (see
// package packed).
func (r *response) encode() []byte {
	b := make([]byte, 0, 16+packed.HeaderSize(r.header)+len(r.body))
	flags := byte(0)
	if r.complete {
		flags = 1
	}
	b = append(b, codecVersion, flags)
	b = packed.AppendUvarint(b, uint64(r.status))
	b = packed.AppendHeader(b, r.header)
	return packed.AppendString(b, string(r.body))
}

func decode(b []byte) (*response, error) {
	if len(b) < 2 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	d := packed.NewDecoder(b[2:])
	r := &response{complete: b[1]&1 == 1}
	r.status = int(d.Uvarint())
	r.header = d.Header()
	r.body = []byte(d.String())
	if d.Err() != nil || d.Len() != 0 || r.status < 200 || r.status > 999 {
		return nil, errCorrupt
	}
	return r, nil
}

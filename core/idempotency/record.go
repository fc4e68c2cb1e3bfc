package idempotency

import (
	"encoding/binary"
	"errors"
	"net/http"
	"sort"
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

// encode packs r as: version, flags, status, header count, then for each
// header its name and values, then the body; all lengths as uvarints.
// Header names are sorted so equal responses encode equally.
func (r *response) encode() []byte {
	n := 16 + len(r.body)
	names := make([]string, 0, len(r.header))
	for k, vs := range r.header {
		names = append(names, k)
		n += len(k) + 4
		for _, v := range vs {
			n += len(v) + 4
		}
	}
	sort.Strings(names)
	b := make([]byte, 0, n)
	b = append(b, codecVersion)
	flags := byte(0)
	if r.complete {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(r.status))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = appendString(b, k)
		vs := r.header[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return appendString(b, string(r.body))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decode(b []byte) (*response, error) {
	d := decoder{b: b}
	if len(b) < 2 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	r := &response{complete: b[1]&1 == 1}
	d.b = b[2:]
	r.status = int(d.uvarint())
	nh := d.uvarint()
	if nh > uint64(len(d.b)) {
		return nil, errCorrupt
	}
	r.header = make(http.Header, nh)
	for i := uint64(0); i < nh && d.err == nil; i++ {
		k := d.string()
		nv := d.uvarint()
		if nv > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		vs := make([]string, 0, nv)
		for j := uint64(0); j < nv && d.err == nil; j++ {
			vs = append(vs, d.string())
		}
		r.header[k] = vs
	}
	r.body = []byte(d.string())
	if d.err != nil || len(d.b) != 0 || r.status < 200 || r.status > 999 {
		return nil, errCorrupt
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Package packed is the binary layout the cores store responses in
// (idempotency records, cache entries): uvarint lengths and counts,
// strings, and HTTP headers with their names sorted and every value kept,
// decoded defensively so a corrupt or hostile value can neither panic nor
// make a large allocation.
package packed

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
)

// ErrCorrupt is the error of every value that does not decode.
var ErrCorrupt = errors.New("packed: corrupt value")

// AppendUvarint appends v.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendVarint appends v.
func AppendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendString appends s with its length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendStrings appends a count, then each string.
func AppendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = AppendString(b, s)
	}
	return b
}

// AppendHeader appends h: its field count, then each name (sorted, so
// equal headers pack equally) with its values, all of them, in order.
func AppendHeader(b []byte, h http.Header) []byte {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = AppendString(b, k)
		b = AppendStrings(b, h[k])
	}
	return b
}

// HeaderSize estimates the bytes AppendHeader writes for h.
func HeaderSize(h http.Header) int {
	n := 4
	for k, vs := range h {
		n += len(k) + 4
		for _, v := range vs {
			n += len(v) + 4
		}
	}
	return n
}

// Decoder reads what the Append functions wrote. Its first failure sticks:
// every later read returns a zero value, and Err reports ErrCorrupt.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns ErrCorrupt if any read failed.
func (d *Decoder) Err() error { return d.err }

// Len returns how many bytes are left.
func (d *Decoder) Len() int { return len(d.b) }

// Uvarint reads an unsigned number.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed number.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Count reads a length that must not exceed the bytes left (every counted
// item takes at least one byte), so a corrupt count cannot allocate much.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if n > uint64(len(d.b)) {
		d.err = ErrCorrupt
		return 0
	}
	return int(n)
}

// Bytes reads a length-prefixed byte string; the result shares the input.
func (d *Decoder) Bytes() []byte {
	n := d.Count()
	if d.err != nil {
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

// String reads a length-prefixed string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Strings reads what AppendStrings wrote (nil for none).
func (d *Decoder) Strings() []string {
	n := d.Count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Header reads what AppendHeader wrote; a header of no fields is an empty,
// non-nil map.
func (d *Decoder) Header() http.Header {
	n := d.Count()
	h := make(http.Header, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.String()
		vs := d.Strings()
		if vs == nil {
			vs = []string{}
		}
		h[k] = vs
	}
	return h
}

package httpcache

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
)

// entry is one stored response (or, for the data API, one value: status
// 0, no header). All times are Unix milliseconds of the instance that
// stored it; all durations milliseconds.
type entry struct {
	status int
	header http.Header
	body   []byte
	// stored is when the response was received (RFC 9111 response_time).
	stored int64
	// initAge is the corrected initial age (RFC 9111 section 4.2.3): how
	// old the response already was when it was stored.
	initAge int64
	// lifetime is the freshness lifetime.
	lifetime int64
	// swr and sie are the stale-while-revalidate and stale-if-error
	// windows (RFC 5861), past the end of freshness.
	swr, sie int64
	// keep is how long after stored the entry may be used at all; Redis
	// drops it at the same time.
	keep int64
	// noStale: must-revalidate, proxy-revalidate or s-maxage forbid
	// serving the entry stale (other than where swr and sie allow it).
	noStale bool
	// tags index the entry for InvalidateTags.
	tags []string
}

// age returns the entry's current age at now (RFC 9111 section 4.2.3).
func (e *entry) age(now int64) int64 { return e.initAge + max(0, now-e.stored) }

// ttl returns the freshness left at now; negative when stale.
func (e *entry) ttl(now int64) int64 { return e.lifetime - e.age(now) }

// gone reports whether the entry is past its retention at now.
func (e *entry) gone(now int64) bool { return now >= e.stored+e.keep }

// size is the memory the entry holds, roughly, for the local tier's
// budget.
func (e *entry) size() int {
	n := len(e.body) + 128
	for k, vs := range e.header {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for _, t := range e.tags {
		n += len(t) + 16
	}
	return n
}

const (
	codecVersion   = 1
	flagCompressed = 1 << 0
	flagNoStale    = 1 << 1
)

var errCorrupt = errors.New("httpcache: stored entry is corrupt")

// encode packs e as: version, flags, status, the times, the tags, the
// header (names sorted, so equal entries encode equally), then the body,
// deflated when it is at least compressAbove bytes (negative: never) and
// deflating saves an eighth or more. Lengths and numbers are varints.
func (e *entry) encode(compressAbove int) []byte {
	body, flags := e.body, byte(0)
	if compressAbove >= 0 && len(body) >= compressAbove && len(body) > 0 {
		if z := deflate(body); len(z) < len(body)-len(body)/8 {
			body, flags = z, flagCompressed
		}
	}
	if e.noStale {
		flags |= flagNoStale
	}
	names := make([]string, 0, len(e.header))
	n := 64 + len(body)
	for k, vs := range e.header {
		names = append(names, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	slices.Sort(names)
	b := make([]byte, 0, n)
	b = append(b, codecVersion, flags)
	b = binary.AppendUvarint(b, uint64(e.status))
	for _, v := range []int64{e.stored, e.initAge, e.lifetime, e.swr, e.sie, e.keep} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.tags)))
	for _, t := range e.tags {
		b = appendString(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = appendString(b, k)
		vs := e.header[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	if flags&flagCompressed != 0 {
		b = binary.AppendUvarint(b, uint64(len(e.body)))
	}
	return appendString(b, string(body))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeEntry unpacks what encode packed. maxBody bounds the inflated body
// (negative: no bound), so a corrupt or hostile value cannot inflate
// without limit.
func decodeEntry(b []byte, maxBody int) (*entry, error) {
	if len(b) < 2 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	flags := b[1]
	d := decoder{b: b[2:]}
	e := &entry{noStale: flags&flagNoStale != 0}
	e.status = int(d.uvarint())
	for _, p := range []*int64{&e.stored, &e.initAge, &e.lifetime, &e.swr, &e.sie, &e.keep} {
		*p = d.varint()
	}
	nt := d.count()
	if nt > 0 {
		e.tags = make([]string, 0, nt)
		for i := 0; i < nt && d.err == nil; i++ {
			e.tags = append(e.tags, d.string())
		}
	}
	nh := d.count()
	if nh > 0 || e.status != 0 {
		e.header = make(http.Header, nh)
	}
	for i := 0; i < nh && d.err == nil; i++ {
		k := d.string()
		nv := d.count()
		vs := make([]string, 0, nv)
		for j := 0; j < nv && d.err == nil; j++ {
			vs = append(vs, d.string())
		}
		e.header[k] = vs
	}
	rawLen := -1
	if flags&flagCompressed != 0 {
		if n := d.uvarint(); n < 1<<31 {
			rawLen = int(n)
		} else {
			d.err = errCorrupt
		}
	}
	body := d.bytes()
	if d.err != nil || len(d.b) != 0 || (e.status != 0 && (e.status < 100 || e.status > 999)) {
		return nil, errCorrupt
	}
	if rawLen >= 0 {
		if maxBody >= 0 && rawLen > maxBody {
			return nil, errCorrupt
		}
		raw, err := inflate(body, rawLen)
		if err != nil {
			return nil, errCorrupt
		}
		body = raw
	}
	e.body = body
	return e, nil
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

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must not exceed the bytes left (every counted
// item takes at least one byte), so a corrupt count cannot allocate much.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

var flaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func deflate(p []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(p) / 2)
	w := flaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(p)
	_ = w.Close()
	flaters.Put(w)
	return buf.Bytes()
}

func inflate(z []byte, rawLen int) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(z))
	defer r.Close()
	out := make([]byte, rawLen)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, err
	}
	// the stream must end exactly there
	var one [1]byte
	if n, _ := r.Read(one[:]); n != 0 {
		return nil, errCorrupt
	}
	return out, nil
}

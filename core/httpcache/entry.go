package httpcache

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net/http"
	"sync"
	"unsafe"

	"github.com/redisware/redisware/core/internal/packed"
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
	// noStale: must-revalidate, proxy-revalidate, s-maxage or no-cache
	// forbid serving the entry stale; swr and sie are then zero.
	noStale bool
	// tags index the entry for InvalidateTags.
	tags []string
	// gen is the generation of the entry's key when it was read from
	// Redis (see forget.lua), kept with it in the in-process tier; it is
	// not part of the stored entry.
	gen string
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
	b := make([]byte, 0, 64+len(body)+packed.HeaderSize(e.header))
	b = append(b, codecVersion, flags)
	b = packed.AppendUvarint(b, uint64(e.status))
	for _, v := range []int64{e.stored, e.initAge, e.lifetime, e.swr, e.sie, e.keep} {
		b = packed.AppendVarint(b, v)
	}
	b = packed.AppendStrings(b, e.tags)
	b = packed.AppendHeader(b, e.header)
	if flags&flagCompressed != 0 {
		b = packed.AppendUvarint(b, uint64(len(e.body)))
	}
	return packed.AppendString(b, string(body))
}

// decodeEntry unpacks what encode packed. maxBody bounds the inflated body
// (negative: no bound), so a corrupt or hostile value cannot inflate
// without limit.
func decodeEntry(b []byte, maxBody int) (*entry, error) {
	if len(b) < 2 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	flags := b[1]
	d := packed.NewDecoder(b[2:])
	e := &entry{noStale: flags&flagNoStale != 0}
	e.status = int(d.Uvarint())
	for _, p := range []*int64{&e.stored, &e.initAge, &e.lifetime, &e.swr, &e.sie, &e.keep} {
		*p = d.Varint()
	}
	e.tags = d.Strings()
	if n := d.Count(); n > 0 || e.status != 0 {
		// as packed.Decoder.Header, after its count: a value (status 0)
		// has no fields, and gets no map
		e.header = make(http.Header, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			k := d.String()
			vs := d.Strings()
			if vs == nil {
				vs = []string{}
			}
			e.header[k] = vs
		}
	}
	rawLen := -1
	if flags&flagCompressed != 0 {
		n := d.Uvarint()
		if n >= 1<<31 {
			return nil, errCorrupt
		}
		rawLen = int(n)
	}
	body := d.Bytes()
	if d.Err() != nil || d.Len() != 0 || (e.status != 0 && (e.status < 100 || e.status > 999)) {
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

// bytesOf returns the bytes of s without copying them, for decodeEntry,
// which only reads them: an entry's body may share them, and nothing
// writes to an entry's body.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

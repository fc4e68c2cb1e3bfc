package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dunglas/httpsfv"
)

// ErrInvalidLimit is wrapped by every error about a Limit that cannot work.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Limit is one rule: at most Rate units per Period, with bursts of up to
// Burst units. Build it with PerSecond, PerMinute, PerHour, PerDay or
// NewLimit; a Limit is a small value, safe to copy.
type Limit struct {
	// Name identifies the limit in the RateLimit and RateLimit-Policy
	// headers, where it is an RFC 9651 string: printable ASCII, quotes and
	// backslashes included (they are escaped). Zero means the limiter's
	// name (Options.Name) for a limiter with one limit, and
	// "<rate>-per-<period>" (such as "1000-per-1h0m0s") when a limiter has
	// several.
	Name string
	// Rate is how many units (requests, at cost 1) Period allows. It must
	// be at least 1.
	Rate int
	// Period is the length of the window (window algorithms) or the time
	// in which Rate units are replenished (GCRA). It must be at least one
	// millisecond and a whole number of microseconds.
	Period time.Duration
	// Burst is how many units GCRA admits at once from a full bucket; zero
	// means Rate. Window algorithms admit Rate per window and require Burst
	// to be zero or Rate.
	Burst int
}

// PerSecond returns a limit of rate units per second, with a burst of rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second} }

// PerMinute returns a limit of rate units per minute, with a burst of rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// PerHour returns a limit of rate units per hour, with a burst of rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour} }

// PerDay returns a limit of rate units per 24 hours, with a burst of rate.
func PerDay(rate int) Limit { return Limit{Rate: rate, Period: 24 * time.Hour} }

// NewLimit returns the limit of rate units per period with the given burst
// (0 means rate), or an error wrapping ErrInvalidLimit that says what is
// wrong. It is the constructor to use for limits that come from
// configuration.
func NewLimit(rate int, period time.Duration, burst int) (Limit, error) {
	l := Limit{Rate: rate, Period: period, Burst: burst}
	return l, l.Validate()
}

// WithBurst returns a copy of l with Burst set to burst.
func (l Limit) WithBurst(burst int) Limit { l.Burst = burst; return l }

// WithName returns a copy of l with Name set to name.
func (l Limit) WithName(name string) Limit { l.Name = name; return l }

// Validate reports, as an error wrapping ErrInvalidLimit, why l cannot be
// used, or nil.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1:
		return fmt.Errorf("%w: rate %d, must be at least 1", ErrInvalidLimit, l.Rate)
	case l.Period < time.Millisecond:
		return fmt.Errorf("%w: period %v, must be at least 1ms", ErrInvalidLimit, l.Period)
	case l.Period%time.Microsecond != 0:
		return fmt.Errorf("%w: period %v is not a whole number of microseconds", ErrInvalidLimit, l.Period)
	case l.Burst < 0:
		return fmt.Errorf("%w: burst %d is negative", ErrInvalidLimit, l.Burst)
	case l.Period/time.Microsecond < time.Duration(l.Rate):
		return fmt.Errorf("%w: %d per %v is faster than one unit per microsecond", ErrInvalidLimit, l.Rate, l.Period)
	}
	if _, err := sfString(l.Name); err != nil {
		return fmt.Errorf("%w: name %q is not an RFC 9651 string (printable ASCII only): %w", ErrInvalidLimit, l.Name, err)
	}
	return nil
}

// sfString serialises name as an RFC 9651 string, the form the RateLimit
// headers carry it in: quoted, with quotes and backslashes escaped. It
// fails for anything but printable ASCII. Limiters call it once, in New.
func sfString(name string) (string, error) {
	return httpsfv.Marshal(httpsfv.NewItem(name))
}

// burst returns the effective burst.
func (l Limit) burst() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// String returns a readable form such as "100/1m0s burst 20".
func (l Limit) String() string {
	s := strconv.Itoa(l.Rate) + "/" + l.Period.String()
	if l.Burst != 0 && l.Burst != l.Rate {
		s += " burst " + strconv.Itoa(l.Burst)
	}
	return s
}

// Algorithm chooses how a Limiter counts.
type Algorithm int

const (
	// GCRA is the generic cell rate algorithm: a token bucket of Burst
	// units refilled at Rate per Period, kept in one number per key. It
	// smooths traffic and is the default.
	GCRA Algorithm = iota
	// SlidingWindowLog is exact: at most Rate units in any window of
	// Period. It keeps one sorted-set member per unit consumed, so its
	// memory grows with Rate.
	SlidingWindowLog
	// SlidingWindowCounter approximates a sliding window from the counts
	// of the current and previous aligned windows, in O(1) memory.
	SlidingWindowCounter
	// FixedWindow admits Rate units per window of Period; a window opens
	// with the first request after the previous one closed. Up to twice
	// Rate can pass around a window edge. It is the cheapest algorithm in
	// Redis: an admitted request costs an INCRBY and a PTTL.
	FixedWindow
)

// String returns the algorithm's name.
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case SlidingWindowLog:
		return "sliding-window-log"
	case SlidingWindowCounter:
		return "sliding-window-counter"
	case FixedWindow:
		return "fixed-window"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// code is the short form of the algorithm used in keys.
func (a Algorithm) code() string {
	return [...]string{"g", "sl", "sc", "f"}[a]
}

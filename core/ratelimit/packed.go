package ratelimit

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redisware/redisware/core/internal/script"
)

// keySuffix names the rule of lim under algorithm a in its key, so that
// changing a limit starts fresh state instead of misreading the old one:
// ":g:100/1m" for GCRA at 100 a minute with a burst of 100,
// ":g:100/1m:b20" with a burst of 20. The period is written in its largest
// whole unit (h, m, s, ms or us), so each rule has exactly one suffix.
func keySuffix(a Algorithm, lim Limit) string {
	s := ":" + a.code() + ":" + strconv.Itoa(lim.Rate) + "/" + shortPeriod(lim.Period)
	if b := lim.burst(); b != lim.Rate {
		s += ":b" + strconv.Itoa(b)
	}
	return s
}

// shortPeriod writes d, a whole number of microseconds, in its largest
// whole unit.
func shortPeriod(d time.Duration) string {
	for _, u := range [...]struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(d.Microseconds(), 10) + "us"
}

// maxPacked bounds a packed reply: Lua numbers are doubles, exact up to
// 2^53; the bound keeps a margin below it.
const maxPacked = 1 << 52

// packedScript returns the packed script of a one-limit policy of lim under
// algorithm a, the arguments it takes after the cost, and the largest cost
// it takes (higher costs, which can never be admitted, go to the general
// script); or nil when a has none, or lim's numbers could not be packed
// into one exact Lua number.
func packedScript(a Algorithm, lim Limit, appClock bool) (*script.Script, []interface{}, int) {
	switch a {
	case GCRA:
		burst := lim.burst()
		interval := float64(lim.Period.Microseconds()) / float64(lim.Rate)
		// An admitted reply is reset * (burst + 1) + remaining, where
		// reset is at most the tolerance (interval * burst) and a
		// microsecond of rounding.
		if (interval*float64(burst)+3)*float64(burst+1) >= maxPacked {
			return nil, nil, 0
		}
		// The shortest form that parses back to the same double: the
		// script computes with exactly the interval gcra.lua divides out.
		return gcraOne, []interface{}{strconv.FormatFloat(interval, 'f', -1, 64), strconv.Itoa(burst)}, burst
	case FixedWindow:
		if appClock {
			return nil, nil, 0
		}
		ms := periodMillis(lim.Period)
		// The reply is used * (ms + 1) + left, with used at most the rate
		// plus a cost of at most the rate.
		if float64(2*lim.Rate+1)*float64(ms+1) >= maxPacked {
			return nil, nil, 0
		}
		return fixedWindowOne, []interface{}{strconv.Itoa(lim.Rate), strconv.FormatInt(ms, 10)}, lim.Rate
	}
	return nil, nil, 0
}

// periodMillis is the TTL of a window of d: d in milliseconds, rounded up.
func periodMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// unpack reads the reply of a's packed script for lim and a request of
// cost: the same State as the general script's four numbers give, and, for
// an admitted request, how long from the decision on another request of
// the same cost will be denied (zero if it would be admitted now): the
// request took what was left.
func unpack(a Algorithm, lim Limit, cost int, reply interface{}) (State, time.Duration, error) {
	st := State{Limit: lim}
	switch a {
	case GCRA:
		switch v := reply.(type) {
		case int64: // admitted
			burst := lim.burst()
			m := int64(burst) + 1
			st.Allowed = true
			st.Remaining = int(v % m)
			reset := v / m
			st.ResetAfter = time.Duration(reset) * time.Microsecond
			if st.Remaining >= cost {
				return st, 0, nil
			}
			// Another request of cost, at once, would be told to retry
			// after ceil(r + x) µs, where r is the exact time until the
			// bucket is full (reset is r rounded up) and x how much
			// further cost units take it past the burst. This is the
			// least that can be, reset and r + x when x is whole.
			interval := float64(lim.Period.Microseconds()) / float64(lim.Rate)
			next := math.Floor(float64(reset-1)+interval*float64(cost-burst)) + 1
			if next < 1 {
				return st, 0, nil
			}
			return st, time.Duration(next) * time.Microsecond, nil
		case []interface{}: // denied: remaining, retry after, reset after
			var n [3]int64
			if len(v) != len(n) {
				break
			}
			for i := range n {
				x, ok := v[i].(int64)
				if !ok {
					return State{}, 0, fmt.Errorf("unexpected script reply %T", v[i])
				}
				n[i] = x
			}
			st.Remaining = int(max(n[0], 0))
			st.RetryAfter = time.Duration(n[1]) * time.Microsecond
			st.ResetAfter = time.Duration(max(n[2], 0)) * time.Microsecond
			return st, 0, nil
		}
	case FixedWindow:
		v, ok := reply.(int64)
		if !ok {
			break
		}
		m := periodMillis(lim.Period) + 1
		used, left := int(v/m), v%m
		reset := min(time.Duration(left)*time.Millisecond, lim.Period)
		st.ResetAfter = reset
		if used > lim.Rate {
			// taken back: the window holds what it held before
			st.Remaining, st.RetryAfter = lim.Rate-(used-cost), reset
			return st, 0, nil
		}
		st.Allowed, st.Remaining = true, lim.Rate-used
		if st.Remaining >= cost {
			return st, 0, nil
		}
		// the next request waits for the window to close, which PTTL
		// rounds down
		return st, reset, nil
	}
	return State{}, 0, fmt.Errorf("unexpected script reply %v (%T)", reply, reply)
}

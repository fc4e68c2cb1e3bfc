package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestDenyCacheBounded(t *testing.T) {
	c := newDenyCache(160)
	now := time.Unix(1_800_000_000, 0)
	for i := 0; i < 10000; i++ {
		c.put(c.ticket("k"+strconv.Itoa(i)), "k"+strconv.Itoa(i), 1, now, now.Add(time.Hour), Result{})
		if n := c.len(); n > 160 {
			t.Fatalf("after %d puts the cache holds %d entries, bound is 160", i+1, n)
		}
	}
	// the newest entry is always kept
	if _, ok := c.get("k9999", 1, now); !ok {
		t.Fatal("newest entry evicted")
	}
}

func TestDenyCacheGet(t *testing.T) {
	c := newDenyCache(10)
	at := time.Unix(1_800_000_000, 0)
	c.put(c.ticket("k"), "k", 2, at, at.Add(time.Second), Result{ResetAfter: 5 * time.Second,
		States: []State{{RetryAfter: time.Second, ResetAfter: 5 * time.Second}}})
	if _, ok := c.get("k", 1, at); ok {
		t.Fatal("a smaller cost was answered")
	}
	if _, ok := c.get("k", 3, at); ok {
		t.Fatal("a larger cost was answered")
	}
	res, ok := c.get("k", 2, at.Add(400*time.Millisecond))
	if !ok || !res.Local || res.RetryAfter != 600*time.Millisecond || res.ResetAfter != 4600*time.Millisecond ||
		res.States[0].RetryAfter != 600*time.Millisecond {
		t.Fatalf("get = %+v %v", res, ok)
	}
	if _, ok := c.get("k", 2, at.Add(time.Second)); ok {
		t.Fatal("answered at the instant the denial ends")
	}
	c.forget(c.ticket("k"), "k", at.Add(-time.Millisecond)) // an admission sent before the denial
	if _, ok := c.get("k", 2, at); !ok {
		t.Fatal("forget dropped a newer entry")
	}
	c.forget(c.ticket("k"), "k", at)
	if _, ok := c.get("k", 2, at); ok {
		t.Fatal("forget kept the entry")
	}
}

// A denial whose ticket was taken before a reset of its key is not filed;
// one taken after it is. A reset of another key of the same stripe costs
// the same lost entry, and nothing else.
func TestDenyCacheResetGeneration(t *testing.T) {
	c := newDenyCache(100)
	at := time.Unix(1_800_000_000, 0)
	until := at.Add(time.Minute)
	before := c.ticket("k")
	c.reset("k")
	c.put(before, "k", 1, at, until, Result{})
	if _, ok := c.get("k", 1, at); ok {
		t.Fatal("a denial sent before the reset was filed after it")
	}
	after := c.ticket("k")
	c.put(after, "k", 1, at, until, Result{})
	if _, ok := c.get("k", 1, at); !ok {
		t.Fatal("a denial sent after the reset was not filed")
	}
	c.reset("k")
	if _, ok := c.get("k", 1, at); ok {
		t.Fatal("reset kept the entry")
	}
	// another key, in another stripe, is untouched by a reset of k
	other := ""
	for i := 0; other == ""; i++ {
		o := c.ticket("o" + strconv.Itoa(i))
		if k := c.ticket("k"); o.s != k.s || o.stripe != k.stripe {
			other = "o" + strconv.Itoa(i)
		}
	}
	tk := c.ticket(other)
	c.reset("k")
	c.put(tk, other, 1, at, until, Result{})
	if _, ok := c.get(other, 1, at); !ok {
		t.Fatal("a reset of k barred a key of another stripe")
	}
}

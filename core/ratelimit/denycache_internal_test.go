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
		c.put("k"+strconv.Itoa(i), 1, now, now.Add(time.Hour), Result{})
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
	c.put("k", 2, at, at.Add(time.Second), Result{ResetAfter: 5 * time.Second,
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
	c.forget("k", at.Add(-time.Millisecond)) // an admission sent before the denial
	if _, ok := c.get("k", 2, at); !ok {
		t.Fatal("forget dropped a newer entry")
	}
	c.forget("k", at)
	if _, ok := c.get("k", 2, at); ok {
		t.Fatal("forget kept the entry")
	}
}

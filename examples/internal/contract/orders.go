package contract

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// order is the 201 body of POST /orders.
type order struct {
	OrderID int64  `json:"order_id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
}

func keyed(key string) http.Header {
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	h.Set("Content-Type", "application/json")
	return h
}

// wantOrder checks a 201 answer and returns its order.
func wantOrder(t *testing.T, r *response, item string, qty int) order {
	t.Helper()
	if r.StatusCode != http.StatusCreated || r.mediaType() != "application/json" {
		t.Fatalf("%s: %d %q %s, want 201 application/json", r.req, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
	}
	var o order
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil || o.OrderID < 1 || o.Item != item || o.Qty != qty {
		t.Fatalf("%s: body %s (%v), want an order of %d %s", r.req, r.Body, err, qty, item)
	}
	return o
}

// wantProblem checks an RFC 9457 problem answer.
func wantProblem(t *testing.T, r *response, status int) {
	t.Helper()
	if r.StatusCode != status || r.mediaType() != "application/problem+json" {
		t.Fatalf("%s: %d %q %s, want %d application/problem+json", r.req, r.StatusCode, r.Header.Get("Content-Type"), r.Body, status)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Fatalf("%s: problem %s (%v)", r.req, r.Body, err)
	}
}

// testOrders drives POST /orders as a client with flaky retries would.
func testOrders(t *testing.T, c *client) {
	post := func(key, body string) *response { return c.do(t, http.MethodPost, "/orders", keyed(key), body) }
	book := `{"item":"book","qty":2}`

	wantProblem(t, post("", book), http.StatusBadRequest)
	wantProblem(t, post(strings.Repeat("k", 256), book), http.StatusBadRequest)
	wantProblem(t, post("bad key", book), http.StatusBadRequest)

	first := post(`"order-aaaa-0001"`, book)
	o1 := wantOrder(t, first, "book", 2)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the first answer claims to be a replay")
	}
	for i := 0; i < 3; i++ {
		again := post(`"order-aaaa-0001"`, book)
		if again.StatusCode != 201 || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d: %d %s replayed=%q, want the first body %s", i, again.StatusCode, again.Body, again.Header.Get("Idempotent-Replayed"), first.Body)
		}
	}
	// the bare-token form is the same key
	if again := post("order-aaaa-0001", book); !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("bare-token retry: %s", again.Body)
	}
	wantProblem(t, post(`"order-aaaa-0001"`, `{"item":"pen","qty":1}`), http.StatusUnprocessableEntity)

	// A new key is a new execution: the number counts real runs only.
	o2 := wantOrder(t, post(`"order-aaaa-0002"`, `{"item":"pen","qty":1}`), "pen", 1)
	if o2.OrderID != o1.OrderID+1 {
		t.Fatalf("second order is %d after %d: a replay took a number, or an order ran twice", o2.OrderID, o1.OrderID)
	}

	// An invalid order is answered 400 and that answer is kept too.
	bad := post(`"order-aaaa-0003"`, `{"item":"","qty":0}`)
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(string(bad.Body), `"error"`) {
		t.Fatalf("invalid order: %d %s", bad.StatusCode, bad.Body)
	}
	if again := post(`"order-aaaa-0003"`, `{"item":"","qty":0}`); again.StatusCode != 400 || !bytes.Equal(again.Body, bad.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry of the invalid order: %d %s", again.StatusCode, again.Body)
	}

	// Concurrent duplicates: one execution; every answer is 409 or the
	// one stored response.
	const n = 20
	resps := make([]*response, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resps[i] = post(`"order-aaaa-0004"`, `{"item":"lamp","qty":3}`)
		}(i)
	}
	wg.Wait()
	var stored []byte
	for i, r := range resps {
		switch r.StatusCode {
		case http.StatusConflict:
			wantProblem(t, r, http.StatusConflict)
			if r.Header.Get("Retry-After") == "" {
				t.Fatalf("409 %d without Retry-After", i)
			}
		case http.StatusCreated:
			if stored == nil {
				stored = r.Body
			} else if !bytes.Equal(r.Body, stored) {
				t.Fatalf("two different 201 bodies: %s and %s", stored, r.Body)
			}
		default:
			t.Fatalf("duplicate %d: %d %s", i, r.StatusCode, r.Body)
		}
	}
	final := post(`"order-aaaa-0004"`, `{"item":"lamp","qty":3}`)
	o4 := wantOrder(t, final, "lamp", 3)
	if stored != nil && !bytes.Equal(final.Body, stored) {
		t.Fatalf("replay %s differs from the stored %s", final.Body, stored)
	}
	o5 := wantOrder(t, post(`"order-aaaa-0005"`, book), "book", 2)
	if o4.OrderID != o2.OrderID+1 || o5.OrderID != o4.OrderID+1 {
		t.Fatalf("orders %d, %d after %d: the duplicates ran more than once", o4.OrderID, o5.OrderID, o2.OrderID)
	}
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redisware/redisware/core/idempotency"
)

// OrderDelay is how long creating an order takes: long enough for clients
// to send duplicates while the first is still running.
const OrderDelay = 200 * time.Millisecond

// NewOrdersGuard returns the idempotency guard of POST /orders: the
// Idempotency-Key is required, and the default scope applies (the
// Authorization header's hash, else the client address).
func NewOrdersGuard(b Backend) (*idempotency.Guard, error) {
	return idempotency.New(b.Client, idempotency.Options{Settings: b.Settings(), Name: "orders", Required: true})
}

// OrderRequest is the body of POST /orders.
type OrderRequest struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// Order is the body of a 201 answer to POST /orders.
type Order struct {
	OrderID int64  `json:"order_id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
}

// ParseOrder decodes and validates a POST /orders body; the error message
// is fit for the client.
func ParseOrder(body []byte) (OrderRequest, error) {
	var req OrderRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, errors.New("body must be JSON {\"item\":\"...\",\"qty\":N}")
	}
	if strings.TrimSpace(req.Item) == "" {
		return req, errors.New("item must not be empty")
	}
	if req.Qty < 1 {
		return req, errors.New("qty must be at least 1")
	}
	return req, nil
}

// Orders creates orders, numbering them by how many really ran in this
// process: a replayed response never takes a number.
type Orders struct {
	executed atomic.Int64
}

// Create makes an order, taking OrderDelay (or until ctx ends).
func (o *Orders) Create(ctx context.Context, req OrderRequest) Order {
	t := time.NewTimer(OrderDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return Order{OrderID: o.executed.Add(1), Item: req.Item, Qty: req.Qty}
}

// Executed returns how many orders were created.
func (o *Orders) Executed() int64 { return o.executed.Load() }

package browser_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// cdpConn is the small part of the Chrome DevTools Protocol this test
// needs, over the pipe that chromium opens with --remote-debugging-pipe:
// commands go to the browser's file descriptor 3, answers and events come
// back on its descriptor 4, each message one JSON object followed by a NUL
// byte. With flatten mode every page session shares this one pipe; a
// message names its session in "sessionId".
type cdpConn struct {
	w *os.File // to the browser (its fd 3)
	r *os.File // from the browser (its fd 4)

	wmu sync.Mutex // serialises writes, so messages never interleave

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage // calls waiting for their answer

	events  chan cdpMessage // events, in order; dropped when full
	dropped atomic.Int64    // events dropped because events was full

	done chan struct{} // closed when the reader stops
	err  error         // why the reader stopped; read only after done
}

// cdpMessage is a message from the browser: an answer (ID set) or an
// event (Method set).
type cdpMessage struct {
	ID        int64           `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
	Result    json.RawMessage `json:"result"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// cdpRequest is a command to the browser.
type cdpRequest struct {
	ID        int64  `json:"id"`
	Method    string `json:"method"`
	Params    any    `json:"params,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
}

// newCDPConn starts reading answers and events from r.
func newCDPConn(w, r *os.File) *cdpConn {
	c := &cdpConn{
		w:       w,
		r:       r,
		pending: map[int64]chan cdpMessage{},
		events:  make(chan cdpMessage, 1024),
		done:    make(chan struct{}),
	}
	go c.read()
	return c
}

func (c *cdpConn) read() {
	defer close(c.done)
	br := bufio.NewReader(c.r)
	for {
		b, err := br.ReadBytes(0)
		if err != nil {
			c.err = fmt.Errorf("reading the DevTools pipe: %w", err)
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
			c.err = fmt.Errorf("decoding a DevTools message %.200q: %w", b, err)
			return
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m // buffered: never blocks
			}
			continue
		}
		select {
		case c.events <- m:
		default:
			c.dropped.Add(1)
		}
	}
}

// call sends method with params to the target of session ("" for the
// browser itself), waits for its answer until ctx is done and decodes the
// answer's result into result, unless result is nil.
func (c *cdpConn) call(ctx context.Context, session, method string, params, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	b, err := json.Marshal(cdpRequest{ID: id, Method: method, Params: params, SessionID: session})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	c.wmu.Lock()
	_, err = c.w.Write(append(b, 0))
	c.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: writing to the DevTools pipe: %w", method, err)
	}

	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: DevTools error %d: %s %s", method, m.Error.Code, m.Error.Message, m.Error.Data)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: decoding %.200q: %w", method, m.Result, err)
			}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer: %w", method, context.Cause(ctx))
	case <-c.done:
		return fmt.Errorf("%s: %w", method, c.err)
	}
}

// drainEvents forgets the events received so far.
func (c *cdpConn) drainEvents() {
	for {
		select {
		case <-c.events:
		default:
			return
		}
	}
}

// waitEvent waits until ctx is done for the event method of session,
// skipping any other event, and returns its parameters.
func (c *cdpConn) waitEvent(ctx context.Context, session, method string) (json.RawMessage, error) {
	for {
		select {
		case m := <-c.events:
			if m.Method == method && m.SessionID == session {
				return m.Params, nil
			}
		case <-ctx.Done():
			err := fmt.Errorf("waiting for %s: %w", method, context.Cause(ctx))
			if n := c.dropped.Load(); n > 0 {
				err = fmt.Errorf("%w (%d events were dropped)", err, n)
			}
			return nil, err
		case <-c.done:
			return nil, fmt.Errorf("waiting for %s: %w", method, c.err)
		}
	}
}

// close closes both ends of the pipe that are ours; the reader stops.
func (c *cdpConn) close() {
	_ = c.w.Close()
	_ = c.r.Close()
	<-c.done
}

// cdpPage is one page (tab) of the browser, attached in flatten mode.
type cdpPage struct {
	c       *cdpConn
	session string
}

// newPage opens a blank page and attaches to it.
func (c *cdpConn) newPage(ctx context.Context) (*cdpPage, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p := &cdpPage{c: c, session: attached.SessionID}
	if err := p.call(ctx, "Page.enable", nil, nil); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *cdpPage) call(ctx context.Context, method string, params, result any) error {
	return p.c.call(ctx, p.session, method, params, result)
}

// navigate loads url in the page and waits for its load event.
func (p *cdpPage) navigate(ctx context.Context, url string) error {
	p.c.drainEvents()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.call(ctx, "Page.navigate", map[string]any{"url": url}, &res); err != nil {
		return err
	}
	if res.ErrorText != "" {
		return fmt.Errorf("Page.navigate %s: %s", url, res.ErrorText)
	}
	_, err := p.c.waitEvent(ctx, p.session, "Page.loadEventFired")
	return err
}

// reload reloads the page, as the user's reload button does, and waits
// for its load event.
func (p *cdpPage) reload(ctx context.Context) error {
	p.c.drainEvents()
	if err := p.call(ctx, "Page.reload", nil, nil); err != nil {
		return err
	}
	_, err := p.c.waitEvent(ctx, p.session, "Page.loadEventFired")
	return err
}

// eval runs the JavaScript expression in the page, awaits it when it is a
// promise, and decodes its value, which must be JSON-serialisable, into out.
// A thrown exception is an error.
func (p *cdpPage) eval(ctx context.Context, expression string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expression, "awaitPromise": true, "returnByValue": true}
	if err := p.call(ctx, "Runtime.evaluate", params, &res); err != nil {
		return err
	}
	if d := res.ExceptionDetails; d != nil {
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		return fmt.Errorf("JavaScript threw: %s\n%s", msg, expression)
	}
	if out == nil {
		return nil
	}
	if len(res.Result.Value) == 0 {
		return errors.New("JavaScript returned no value (type " + res.Result.Type + ")")
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		return fmt.Errorf("decoding the value %.200q of JavaScript: %w", res.Result.Value, err)
	}
	return nil
}

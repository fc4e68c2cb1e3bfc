package contract

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// replyLoss is a go-redis hook on one instance's faulty client that makes
// one chosen script call lose its reply: when the call is about to be sent,
// it arms the instance's Faults (DropScriptReplies(1)), so the server runs
// the script and its reply never reaches the app. A Faults alone drops the
// reply of the next script call, whichever it is; a request makes several
// (the app-wide rate limit, the session's load, then the guard's claim),
// and the hook picks the one a test means. The armed drop meets the very
// call that armed it as long as the instance writes no other script call
// meanwhile: the tests send one request at a time, and wait for the
// background calls a failure starts (the guard giving up a claim) to end.
type replyLoss struct {
	faults *redistest.Faults
	// admin asks the server, outside the faults, whether it has a script.
	admin redis.UniversalClient

	mu    sync.Mutex
	match func(c scriptCall) bool // nil: no loss pending
	skip  int                     // matching calls still to let through
	lost  []scriptCall            // calls that lost their reply, since settle
}

// scriptCall is an EVAL or EVALSHA command, as sent.
type scriptCall struct {
	name string // "evalsha" or "eval"
	hash string // evalsha: the SHA-1 of the script
	keys []string
	argv []string
}

// parseScriptCall returns the script call args make, or false.
func parseScriptCall(args []any) (scriptCall, bool) {
	if len(args) < 3 {
		return scriptCall{}, false
	}
	name := strings.ToLower(fmt.Sprint(args[0]))
	if name != "evalsha" && name != "eval" {
		return scriptCall{}, false
	}
	n, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || n < 0 || 3+n > len(args) {
		return scriptCall{}, false
	}
	c := scriptCall{name: name}
	if name == "evalsha" {
		c.hash = fmt.Sprint(args[1])
	}
	for _, a := range args[3 : 3+n] {
		c.keys = append(c.keys, fmt.Sprint(a))
	}
	for _, a := range args[3+n:] {
		c.argv = append(c.argv, fmt.Sprint(a))
	}
	return c, true
}

// lose makes a script call lose its reply: the first that match accepts
// after skip others did. A call the server cannot run (an EVALSHA of a
// script it does not have, answered NOSCRIPT) does not count: the EVAL
// that follows it runs the script.
func (l *replyLoss) lose(skip int, match func(c scriptCall) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.match, l.skip = match, skip
}

// settle cancels a loss still pending and returns the calls that lost
// their reply since the last settle.
func (l *replyLoss) settle() []scriptCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.match = nil
	l.faults.DropScriptReplies(0)
	lost := l.lost
	l.lost = nil
	return lost
}

// check arms the faults if cmd is the call to lose.
func (l *replyLoss) check(ctx context.Context, cmd redis.Cmder) {
	c, ok := parseScriptCall(cmd.Args())
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.match == nil || !l.match(c) {
		return
	}
	if c.name == "evalsha" && !l.hasScript(ctx, c) {
		// A server without the script answers NOSCRIPT and runs nothing;
		// the EVAL that follows is the call that runs it.
		return
	}
	if l.skip > 0 {
		l.skip--
		return
	}
	l.match = nil
	l.lost = append(l.lost, c)
	l.faults.DropScriptReplies(1)
}

// hasScript reports whether the node that runs c, an EVALSHA, has its
// script. On a Cluster that is the master of c's first key's slot: the
// Cluster client's own ScriptExists asks every master, and a script only
// ever run on some of them is not everywhere.
func (l *replyLoss) hasScript(ctx context.Context, c scriptCall) bool {
	var node redis.Scripter = l.admin
	if cc, ok := l.admin.(*redis.ClusterClient); ok && len(c.keys) > 0 {
		m, err := cc.MasterForKey(ctx, c.keys[0])
		if err != nil {
			return false
		}
		node = m
	}
	ok, err := node.ScriptExists(ctx, c.hash).Result()
	return err == nil && len(ok) == 1 && ok[0]
}

// DialHook implements redis.Hook.
func (l *replyLoss) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (l *replyLoss) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.check(ctx, cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (l *replyLoss) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			l.check(ctx, cmd)
		}
		return next(ctx, cmds)
	}
}

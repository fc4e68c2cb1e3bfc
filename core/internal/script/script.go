// Package script runs the cores' Lua scripts so that none runs twice
// because go-redis re-sent it.
//
// go-redis re-sends a command (or a whole pipeline) that failed on a
// connection error, up to Options.MaxRetries times (3 by default). For a
// script whose reply was lost after the server ran it, that runs it again:
// a counter adds twice, a claim or a lock finds itself already taken. A
// script call here is a Cmd, whose NoRetry makes every go-redis retry loop
// (single commands, pipelines, Cluster and Ring clients, AutoPipeliner)
// report the failure instead. A call that certainly never left (no
// connection could be had: see Unsent) is sent again here, and a NOSCRIPT
// reply, which means the script did not run, is answered with EVAL.
//
// Deadlines are not this package's business: calls run under the context
// they are given, which rediscall.Caller bounds.
package script

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Script is one embedded Lua script: its source, sent with EVAL, and its
// SHA-1, computed once, sent with EVALSHA. Build it with New.
type Script struct {
	src, sha string
	// the same, boxed once as command arguments (see Args)
	srcArg, shaArg any
}

// New returns the Script of the Lua source src.
func New(src string) *Script {
	sum := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(sum[:])
	return &Script{src: src, sha: sha, srcArg: src, shaArg: sha}
}

// Args returns the SHA-1 and the source as command arguments, boxed once,
// for callers that build the arguments of EVALSHA and EVAL themselves on a
// hot path.
func (s *Script) Args() (sha, src any) { return s.shaArg, s.srcArg }

// Hash returns the SHA-1 of the script, in hex, as EVALSHA names it.
func (s *Script) Hash() string { return s.sha }

// Source returns the Lua source of the script.
func (s *Script) Source() string { return s.src }

// Load loads the script into the script cache of the server c talks to
// (SCRIPT LOAD; on a Cluster client, every master's).
func (s *Script) Load(ctx context.Context, c redis.Scripter) *redis.StringCmd {
	return c.ScriptLoad(ctx, s.src)
}

// Cmd is a command that go-redis never re-sends once it may have reached
// the server: a script call, or any other command that must not run twice
// (Cmd{redis.NewCmd(ctx, "set", key, token, "px", ms, "nx")}).
type Cmd struct{ *redis.Cmd }

// NoRetry reports that the call must not be sent again once it may have
// reached the server; every go-redis retry loop honours it.
func (Cmd) NoRetry() bool { return true }

// NewCmd returns a call of a script, not yet sent: name is "evalsha" (then
// script is a SHA-1) or "eval" (then it is the source). args are the
// script's ARGV.
func NewCmd(ctx context.Context, name, script string, keys []string, args ...any) Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, name, script, len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3) // routes it to its keys' slot on a Cluster
	}
	return Cmd{cmd}
}

// EvalSha returns an EVALSHA call of s on keys with args, not yet sent:
// queue it in a pipeline with Pipeliner.Process, and answer a NOSCRIPT
// reply with Eval.
func (s *Script) EvalSha(ctx context.Context, keys []string, args ...any) Cmd {
	return NewCmd(ctx, "evalsha", s.sha, keys, args...)
}

// Eval returns an EVAL call of s on keys with args, not yet sent.
func (s *Script) Eval(ctx context.Context, keys []string, args ...any) Cmd {
	return NewCmd(ctx, "eval", s.src, keys, args...)
}

// Processor is what a script call is sent through: any go-redis client,
// Cluster client, AutoPipeliner or Conn.
type Processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// Run runs s on keys with args through c and returns the call, done: its
// reply or error are read with the methods of redis.Cmd, as those of
// redis.Script.Run are. The script runs at most once: EVALSHA first, EVAL
// when the server does not have the script, each sent again only while
// it certainly never left (Unsent).
func (s *Script) Run(ctx context.Context, c Processor, keys []string, args ...any) *redis.Cmd {
	cmd, err := SendOnce(ctx, c, func() Cmd { return s.EvalSha(ctx, keys, args...) })
	if IsNoScript(err) {
		cmd, err = SendOnce(ctx, c, func() Cmd { return s.Eval(ctx, keys, args...) })
	}
	if err != nil {
		// The call is not read: on an AutoPipeliner abandoned at its
		// deadline it is still in flight, and reading it would wait for it.
		failed := redis.NewCmd(ctx)
		failed.SetErr(err)
		return failed
	}
	return cmd.Cmd
}

// UnsentRetries is how many times a call that certainly did not reach the
// server is sent again: as many as go-redis's default MaxRetries.
const UnsentRetries = 3

// SendOnce sends the call newCmd returns through c, waits for its reply,
// and returns the call and its error. A call that failed before it could
// leave (Unsent) is sent again, as a new call, up to UnsentRetries times
// while ctx lasts; any other failure is final. The call is not to be read
// when the error is not its own (c may abandon it at a deadline).
func SendOnce(ctx context.Context, c Processor, newCmd func() Cmd) (Cmd, error) {
	for attempt := 0; ; attempt++ {
		cmd := newCmd()
		err := Send(ctx, c, cmd)
		if err == nil || attempt == UnsentRetries || !Unsent(err) || ctx.Err() != nil {
			return cmd, err
		}
	}
}

// Send sends cmd through c and waits for its reply, and returns its error.
// On an AutoPipeliner (either face) it waits with ctx: the command is
// submitted to the pipeliner's deferred face and the wait ends when ctx
// does, which neither face's Process does by itself (the blocking face
// waits for the batch; the deferred face's reply accessors do). So a
// script call on an AutoPipeliner keeps its deadline without a goroutine
// of its own (see rediscall.Caller.DoScript).
func Send(ctx context.Context, c Processor, cmd redis.Cmder) error {
	if ap, ok := c.(*redis.AutoPipeliner); ok {
		if async := DeferredFace(ap); async != nil {
			return async.Submit(ctx, cmd).WaitContext(ctx)
		}
	}
	err := c.Process(ctx, cmd)
	if err == nil {
		err = cmd.Err()
	}
	return err
}

// deferredFaces holds the deferred face of each blocking AutoPipeliner
// seen, built once (nil when it cannot be).
var deferredFaces sync.Map // *redis.AutoPipeliner -> *redis.AutoPipeliner

// DeferredFace returns the deferred face of ap, whose Submit does not
// block: ap itself when it is deferred (AsyncAutoPipeline), else the
// deferred face of the same client, built once. It returns nil when
// there is none.
func DeferredFace(ap *redis.AutoPipeliner) *redis.AutoPipeliner {
	if !ap.IsBlocking() {
		return ap
	}
	if v, ok := deferredFaces.Load(ap); ok {
		return v.(*redis.AutoPipeliner)
	}
	async, err := ap.AsyncAutoPipeline()
	if err != nil || async == nil || async.IsBlocking() {
		async = nil
	}
	v, _ := deferredFaces.LoadOrStore(ap, async)
	return v.(*redis.AutoPipeliner)
}

// ProcessorFunc is a function that sends a command, as a Processor.
type ProcessorFunc func(ctx context.Context, cmd redis.Cmder) error

// Process calls f.
func (f ProcessorFunc) Process(ctx context.Context, cmd redis.Cmder) error { return f(ctx, cmd) }

// Unsent reports whether err shows that a command never reached the
// server: no connection could be had for it (a failed dial, a pool that
// gave none in time).
func Unsent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// IsNoScript reports whether err is the server's NOSCRIPT reply: it does
// not have the script, which therefore did not run.
func IsNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

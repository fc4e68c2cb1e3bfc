package ginmw

import "github.com/gin-gonic/gin"

// Option changes how a core is mounted.
type Option func(*config)

type config struct {
	skip func(c *gin.Context) bool
}

// Skip makes the middleware pass the requests f accepts straight to the
// rest of the chain: the core does not see them at all (no Redis call, no
// header, no session, no record). Every middleware of this package takes
// it.
func Skip(f func(c *gin.Context) bool) Option {
	return func(cfg *config) { cfg.skip = f }
}

func configure(opts []Option) config {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

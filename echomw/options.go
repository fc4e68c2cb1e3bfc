package echomw

import "github.com/labstack/echo/v4"

// Option changes how a core is mounted.
type Option func(*config)

type config struct {
	skipper func(c echo.Context) bool
}

// Skipper makes the middleware pass the requests s accepts straight to
// next, as Echo's own middleware do with their Config.Skipper (a
// middleware.Skipper can be passed as is): the core does not see them at
// all (no Redis call, no header, no session, no record). Every middleware
// of this package takes it.
func Skipper(s func(c echo.Context) bool) Option {
	return func(cfg *config) { cfg.skipper = s }
}

func configure(opts []Option) config {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

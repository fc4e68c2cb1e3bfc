package app_test

import (
	"fmt"

	"github.com/redisware/redisware/examples/internal/app"
)

func ExampleLoad() {
	// In main: app.Load(os.Args[1:], os.Getenv).
	env := map[string]string{
		"PORT":      "9000",
		"REDIS_URL": "rediss://app:secret@redis.example.com:6380/2",
	}
	cfg, err := app.Load([]string{}, func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listen on", cfg.Addr)
	fmt.Println("redis at", cfg.Redis.Addr, "db", cfg.Redis.DB, "tls", cfg.Redis.TLSConfig != nil)

	_, err = app.Load([]string{"-addr", "8080"}, func(string) string { return "" })
	fmt.Println(err)
	// Output:
	// listen on :9000
	// redis at redis.example.com:6380 db 2 tls true
	// -addr "8080": want host:port or :port: address 8080: missing port in address
}

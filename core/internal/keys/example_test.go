package keys_test

import (
	"fmt"

	"github.com/redisware/redisware/core/internal/keys"
)

func ExampleSpace_Tagged() {
	s := keys.NewSpace("", "rl", "login")
	fmt.Println(s.Tagged("198.51.100.4", ":g"))
	fmt.Println(s.Tagged("{forged}", ":g"))
	// Output:
	// redisware:rl:login:{198.51.100.4}:g
	// redisware:rl:login:{%7Bforged%7D}:g
}

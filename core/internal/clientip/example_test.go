package clientip_test

import (
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/redisware/redisware/core/internal/clientip"
)

func ExampleResolver_Key() {
	// Behind a load balancer in 10.0.0.0/8.
	trusted, err := clientip.ParseTrusted([]string{"10.0.0.0/8"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := clientip.New(trusted, 0) // IPv6 clients grouped by /64
	if err != nil {
		log.Fatal(err)
	}

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.0.0.5:41234"
	// The client claims to be 198.51.100.1; the load balancers at 10.0.0.9
	// and 10.0.0.5 appended what they saw.
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.0.0.9")
	key, err := r.Key(req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key)

	req.Header.Set("X-Forwarded-For", "2001:db8:1:2:3:4:5:6")
	key, _ = r.Key(req)
	fmt.Println(key)

	// A peer outside the trusted prefixes is the client, whatever it says.
	req.RemoteAddr = "192.0.2.44:5555"
	key, _ = r.Key(req)
	fmt.Println(key)
	// Output:
	// 203.0.113.7
	// 2001:db8:1:2::/64
	// 192.0.2.44
}

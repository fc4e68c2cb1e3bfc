package conformance_test

import (
	"fmt"

	"github.com/redisware/redisware/internal/conformance"
)

func ExampleAdapters() {
	for _, a := range conformance.Adapters() {
		fmt.Println(a.Name)
	}
	// Output:
	// nethttp
	// gin
	// echo
}

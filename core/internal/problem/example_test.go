package problem_test

import (
	"fmt"

	"github.com/redisware/redisware/core/internal/problem"
)

func ExampleNew() {
	fmt.Println(string(problem.New(409, "a request with this key is in progress").Body()))
	// Output: {"type":"about:blank","title":"Conflict","status":409,"detail":"a request with this key is in progress"}
}

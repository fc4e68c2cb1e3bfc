package packed_test

import (
	"fmt"
	"net/http"

	"github.com/redisware/redisware/core/internal/packed"
)

func ExampleDecoder() {
	b := packed.AppendUvarint(nil, 200)
	b = packed.AppendHeader(b, http.Header{"Vary": {"Accept", "Accept-Language"}})
	b = packed.AppendString(b, "hello")
	d := packed.NewDecoder(b)
	fmt.Println(d.Uvarint(), d.Header()["Vary"], d.String(), d.Err())
	// Output: 200 [Accept Accept-Language] hello <nil>
}

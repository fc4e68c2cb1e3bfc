package capture_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/redisware/redisware/core/internal/capture"
)

func ExampleRecorder() {
	client := httptest.NewRecorder()
	rec := capture.New(client, 1<<20)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "made")
	})
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	fmt.Println(rec.Status(), rec.SentHeader().Get("Content-Type"), string(rec.Body()), rec.Complete())
	fmt.Println(client.Code, client.Body.String())
	// Output:
	// 201 text/plain made true
	// 201 made
}

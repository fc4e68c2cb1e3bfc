package capture

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorder(t *testing.T) {
	w := httptest.NewRecorder()
	r := New(w, 5)
	r.Header().Add("X-Multi", "a")
	r.Header().Add("X-Multi", "b")
	r.WriteHeader(http.StatusCreated)
	r.Header().Set("X-Late", "ignored") // after the status: not part of what was sent
	r.WriteHeader(http.StatusTeapot)    // a second status is ignored, as net/http does
	_, _ = r.Write([]byte("abc"))
	_, _ = r.WriteString("de")
	if r.Status() != 201 || string(r.Body()) != "abcde" || !r.Complete() || r.Size() != 5 {
		t.Fatalf("status %d body %q complete %v size %d", r.Status(), r.Body(), r.Complete(), r.Size())
	}
	if got := r.SentHeader().Values("X-Multi"); len(got) != 2 || r.SentHeader().Get("X-Late") != "" {
		t.Fatalf("sent header %v", r.SentHeader())
	}
	_, _ = r.Write([]byte("f"))
	if r.Complete() || len(r.Body()) != 0 || w.Body.String() != "abcdef" {
		t.Fatalf("over the limit: complete %v body %q passed %q", r.Complete(), r.Body(), w.Body)
	}
}

func TestImplicitStatus(t *testing.T) {
	w := httptest.NewRecorder()
	r := New(w, 10)
	if r.Wrote() {
		t.Fatal("wrote before anything happened")
	}
	r.Flush()
	if r.Status() != 200 || !w.Flushed {
		t.Fatalf("flush: status %d flushed %v", r.Status(), w.Flushed)
	}
	if _, _, err := r.Hijack(); err == nil {
		t.Fatal("a recorder over httptest.ResponseRecorder cannot hijack")
	}
}

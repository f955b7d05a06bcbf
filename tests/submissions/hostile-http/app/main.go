// A learner's app that tries the grader's HTTP client: a redirect to wherever TARGET
// names (the test points it at a server on the grader's own loopback), and a body sent
// one byte a second.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, os.Getenv("TARGET"), http.StatusFound)
	})
	http.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "600")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 600; i++ {
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
		}
	})
	http.ListenAndServe(":80", nil)
}

// Command greeter serves a one-page greeting to the user named by $USER.
// It is the app of the chapter 4 exercise: its Dockerfile is the thing to improve.
//
// Environment: USER (who to greet), PORT (default 80) and INDEX_TEMPLATE
// (default: index.html next to the binary).
package main

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// greeting is the data index.html is rendered with.
type greeting struct {
	User string
}

func newHandler(index *template.Template, user string, logger *log.Logger) http.Handler {
	if user == "" {
		user = "stranger"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		var page bytes.Buffer
		if err := index.Execute(&page, greeting{User: user}); err != nil {
			logger.Printf("rendering index: %v", err)
			http.Error(w, "cannot render the page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	return logRequests(logger, mux)
}

// statusRecorder remembers the status code a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// logRequests writes one line per request: method, path, status and duration.
func logRequests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(recorder, r)
		logger.Printf("%s %s %d %dms", r.Method, r.URL.Path, recorder.status, time.Since(started).Milliseconds())
	})
}

// templatePath finds index.html beside the binary unless INDEX_TEMPLATE says otherwise,
// so the server works whatever the working directory is.
func templatePath() string {
	if path := os.Getenv("INDEX_TEMPLATE"); path != "" {
		return path
	}
	executable, err := os.Executable()
	if err != nil {
		return "index.html"
	}
	return filepath.Join(filepath.Dir(executable), "index.html")
}

func main() {
	logger := log.New(os.Stdout, "", log.LstdFlags)
	index, err := template.ParseFiles(templatePath())
	if err != nil {
		logger.Fatalf("cannot load the page template: %v", err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "80"
	}
	server := &http.Server{
		Addr:              ":" + port,
		Handler:           newHandler(index, os.Getenv("USER"), logger),
		ReadHeaderTimeout: 5 * time.Second,
	}

	// `docker stop` sends SIGTERM (Ctrl-C sends SIGINT): finish in-flight
	// requests, then exit 0.
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		<-stop.Done()
		ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		server.Shutdown(ctx)
		close(drained)
	}()

	logger.Printf("greeter listening on %s", server.Addr)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		logger.Fatalf("server failed: %v", err)
	}
	<-drained
	logger.Print("greeter stopped")
}

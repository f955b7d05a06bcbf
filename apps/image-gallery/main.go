// Command image-gallery is the web front end of the chapter 4 sample: it shows
// the picture served by image-of-the-day and reports each visit to access-log.
//
// Environment: PORT (default 80), IMAGE_API_URL (default http://iotd/image),
// ACCESS_API_URL (default http://accesslog/access-log) and INDEX_TEMPLATE
// (default: index.html next to the binary).
package main

import (
	"context"
	"errors"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	logger := log.New(os.Stdout, "", log.LstdFlags)

	index, err := template.ParseFiles(templatePath())
	if err != nil {
		logger.Fatalf("cannot load the page template: %v", err)
	}
	app := &gallery{
		imageAPI:  env("IMAGE_API_URL", "http://iotd/image"),
		accessAPI: env("ACCESS_API_URL", "http://accesslog/access-log"),
		client:    &http.Client{},
		timeout:   upstreamTimeout,
		index:     index,
		log:       logger,
	}
	server := &http.Server{
		Addr:              ":" + env("PORT", "80"),
		Handler:           app.routes(),
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

	logger.Printf("image-gallery listening on %s (image API %s, access API %s)", server.Addr, app.imageAPI, app.accessAPI)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		logger.Fatalf("server failed: %v", err)
	}
	<-drained
	logger.Print("image-gallery stopped")
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// upstreamTimeout bounds each call to the two back-end APIs, so a slow or dead
// service costs a visitor at most this long and never hangs the page.
const upstreamTimeout = 2 * time.Second

// Image is what image-of-the-day serves at /image.
type Image struct {
	URL       string `json:"url"`
	Caption   string `json:"caption"`
	Copyright string `json:"copyright"`
}

// page is the data index.html is rendered with. A non-empty *Unavailable field
// names the service that could not be reached, and why.
type page struct {
	Image             Image
	ImageUnavailable  string
	Visits            int
	AccessUnavailable string
}

type gallery struct {
	imageAPI  string
	accessAPI string
	client    *http.Client
	timeout   time.Duration // per upstream call
	index     *template.Template
	log       *log.Logger
}

func (g *gallery) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", g.home)
	mux.HandleFunc("/health", health)
	return logRequests(g.log, mux)
}

func health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

// home shows today's image and reports the visit. Both calls run in parallel and
// either may fail: the page is still served, saying which service is unavailable.
func (g *gallery) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	var data page
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		image, err := g.fetchImage(r.Context())
		if err != nil {
			g.log.Printf("image-of-the-day unavailable: %v", err)
			data.ImageUnavailable = err.Error()
			return
		}
		data.Image = image
	}()
	go func() {
		defer wg.Done()
		visits, err := g.recordVisit(r.Context(), clientIP(r))
		if err != nil {
			g.log.Printf("access-log unavailable: %v", err)
			data.AccessUnavailable = err.Error()
			return
		}
		data.Visits = visits
	}()
	wg.Wait()

	// Render to a buffer first so a template error becomes a clean 500, not half a page.
	var body bytes.Buffer
	if err := g.index.Execute(&body, data); err != nil {
		g.log.Printf("rendering index: %v", err)
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(body.Bytes())
}

func (g *gallery) fetchImage(ctx context.Context) (Image, error) {
	var image Image
	err := g.callJSON(ctx, http.MethodGet, g.imageAPI, nil, http.StatusOK, &image)
	if err == nil && image.URL == "" {
		err = errors.New("response has no image url")
	}
	return image, err
}

func (g *gallery) recordVisit(ctx context.Context, ip string) (int, error) {
	visit, _ := json.Marshal(map[string]string{"clientIp": ip})
	var ack struct {
		Logs int `json:"logs"`
	}
	err := g.callJSON(ctx, http.MethodPost, g.accessAPI, visit, http.StatusCreated, &ack)
	return ack.Logs, err
}

// callJSON sends body (if any) as JSON and decodes a JSON answer that must come
// with wantStatus, all within g.timeout.
func (g *gallery) callJSON(ctx context.Context, method, url string, body []byte, wantStatus int, answer any) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != wantStatus {
		return fmt.Errorf("%s %s answered %s", method, url, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(answer); err != nil {
		return fmt.Errorf("%s %s: unreadable JSON: %w", method, url, err)
	}
	return nil
}

// clientIP is the visitor's address: the first X-Forwarded-For hop when a proxy
// set one, otherwise the connection's remote address.
func clientIP(r *http.Request) string {
	if forwarded := r.Header.Get("X-Forwarded-For"); forwarded != "" {
		first, _, _ := strings.Cut(forwarded, ",")
		if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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

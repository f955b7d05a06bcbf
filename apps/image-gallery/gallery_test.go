package main

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testTimeout = 300 * time.Millisecond

// fakeAccessLog stands in for the access-log API and remembers what was posted.
type fakeAccessLog struct {
	mu     sync.Mutex
	posted []map[string]string
}

func (f *fakeAccessLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/access-log" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	var visit map[string]string
	if err := json.NewDecoder(r.Body).Decode(&visit); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.posted = append(f.posted, visit)
	count := len(f.posted)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"clientIp": visit["clientIp"], "logs": count})
}

func imageAPI(t *testing.T, image Image) *httptest.Server {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(image)
	}))
	t.Cleanup(server.Close)
	return server
}

// unreachableURL is a URL nothing listens on any more.
func unreachableURL() string {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close()
	return url
}

// slowAPI answers only after the caller has given up.
func slowAPI(t *testing.T) *httptest.Server {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the caller hanging up (r.Context() ends).
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(server.Close)
	return server
}

func newTestGallery(t *testing.T, imageURL, accessURL string) (*gallery, *bytes.Buffer) {
	t.Helper()
	index, err := template.ParseFiles("index.html")
	if err != nil {
		t.Fatalf("the shipped index.html does not parse: %v", err)
	}
	var logs bytes.Buffer
	return &gallery{
		imageAPI:  imageURL,
		accessAPI: accessURL,
		client:    &http.Client{},
		timeout:   testTimeout,
		index:     index,
		log:       log.New(&logs, "", 0),
	}, &logs
}

func get(t *testing.T, handler http.Handler, path string) (int, string) {
	t.Helper()
	recorder := httptest.NewRecorder()
	request := httptest.NewRequest(http.MethodGet, path, nil)
	request.RemoteAddr = "172.18.0.7:50123"
	handler.ServeHTTP(recorder, request)
	body, _ := io.ReadAll(recorder.Result().Body)
	return recorder.Code, string(body)
}

func assertContains(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestHomeShowsTheImageAndCountsTheVisit(t *testing.T) {
	images := imageAPI(t, Image{URL: "https://apod.test/m31.jpg", Caption: "Andromeda & friends", Copyright: "A. Astronomer"})
	visits := &fakeAccessLog{}
	accessLog := httptest.NewServer(visits)
	defer accessLog.Close()
	app, _ := newTestGallery(t, images.URL+"/image", accessLog.URL+"/access-log")

	status, page := get(t, app.routes(), "/")

	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	assertContains(t, page, `src="https://apod.test/m31.jpg"`, "Andromeda &amp; friends", "A. Astronomer", "Visits so far: 1")
	if len(visits.posted) != 1 || visits.posted[0]["clientIp"] != "172.18.0.7" {
		t.Errorf("access-log got %v, want one visit from 172.18.0.7", visits.posted)
	}
}

func TestHomeSaysWhichServiceIsUnavailable(t *testing.T) {
	images := imageAPI(t, Image{URL: "https://apod.test/x.jpg", Caption: "Still here", Copyright: "Someone"})
	visits := &fakeAccessLog{}
	accessLog := httptest.NewServer(visits)
	defer accessLog.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()

	cases := []struct {
		name, imageURL, accessURL string
		wants                     []string
	}{
		{"image API down", unreachableURL(), accessLog.URL + "/access-log",
			[]string{"image-of-the-day</strong> service is unavailable", "Visits so far:"}},
		{"access API down", images.URL, unreachableURL(),
			[]string{"Still here", "access-log</strong> service is unavailable"}},
		{"access API failing", images.URL, failing.URL,
			[]string{"Still here", "access-log</strong> service is unavailable", "500"}},
		{"image API not JSON", failing.URL, accessLog.URL + "/access-log",
			[]string{"image-of-the-day</strong> service is unavailable"}},
		{"both down", unreachableURL(), unreachableURL(),
			[]string{"image-of-the-day</strong> service is unavailable", "access-log</strong> service is unavailable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app, logs := newTestGallery(t, c.imageURL, c.accessURL)
			status, page := get(t, app.routes(), "/")
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200 even with a service down", status)
			}
			assertContains(t, page, c.wants...)
			if !strings.Contains(logs.String(), "unavailable") {
				t.Errorf("the failure was not logged: %q", logs.String())
			}
		})
	}
}

func TestSlowServicesDoNotHangThePage(t *testing.T) {
	slow := slowAPI(t)
	app, _ := newTestGallery(t, slow.URL+"/image", slow.URL+"/access-log")

	started := time.Now()
	status, page := get(t, app.routes(), "/")
	elapsed := time.Since(started)

	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	// Both calls run in parallel, so the page costs one timeout, not two.
	if elapsed > testTimeout+testTimeout/2 {
		t.Errorf("page took %v with a %v timeout per service", elapsed, testTimeout)
	}
	assertContains(t, page, "image-of-the-day</strong> service is unavailable", "access-log</strong> service is unavailable")
}

func TestHealthAndUnknownPaths(t *testing.T) {
	app, _ := newTestGallery(t, unreachableURL(), unreachableURL())
	if status, body := get(t, app.routes(), "/health"); status != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/health = %d %q, want 200 ok", status, body)
	}
	if status, _ := get(t, app.routes(), "/missing"); status != http.StatusNotFound {
		t.Errorf("/missing = %d, want 404", status)
	}
}

func TestLogsOneLinePerRequest(t *testing.T) {
	app, logs := newTestGallery(t, unreachableURL(), unreachableURL())
	handler := app.routes()
	get(t, handler, "/health")
	get(t, handler, "/missing")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "GET /health 200 ") || !strings.HasPrefix(lines[1], "GET /missing 404 ") {
		t.Errorf("log lines = %q", lines)
	}
}

func TestClientIPPrefersTheForwardedAddress(t *testing.T) {
	request := httptest.NewRequest(http.MethodGet, "/", nil)
	request.RemoteAddr = "10.0.0.2:4000"
	if got := clientIP(request); got != "10.0.0.2" {
		t.Errorf("clientIP = %q, want the remote address", got)
	}
	request.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	if got := clientIP(request); got != "203.0.113.9" {
		t.Errorf("clientIP = %q, want the first forwarded hop", got)
	}
	request.Header.Set("X-Forwarded-For", "garbage")
	if got := clientIP(request); got != "10.0.0.2" {
		t.Errorf("clientIP = %q, want the remote address when the header is unusable", got)
	}
}

func TestTemplatePathDefaultsToTheBinarysFolder(t *testing.T) {
	t.Setenv("INDEX_TEMPLATE", "")
	if got := templatePath(); !strings.HasSuffix(got, "/index.html") {
		t.Errorf("templatePath() = %q, want index.html beside the binary", got)
	}
	t.Setenv("INDEX_TEMPLATE", "/srv/page.html")
	if got := templatePath(); got != "/srv/page.html" {
		t.Errorf("templatePath() = %q, want the INDEX_TEMPLATE value", got)
	}
}

package main

import (
	"bytes"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, user, path string) (int, string, string) {
	t.Helper()
	index, err := template.ParseFiles("index.html")
	if err != nil {
		t.Fatalf("the shipped index.html does not parse: %v", err)
	}
	var logs bytes.Buffer
	recorder := httptest.NewRecorder()
	newHandler(index, user, log.New(&logs, "", 0)).ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(recorder.Result().Body)
	return recorder.Code, string(body), logs.String()
}

func TestGreetsTheUser(t *testing.T) {
	status, page, _ := serve(t, "sixeyed", "/")
	if status != http.StatusOK || !strings.Contains(page, "Hello, sixeyed!") {
		t.Errorf("GET / = %d %q, want a greeting for sixeyed", status, page)
	}
}

func TestEscapesTheUserName(t *testing.T) {
	_, page, _ := serve(t, "<script>", "/")
	if strings.Contains(page, "<script>") {
		t.Errorf("user name was not HTML-escaped: %q", page)
	}
}

func TestGreetsAStrangerWithoutUser(t *testing.T) {
	if _, page, _ := serve(t, "", "/"); !strings.Contains(page, "Hello, stranger!") {
		t.Errorf("page = %q, want a greeting for a stranger", page)
	}
}

func TestHealthUnknownPathsAndLog(t *testing.T) {
	if status, body, _ := serve(t, "x", "/health"); status != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/health = %d %q, want 200 ok", status, body)
	}
	status, _, logs := serve(t, "x", "/missing")
	if status != http.StatusNotFound {
		t.Errorf("/missing = %d, want 404", status)
	}
	if strings.TrimSpace(logs) == "" || strings.Count(logs, "\n") != 1 || !strings.HasPrefix(logs, "GET /missing 404 ") {
		t.Errorf("log = %q, want one line for the request", logs)
	}
}

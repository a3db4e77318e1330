package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"gatehouse/graph"
	"gatehouse/internal/config"
)

// rawAnswer is an answer to a hand-made HTTP request.
type rawAnswer struct {
	status int
	header http.Header
	body   string
	code   string
	msg    string
}

func send(t *testing.T, method, url, contentType string, body io.Reader) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := rawAnswer{status: res.StatusCode, header: res.Header, body: string(raw)}
	var out struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if method != http.MethodHead {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer %d is not JSON: %q", method, contentType, res.StatusCode, raw)
		}
		if len(out.Errors) > 0 {
			a.code, _ = out.Errors[0].Extensions["code"].(string)
			a.msg = out.Errors[0].Message
		}
	}
	return a
}

// TestHTTPContract sends /graphql every kind of malformed request; each is
// answered in JSON with a code from graph.Codes and the right status, and
// no answer repeats what the request carried.
func TestHTTPContract(t *testing.T) {
	w := newWorld(t, nil)
	url := w.URL + "/graphql"
	const secret = "hunter2-secret-password"
	loginBody := `{"query":"mutation{login(input:{username:\"alice\",password:\"` + secret + `\"}){token}}"`
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		length      int64 // sent Content-Length, when not the body's
		status      int
		code        string
		msgPart     string
	}{
		{"GET without a query", http.MethodGet, "", "", 0, 400, "BAD_REQUEST", "?query="},
		{"OPTIONS", http.MethodOptions, "", "", 0, 405, "BAD_REQUEST", "POST"},
		{"PUT", http.MethodPut, "application/json", `{"query":"{me{id}}"}`, 0, 405, "BAD_REQUEST", "POST"},
		{"DELETE", http.MethodDelete, "", "", 0, 405, "BAD_REQUEST", "POST"},
		{"text/plain", http.MethodPost, "text/plain", `{"query":"{me{id}}"}`, 0, 415, "BAD_REQUEST", "application/json"},
		{"form", http.MethodPost, "application/x-www-form-urlencoded", "query={me{id}}", 0, 415, "BAD_REQUEST", "application/json"},
		{"multipart", http.MethodPost, "multipart/form-data; boundary=x", "--x--", 0, 415, "BAD_REQUEST", "application/json"},
		{"application/graphql", http.MethodPost, "application/graphql", "{me{id}}", 0, 415, "BAD_REQUEST", "application/json"},
		{"no content type", http.MethodPost, "", `{"query":"{me{id}}"}`, 0, 415, "BAD_REQUEST", "application/json"},
		{"bad content type", http.MethodPost, "application/json; =", `{"query":"{me{id}}"}`, 0, 415, "BAD_REQUEST", "application/json"},
		{"empty body", http.MethodPost, "application/json", "", 0, 400, "BAD_REQUEST", "empty"},
		{"not JSON, with a password", http.MethodPost, "application/json", loginBody, 0, 400, "BAD_REQUEST", "not valid JSON (at byte"},
		{"not JSON at all", http.MethodPost, "application/json", "query=" + secret, 0, 400, "BAD_REQUEST", "not valid JSON (at byte 1)"},
		{"two JSON values", http.MethodPost, "application/json", `{"query":"{me{id}}"} {"x":"` + secret + `"}`, 0, 400, "BAD_REQUEST", "not valid JSON (at byte"},
		{"JSON array", http.MethodPost, "application/json", `["` + secret + `"]`, 0, 400, "BAD_REQUEST", "JSON object"},
		{"JSON string", http.MethodPost, "application/json", `"` + secret + `"`, 0, 400, "BAD_REQUEST", "JSON object"},
		{"JSON null", http.MethodPost, "application/json", `null`, 0, 400, "BAD_REQUEST", "JSON object"},
		{"query not a string", http.MethodPost, "application/json", `{"query":["` + secret + `"]}`, 0, 400, "BAD_REQUEST", `"query" must be a string`},
		{"variables not an object", http.MethodPost, "application/json", `{"query":"{me{id}}","variables":"` + secret + `"}`, 0, 400, "BAD_REQUEST", `"variables" must be an object`},
		{"missing query", http.MethodPost, "application/json", `{"variables":{"p":"` + secret + `"}}`, 0, 400, "BAD_REQUEST", `no "query"`},
		{"empty query", http.MethodPost, "application/json", `{"query":""}`, 0, 400, "BAD_REQUEST", `no "query"`},
		{"query not GraphQL", http.MethodPost, "application/json", `{"query":"` + secret + `"}`, 0, 422, "GRAPHQL_PARSE_FAILED", ""},
		{"unknown operation", http.MethodPost, "application/json", `{"query":"{me{id}}","operationName":"X"}`, 0, 422, "GRAPHQL_VALIDATION_FAILED", ""},
		{"oversized, announced", http.MethodPost, "application/json", `{"query":"{me{id}}"}`, 2 << 20, 413, "BAD_REQUEST", "larger than the limit"},
		{"oversized, chunked", http.MethodPost, "application/json", `{"query":"{me{id}}","variables":{"p":"` + strings.Repeat("x", 2<<20) + `"}}`, -1, 413, "BAD_REQUEST", "larger than the limit"},
		{"unauthenticated", http.MethodPost, "application/json", `{"query":"{me{id}}"}`, 0, 200, "UNAUTHENTICATED", ""},
		{"charset is fine", http.MethodPost, "application/json; charset=utf-8", `{"query":"{me{id}}"}`, 0, 200, "UNAUTHENTICATED", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			if tt.length == -1 {
				// No Content-Length: the body arrives chunked.
				body = io.MultiReader(strings.NewReader(tt.body))
			}
			if tt.length > 0 {
				body = strings.NewReader(strings.Repeat(" ", int(tt.length)))
			}
			a := send(t, tt.method, url, tt.contentType, body)
			if a.status != tt.status || a.code != tt.code {
				t.Fatalf("answered %d %s %q, want %d %s", a.status, a.code, a.msg, tt.status, tt.code)
			}
			if !slices.Contains(graph.Codes, a.code) {
				t.Fatalf("code %q is not in the documented list", a.code)
			}
			if !strings.Contains(a.msg, tt.msgPart) {
				t.Fatalf("message %q does not say %q", a.msg, tt.msgPart)
			}
			if strings.Contains(a.body, secret) || strings.Contains(a.body, "xxxxxxxx") {
				t.Fatalf("the answer repeats the request: %s", a.body)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if tt.status == 405 && a.header.Get("Allow") != "GET, POST" {
				t.Fatalf("Allow %q", a.header.Get("Allow"))
			}
		})
	}
}

// TestEveryAnswerHasADocumentedCode: errors made by the API's own layers
// (validation, limits, directives, resolvers) carry codes from the list.
func TestEveryAnswerHasADocumentedCode(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.GraphQL.Introspection = false })
	alice := w.tokenFor("alice", alicePW)
	for _, q := range []string{
		`{__schema{queryType{name}}}`,
		`{mee{id}}`,
		`{me{id`,
		`{users{totalCount}}`,
		`query($id:ID!){node(id:$id){id}}`,
		`{me{sessions{user{sessions{user{sessions{user{sessions{user{sessions{user{sessions{user{id}}}}}}}}}}}}}}`,
		`mutation{login(input:{username:"alice",password:"wrong-password"}){token}}`,
	} {
		r := w.Do(alice, q, map[string]any{"id": "x"})
		if len(r.Errors) == 0 {
			t.Fatalf("%s: no error", q)
		}
		for _, e := range r.Errors {
			c, _ := e.Extensions["code"].(string)
			if !slices.Contains(graph.Codes, c) {
				t.Fatalf("%s: code %q (%s) is not in the documented list", q, c, e.Message)
			}
		}
	}
}

package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postJSON is the API's transport for POST with a JSON object body
// {"query", "operationName", "variables", "extensions"}. Every other
// request is answered with BAD_REQUEST and a status saying why, and no
// answer ever repeats what the request carried.
type postJSON struct{}

var _ graphql.Transport = postJSON{}

// Supports takes every request, so that the ones it refuses are refused
// in the API's own words.
func (postJSON) Supports(*http.Request) bool { return true }

func (postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	params, status, msg := readParams(r)
	if msg != "" {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		WriteError(w, status, CodeBadRequest, msg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, false)
}

// execute runs a request's operation and writes the answer; byGET refuses
// anything but a query (a GET must not change anything).
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, byGET bool) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "subscriptions are served over a graphql-ws WebSocket, or as server-sent events (POST with Accept: text/event-stream)")
		return
	}
	if byGET && (oc.Operation == nil || oc.Operation.Operation != ast.Query) {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, http.StatusMethodNotAllowed, CodeBadRequest, "GET runs queries only: send a mutation by POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, responses(ctx))
}

// responseBuffers holds the buffers answers are written into; one larger
// than maxPooledResponse (a rare, very large answer) is left to the GC.
var responseBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledResponse = 1 << 20

// writeResponse writes resp as json.Marshal would (the same fields, order
// and bytes) but copies resp.Data, which gqlgen has already encoded, with
// only the HTML escaping json.Marshal applies to it, instead of scanning
// it again to validate and compact it.
func writeResponse(w io.Writer, resp *graphql.Response) {
	buf := responseBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledResponse {
			responseBuffers.Put(buf)
		}
	}()
	encodeResponse(buf, resp)
	_, _ = w.Write(buf.Bytes())
}

// encodeResponse writes the JSON encoding of resp (see graphql.Response's
// struct tags) to buf.
func encodeResponse(buf *bytes.Buffer, resp *graphql.Response) {
	field := func(name string, v any) {
		buf.WriteString(name)
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Errorf("encode a GraphQL response: %w", err))
		}
		buf.Write(b)
	}
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		field(`"errors":`, resp.Errors)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		json.HTMLEscape(buf, resp.Data)
	}
	if resp.Label != "" {
		field(`,"label":`, resp.Label)
	}
	if len(resp.Path) > 0 {
		field(`,"path":`, resp.Path)
	}
	if resp.HasNext != nil {
		field(`,"hasNext":`, *resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		field(`,"extensions":`, resp.Extensions)
	}
	buf.WriteByte('}')
}

// WriteError answers with one error in the GraphQL shape.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errors": gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}})
	_, _ = w.Write(b)
}

// readParams reads a GraphQL request from r, or says what is wrong with it
// (an HTTP status and a message that quotes nothing from the request).
func readParams(r *http.Request) (*graphql.RawParams, int, string) {
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, "send GraphQL requests as POST with a JSON body"
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, http.StatusUnsupportedMediaType, "send the request body as JSON, with Content-Type: application/json"
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, TooLargeMessage(tooLarge.Limit)
		}
		return nil, http.StatusBadRequest, "the request body could not be read"
	}
	return decodeParams(body)
}

// TooLargeMessage says a request body is over limit bytes.
func TooLargeMessage(limit int64) string {
	return fmt.Sprintf("the request body is larger than the limit of %d bytes", limit)
}

// decodeParams decodes a request body. Numbers in variables stay
// json.Number, as gqlgen expects.
func decodeParams(body []byte) (*graphql.RawParams, int, string) {
	const shape = `the request body must be a JSON object with a "query" string`
	rest := bytes.TrimLeft(body, " \t\r\n")
	if len(rest) == 0 {
		return nil, http.StatusBadRequest, `the request body is empty; send a JSON object with a "query" string`
	}
	var p struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
		Extensions    map[string]any `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&p)
	if syntax, ok := errors.AsType[*json.SyntaxError](err); ok {
		return nil, http.StatusBadRequest, fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntax.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, http.StatusBadRequest, fmt.Sprintf("the request body is not valid JSON (at byte %d)", len(body))
	}
	if err == nil {
		// Only white space may follow the object.
		end := dec.InputOffset()
		if extra := bytes.TrimLeft(body[end:], " \t\r\n"); len(extra) > 0 {
			return nil, http.StatusBadRequest, fmt.Sprintf("the request body is not valid JSON (at byte %d)", len(body)-len(extra)+1)
		}
	}
	if rest[0] != '{' {
		return nil, http.StatusBadRequest, shape
	}
	if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		name, _, _ := strings.Cut(typeErr.Field, ".")
		switch strings.ToLower(name) {
		case "query", "operationname":
			return nil, http.StatusBadRequest, fmt.Sprintf("%q must be a string", name)
		case "variables", "extensions":
			return nil, http.StatusBadRequest, fmt.Sprintf("%q must be an object", name)
		}
		return nil, http.StatusBadRequest, shape
	}
	if err != nil {
		return nil, http.StatusBadRequest, shape
	}
	if strings.TrimSpace(p.Query) == "" && p.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, `the request has no "query" (nor a persisted query's hash in extensions.persistedQuery)`
	}
	return &graphql.RawParams{Query: p.Query, OperationName: p.OperationName, Variables: p.Variables, Extensions: p.Extensions}, 0, ""
}

// MaxGetQuery bounds the query string of a GET request (the document, its
// variables and extensions, URL-encoded).
const MaxGetQuery = 16 * 1024

// getQuery serves queries (never mutations) by
// GET /graphql?query=…&variables=…&operationName=…&extensions=…, or by
// hash alone through the persisted queries. Answers depend on the viewer,
// so none is stored by a cache.
type getQuery struct{}

func (getQuery) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getQuery) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	w.Header().Set("Cache-Control", "private, no-store")
	if len(r.URL.RawQuery) > MaxGetQuery {
		WriteError(w, http.StatusRequestURITooLong, CodeBadRequest, fmt.Sprintf("the query string is longer than %d bytes: send the query by POST, or registered, by its hash", MaxGetQuery))
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "the query string is not URL-encoded")
		return
	}
	if q.Get("query") == "" && q.Get("extensions") == "" {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, `a GET request carries a query: ?query=… (a query, never a mutation), or a persisted query's hash in ?extensions=…; or send POST with a JSON body`)
		return
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	for _, p := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := q.Get(p.name); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(p.dst); err != nil {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%q must be a JSON object", p.name))
				return
			}
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, true)
}

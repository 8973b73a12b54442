package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// maxArgsBytes bounds a request body: arguments are small, but an import
// document may be a few MiB.
const maxArgsBytes = 16 << 20

// callHeader names a call its client may cancel with POST /v1/-cancel/{id}.
const callHeader = "Tenantdesk-Call"

// cancelGrace is how long a cancelled call may take to send its last
// answer (a billing run finishing the bills in flight) before the client
// drops the connection.
const cancelGrace = 15 * time.Second

// resultTrailer carries the outcome of a method that streams raw bytes.
const resultTrailer = "Tenantdesk-Result"

// answer is the body of a plain call, and the last line of a streamed one.
type answer struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

// line is one line of a streamed call: progress, or the final answer.
type line struct {
	Progress json.RawMessage `json:"progress,omitempty"`
	answer
}

// handler serves one method: args is the request body.
type handler func(ctx context.Context, api admin.API, args []byte, w http.ResponseWriter)

// none is the argument of a method that takes none.
type none struct{}

// unary adapts a method of one argument and one result.
func unary[A, R any](fn func(ctx context.Context, api admin.API, a A) (R, error)) handler {
	return func(ctx context.Context, api admin.API, args []byte, w http.ResponseWriter) {
		var a A
		if !decodeArgs(w, args, &a) {
			return
		}
		r, err := fn(ctx, api, a)
		status := http.StatusOK
		if errors.Is(err, admin.ErrOnMachineOnly) {
			status = http.StatusForbidden
		}
		writeJSON(w, status, encodeAnswer(r, err))
	}
}

// streamed adapts a method that reports progress: NDJSON lines, the
// answer last.
func streamed[A, R, P any](fn func(ctx context.Context, api admin.API, a A, progress func(P)) (R, error)) handler {
	return func(ctx context.Context, api admin.API, args []byte, w http.ResponseWriter) {
		var a A
		if !decodeArgs(w, args, &a) {
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		var mu sync.Mutex // progress comes from worker goroutines
		enc := json.NewEncoder(w)
		send := func(l line) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(l)
			if flusher != nil {
				flusher.Flush()
			}
		}
		r, err := fn(ctx, api, a, func(p P) {
			if b, err := json.Marshal(p); err == nil {
				send(line{Progress: b})
			}
		})
		send(line{answer: encodeAnswer(r, err)})
	}
}

// raw adapts a method that writes bytes (a backup, a CSV): they are the
// body, and the answer follows in a trailer.
func raw[A, R any](fn func(ctx context.Context, api admin.API, a A, w io.Writer) (R, error)) handler {
	return func(ctx context.Context, api admin.API, args []byte, w http.ResponseWriter) {
		var a A
		if !decodeArgs(w, args, &a) {
			return
		}
		w.Header().Set("Trailer", resultTrailer)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		r, err := fn(ctx, api, a, w)
		b, _ := json.Marshal(encodeAnswer(r, err))
		w.Header().Set(resultTrailer, string(b))
	}
}

func encodeAnswer(r any, err error) answer {
	var a answer
	if b, merr := json.Marshal(r); merr != nil {
		err = errors.Join(err, fmt.Errorf("encode answer: %w", merr))
	} else {
		a.Result = b
	}
	a.Error = encodeError(err)
	return a
}

func decodeArgs(w http.ResponseWriter, body []byte, a any) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if err := json.Unmarshal(body, a); err != nil {
		writeJSON(w, http.StatusBadRequest, answer{Error: &wireError{Message: "bad arguments: " + err.Error()}})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// localOnly are the methods the admin address refuses (403): they act on
// the owner's machine itself. A restore names a file there and replaces
// every setting, host-level ones too; a compact stops every transaction
// while it copies the file; a rekey makes a master key on the machine.
var localOnly = map[string]bool{"Restore": true, "Compact": true, "Rekey": true}

// Handler serves api: POST /v1/{method}. auth, when not nil, guards every
// call (the admin address's bearer token; the control socket checks its
// peer's uid instead).
func Handler(api admin.API, info Info, auth func(*http.Request) bool, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	// Calls in flight that their client may cancel by id: a cancelled
	// billing run still answers with its summary, as it does in process.
	var inFlight sync.Map // call id -> context.CancelFunc
	mux.HandleFunc("POST /v1/-cancel/{call}", func(w http.ResponseWriter, r *http.Request) {
		if auth != nil && !auth(r) {
			writeJSON(w, http.StatusUnauthorized, answer{Error: encodeError(ErrUnauthorized)})
			return
		}
		if cancel, ok := inFlight.Load(r.PathValue("call")); ok {
			cancel.(context.CancelFunc)()
		}
		writeJSON(w, http.StatusOK, answer{})
	})
	mux.HandleFunc("POST /v1/{method}", func(w http.ResponseWriter, r *http.Request) {
		if auth != nil && !auth(r) {
			writeJSON(w, http.StatusUnauthorized, answer{Error: encodeError(ErrUnauthorized)})
			return
		}
		ctx := r.Context()
		if id := r.Header.Get(callHeader); id != "" && len(id) <= 64 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			inFlight.Store(id, cancel)
			defer inFlight.Delete(id)
		}
		name := r.PathValue("method")
		if name == "Hello" {
			writeJSON(w, http.StatusOK, encodeAnswer(info, nil))
			return
		}
		if auth != nil && localOnly[name] {
			writeJSON(w, http.StatusForbidden, answer{Error: &wireError{
				Message: name + " works only on the machine itself (the GUI, or a command there), not through the admin address"}})
			return
		}
		h, ok := methods[name]
		if !ok {
			writeJSON(w, http.StatusNotFound, answer{Error: &wireError{Message: fmt.Sprintf("unknown method %q", clip(name))}})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxArgsBytes))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, answer{Error: &wireError{Message: "arguments too large"}})
			return
		}
		h(ctx, api, body, w)
	})
	return mux
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Info is what a server says about itself when a client connects.
type Info struct {
	Name     string `json:"name"` // host name of the owning machine
	Version  string `json:"version"`
	DataFile string `json:"data_file"`
}

// call runs a plain method.
func call[R any](c *Client, ctx context.Context, method string, args any) (R, error) {
	var r R
	ctx, cancel := c.context(ctx)
	defer cancel()
	resp, err := c.post(ctx, method, args)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&a); err != nil {
		return r, fmt.Errorf("%s: %w: %v", method, ErrProtocol, err)
	}
	return finish[R](method, a)
}

// callStream runs a method that reports progress.
func callStream[R, P any](c *Client, ctx context.Context, method string, args any, progress func(P)) (R, error) {
	var r R
	if ctx == nil {
		ctx = context.Background()
	}
	// Cancelling ctx asks the server to cancel the call, then reads its
	// last answer (a cancelled run's summary); the connection itself is
	// dropped only if that answer does not come in time.
	id := callID()
	reqCtx, drop := context.WithCancel(context.WithoutCancel(ctx))
	defer drop()
	stopWatch := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if resp, err := c.post(cctx, "-cancel/"+id, none{}); err == nil {
			resp.Body.Close()
		}
		time.AfterFunc(cancelGrace, drop)
	})
	defer stopWatch()
	resp, err := c.postCall(reqCtx, method, id, args)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return r, fmt.Errorf("%s: %w: %v", method, ErrProtocol, err)
		}
		if l.Progress != nil {
			var p P
			if err := json.Unmarshal(l.Progress, &p); err == nil && progress != nil {
				progress(p)
			}
			continue
		}
		return finish[R](method, l.answer)
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, fmt.Errorf("%s: connection lost: %w", method, err)
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, fmt.Errorf("%s: %w: the stream ended without an answer", method, ErrProtocol)
}

// callRaw runs a method whose answer is bytes, copied to w.
func callRaw[R any](c *Client, ctx context.Context, method string, args any, w io.Writer) (R, error) {
	var r R
	if ctx == nil {
		ctx = context.Background()
	}
	resp, err := c.post(ctx, method, args)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return r, fmt.Errorf("%s: %w", method, err)
	}
	var a answer
	if err := json.Unmarshal([]byte(resp.Trailer.Get(resultTrailer)), &a); err != nil {
		return r, fmt.Errorf("%s: %w: no outcome (connection lost?)", method, ErrProtocol)
	}
	return finish[R](method, a)
}

func finish[R any](method string, a answer) (R, error) {
	var r R
	if len(a.Result) > 0 && string(a.Result) != "null" {
		if err := json.Unmarshal(a.Result, &r); err != nil {
			return r, fmt.Errorf("%s: %w: %v", method, ErrProtocol, err)
		}
	}
	return r, a.Error.decode()
}

// post sends one call and checks the transport-level answer.
func (c *Client) post(ctx context.Context, method string, args any) (*http.Response, error) {
	return c.postCall(ctx, method, "", args)
}

// callID names a call for its cancellation.
func callID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postCall is post with a call id the client may cancel by.
func (c *Client) postCall(ctx context.Context, method, id string, args any) (*http.Response, error) {
	body, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%s: encode arguments: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/"+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set(callHeader, id)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", c.Name, unwrapURLError(err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var a answer
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a)
	if a.Error != nil {
		return nil, a.Error.decode()
	}
	return nil, fmt.Errorf("%s: %w: HTTP %s", c.Name, ErrProtocol, strings.TrimSpace(resp.Status))
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

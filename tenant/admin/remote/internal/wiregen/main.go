// Command wiregen writes remote's api_gen.go from admin.API: for every
// method, its server route (a line of remote's method table) and its
// Client method, so that the two sides of the wire cannot drift and adding
// an admin method is one line in admin.API (plus a line in wireNames
// below when it takes or gives more than one value) and `go generate
// ./tenant/admin/remote`.
//
// The wire is POST /v1/{Method} (package remote's comment): no argument
// travels as {}, one as itself, several as a JSON object whose fields are
// the arguments in order under the names wireNames gives; results alike.
// A context.Context argument is the call's context, an io.Writer the raw
// body (a backup, a CSV), a func(P) the streamed progress.
package main

import (
	"bytes"
	"context"
	"fmt"
	"go/format"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// wireNames are the JSON names of the values of a method that takes (or,
// in results, gives) more than one, in order; ",omitempty" as in a tag.
// They are the wire's, kept as they were when the table was written by
// hand: never rename one.
var wireNames = map[string][]string{
	"SaveTenant":         {"config", "new"},
	"SetTenantEnabled":   {"key", "enabled"},
	"ImportTenantsFrom":  {"source", "data"},
	"QueryConnectedAt":   {"filter", "after", "offset", "limit"},
	"SkipConnected":      {"filter", "after", "offset"},
	"ConnectedByRemote":  {"tenant", "remote_id"},
	"Bills":              {"period", "tenant"},
	"BillingPreview":     {"period", "tenant", "rebill,omitempty"},
	"RunBilling":         {"period", "tenant", "rebill,omitempty"},
	"CancelBill":         {"period", "tenant", "group"},
	"EventsAfter":        {"after", "limit"},
	"Activity":           {"tenant", "limit"},
	"SetListenerAddress": {"addr", "public_url"},
}

// resultNames are wireNames for methods with more than one result.
var resultNames = map[string][]string{
	"QueryConnectedAt": {"rows", "next"},
	"SkipConnected":    {"after", "skipped"},
}

// composed are methods the client builds from others (methods.go), so
// they have no route of their own.
var composed = map[string]bool{"QueryConnected": true, "SetSetting": true, "UnsetSetting": true}

// onError names, for a method without an error result, the function of
// package remote that turns a failed call into its result (the default
// is the zero value): func(R, error) R.
var onError = map[string]string{
	"ValidateTenant": "problemsOf",
	"ListenerStatus": "failedStatus",
}

// wireType is a type that travels as another: tenant.Config with its
// api.key (the admin API is the vendor's own), a ListenerStatus with its
// error as text. toWire and fromWire are Go expressions around %s.
type wireType struct{ name, toWire, fromWire string }

var wireTypes = map[reflect.Type]wireType{
	reflect.TypeFor[tenant.Config]():        {"config", "config{%s}", "%s.Config"},
	reflect.TypeFor[admin.ListenerStatus](): {"listenerStatus", "fromStatus(%s)", "%s.status()"},
}

var (
	ctxType    = reflect.TypeFor[context.Context]()
	writerType = reflect.TypeFor[io.Writer]()
	errorType  = reflect.TypeFor[error]()
)

func main() {
	out := "api_gen.go"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	src, err := Source()
	if err == nil {
		err = os.WriteFile(out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wiregen:", err)
		os.Exit(1)
	}
}

// method is one admin.API method as the wire sees it.
type method struct {
	name     string
	typ      reflect.Type // the method's signature
	ctx      bool
	writer   bool
	progress reflect.Type // P of func(P); nil: not streamed
	args     []reflect.Type
	variadic bool
	results  []reflect.Type // without the error
	hasErr   bool
}

func parse(m reflect.Method) (method, error) {
	t := m.Type
	x := method{name: m.Name, typ: t, variadic: t.IsVariadic()}
	for i := range t.NumIn() {
		in := t.In(i)
		switch {
		case i == 0 && in == ctxType:
			x.ctx = true
		case in == writerType:
			x.writer = true
		case in.Kind() == reflect.Func:
			if in.NumIn() != 1 || in.NumOut() != 0 {
				return x, fmt.Errorf("%s: a progress callback takes one value", m.Name)
			}
			x.progress = in.In(0)
		default:
			x.args = append(x.args, in)
		}
	}
	for i := range t.NumOut() {
		if out := t.Out(i); out == errorType && i == t.NumOut()-1 {
			x.hasErr = true
		} else {
			x.results = append(x.results, out)
		}
	}
	switch {
	case len(x.results) == 0 && !x.hasErr:
		return x, fmt.Errorf("%s: no result", m.Name)
	case len(x.args) > 1 && len(wireNames[m.Name]) != len(x.args):
		return x, fmt.Errorf("%s takes %d values: give their wire names in wireNames", m.Name, len(x.args))
	case len(x.results) > 1 && len(resultNames[m.Name]) != len(x.results):
		return x, fmt.Errorf("%s gives %d values: give their wire names in resultNames", m.Name, len(x.results))
	case !x.hasErr && len(x.results) > 1:
		return x, fmt.Errorf("%s: several results without an error", m.Name)
	case x.writer && x.progress != nil:
		return x, fmt.Errorf("%s: a raw body and progress at once", m.Name)
	}
	return x, nil
}

// Source is the text of api_gen.go.
func Source() ([]byte, error) {
	api := reflect.TypeFor[admin.API]()
	var ms []method
	imports := map[string]bool{"context": true, "github.com/tenantdesk/tenantdesk/tenant/admin": true}
	for i := range api.NumMethod() {
		if composed[api.Method(i).Name] {
			continue
		}
		m, err := parse(api.Method(i))
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		collect(api.Method(i).Type, imports)
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by wiregen from admin.API; DO NOT EDIT.\n\npackage remote\n\nimport (\n")
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	// The standard library first, then the module's.
	sort.Slice(paths, func(i, j int) bool {
		si, sj := !strings.Contains(paths[i], "."), !strings.Contains(paths[j], ".")
		if si != sj {
			return si
		}
		return paths[i] < paths[j]
	})
	for i, p := range paths {
		if i > 0 && !strings.Contains(paths[i-1], ".") && strings.Contains(p, ".") {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	b.WriteString(")\n\n")
	b.WriteString("// methods is the server's table: a route per admin.API method.\nvar methods = map[string]handler{\n")
	for _, m := range ms {
		route(&b, m)
	}
	b.WriteString("}\n\nvar _ admin.API = (*Client)(nil)\n")
	for _, m := range ms {
		if len(m.args) > 1 {
			fmt.Fprintf(&b, "\n// %sArgs are the arguments of %s on the wire.\n", lower(m.name), m.name)
			structOf(&b, lower(m.name)+"Args", m.args, wireNames[m.name], m.variadic)
		}
		if len(m.results) > 1 {
			fmt.Fprintf(&b, "\n// %sResult is the result of %s on the wire.\n", lower(m.name), m.name)
			structOf(&b, lower(m.name)+"Result", m.results, resultNames[m.name], false)
		}
		client(&b, m)
	}
	return format.Source(b.Bytes())
}

// collect adds the packages t names to imports.
func collect(t reflect.Type, imports map[string]bool) {
	if t.Name() != "" {
		if p := t.PkgPath(); p != "" {
			imports[p] = true
		}
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
		if t.Kind() == reflect.Map {
			collect(t.Key(), imports)
		}
		collect(t.Elem(), imports)
	case reflect.Func:
		for i := range t.NumIn() {
			collect(t.In(i), imports)
		}
		for i := range t.NumOut() {
			collect(t.Out(i), imports)
		}
	}
}

// goType is t as Go source in package remote.
func goType(t reflect.Type) string {
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t.Elem().Name() == "uint8" {
		return "[]byte"
	}
	return t.String()
}

// onWire is the type t travels as.
func onWire(t reflect.Type) string {
	if w, ok := wireTypes[t]; ok {
		return w.name
	}
	return goType(t)
}

func toWire(t reflect.Type, expr string) string {
	if w, ok := wireTypes[t]; ok {
		return fmt.Sprintf(w.toWire, expr)
	}
	return expr
}

func fromWire(t reflect.Type, expr string) string {
	if w, ok := wireTypes[t]; ok {
		return fmt.Sprintf(w.fromWire, expr)
	}
	return expr
}

func lower(s string) string { return strings.ToLower(s[:1]) + s[1:] }

func structOf(b *bytes.Buffer, name string, types []reflect.Type, names []string, variadic bool) {
	fmt.Fprintf(b, "type %s struct {\n", name)
	for i, t := range types {
		fmt.Fprintf(b, "\tA%d %s `json:%q`\n", i, onWire(t), names[i])
	}
	b.WriteString("}\n")
}

// argType is the type of the request body.
func argType(m method) string {
	switch len(m.args) {
	case 0:
		return "none"
	case 1:
		return onWire(m.args[0])
	}
	return lower(m.name) + "Args"
}

// resultType is the type of the answer's result.
func resultType(m method) string {
	switch len(m.results) {
	case 0:
		return "none"
	case 1:
		return onWire(m.results[0])
	}
	return lower(m.name) + "Result"
}

// route writes the server's line of m: decode, call, encode.
func route(b *bytes.Buffer, m method) {
	var call []string
	arg := 0
	for i := range m.typ.NumIn() {
		in := m.typ.In(i)
		switch {
		case i == 0 && m.ctx:
			call = append(call, "ctx")
		case in == writerType:
			call = append(call, "w")
		case in.Kind() == reflect.Func:
			call = append(call, "progress")
		default:
			x := "x"
			if len(m.args) > 1 {
				x = fmt.Sprintf("x.A%d", arg)
			}
			call = append(call, fromWire(in, x))
			arg++
		}
	}
	if m.variadic {
		call[len(call)-1] += "..."
	}
	extra, adapter := "", "unary"
	switch {
	case m.writer:
		extra, adapter = ", w io.Writer", "raw"
	case m.progress != nil:
		extra, adapter = ", progress func("+goType(m.progress)+")", "streamed"
	}
	invoke := fmt.Sprintf("api.%s(%s)", m.name, strings.Join(call, ", "))
	fmt.Fprintf(b, "\t%q: %s(func(ctx context.Context, api admin.API, x %s%s) (%s, error) {\n", m.name, adapter, argType(m), extra, resultType(m))
	switch {
	case len(m.results) == 0:
		fmt.Fprintf(b, "\t\treturn none{}, %s\n", invoke)
	case !m.hasErr:
		fmt.Fprintf(b, "\t\treturn %s, nil\n", toWire(m.results[0], invoke))
	case len(m.results) == 1:
		if _, ok := wireTypes[m.results[0]]; ok {
			fmt.Fprintf(b, "\t\tr, err := %s\n\t\treturn %s, err\n", invoke, toWire(m.results[0], "r"))
		} else {
			fmt.Fprintf(b, "\t\treturn %s\n", invoke)
		}
	default:
		var rs []string
		for i := range m.results {
			rs = append(rs, fmt.Sprintf("r%d", i))
		}
		fmt.Fprintf(b, "\t\t%s, err := %s\n\t\treturn %sResult{%s}, err\n", strings.Join(rs, ", "), invoke, lower(m.name), strings.Join(rs, ", "))
	}
	b.WriteString("\t}),\n")
}

// client writes the Client method of m: encode, post, decode.
func client(b *bytes.Buffer, m method) {
	mt := m
	var params, args []string
	ctx, w, progress := "nil", "", ""
	arg := 0
	for i := range mt.typ.NumIn() {
		in := mt.typ.In(i)
		switch {
		case i == 0 && m.ctx:
			params, ctx = append(params, "ctx context.Context"), "ctx"
		case in == writerType:
			params, w = append(params, "w io.Writer"), "w"
		case in.Kind() == reflect.Func:
			params, progress = append(params, "progress "+goType(in)), "progress"
		default:
			name := fmt.Sprintf("a%d", arg)
			typ := goType(in)
			if m.variadic && i == mt.typ.NumIn()-1 {
				typ = "..." + goType(in.Elem())
			}
			params = append(params, name+" "+typ)
			args = append(args, toWire(in, name))
			arg++
		}
	}
	var body string
	switch len(args) {
	case 0:
		body = "none{}"
	case 1:
		body = args[0]
	default:
		body = fmt.Sprintf("%sArgs{%s}", lower(m.name), strings.Join(args, ", "))
	}
	var results []string
	for _, r := range m.results {
		results = append(results, goType(r))
	}
	if m.hasErr {
		results = append(results, "error")
	}
	sig := strings.Join(results, ", ")
	if len(results) > 1 {
		sig = "(" + sig + ")"
	}
	var invoke string
	switch {
	case w != "":
		invoke = fmt.Sprintf("callRaw[%s](c, %s, %q, %s, w)", resultType(m), ctx, m.name, body)
	case progress != "":
		invoke = fmt.Sprintf("callStream[%s](c, %s, %q, %s, progress)", resultType(m), ctx, m.name, body)
	default:
		invoke = fmt.Sprintf("call[%s](c, %s, %q, %s)", resultType(m), ctx, m.name, body)
	}
	fmt.Fprintf(b, "\n// %s is admin.API's, through the server.\nfunc (c *Client) %s(%s) %s {\n", m.name, m.name, strings.Join(params, ", "), sig)
	switch {
	case len(m.results) == 0:
		fmt.Fprintf(b, "\t_, err := %s\n\treturn err\n", invoke)
	case !m.hasErr:
		if h, ok := onError[m.name]; ok {
			fmt.Fprintf(b, "\tr, err := %s\n", invoke)
			fmt.Fprintf(b, "\tif err != nil {\n\t\treturn %s(%s, err)\n\t}\n", h, fromWire(m.results[0], "r"))
		} else {
			fmt.Fprintf(b, "\tr, _ := %s // no error to give: the zero value\n", invoke)
		}
		fmt.Fprintf(b, "\treturn %s\n", fromWire(m.results[0], "r"))
	case len(m.results) == 1:
		if _, ok := wireTypes[m.results[0]]; ok {
			fmt.Fprintf(b, "\tr, err := %s\n\treturn %s, err\n", invoke, fromWire(m.results[0], "r"))
		} else {
			fmt.Fprintf(b, "\treturn %s\n", invoke)
		}
	default:
		fmt.Fprintf(b, "\tr, err := %s\n\treturn ", invoke)
		for i := range m.results {
			fmt.Fprintf(b, "r.A%d, ", i)
		}
		b.WriteString("err\n")
	}
	b.WriteString("}\n")
}

package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Import limits (SPEC §3.2). They are checked before or while parsing, so a
// hostile file costs at most one bounded pass.
const (
	MaxImportSize    = 8 << 20 // bytes
	MaxImportTenants = 1000
	maxImportDepth   = 32 // the real document nests 4 deep
)

// ImportError lists every problem of a rejected import, one per line,
// each named by its JSON path ("marketplaces[2].api.host: must be an https URL").
type ImportError struct {
	Problems []Problem
}

func (e *ImportError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("import rejected: ")
	} else {
		fmt.Fprintf(&b, "import rejected, %d problems:\n", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Lines is the problems as "path: message" lines, for the CLI and the GUI.
func (e *ImportError) Lines() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

func importErr(field, format string, args ...any) error {
	return &ImportError{Problems: []Problem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// ParseImport reads the developer platform's marketplaces document
// (`{"marketplaces":[…]}`), or one marketplace object without the wrapper,
// and returns normalized configurations that all pass Validate. It is all
// or nothing: on any problem it returns a *ImportError listing every one.
//
// Each object's `marketplace` (or our own `key`) becomes the tenant key;
// unknown fields are ignored; `enabled` defaults to true;
// webhooks.connec.external_ids maps onto connec.external_ids. Warnings
// (certificates close to expiry) do not block: Validate again to show them.
func ParseImport(data []byte, now time.Time, publicURL string) ([]Config, error) {
	return ParseImportOver(data, now, publicURL, nil)
}

// ParseImportOver is ParseImport for a document that updates stored
// tenants: stored returns the configuration kept for a key (nil: none).
// Settings that are Tenantdesk's own (see keepOwn), which the developer
// platform never sends, keep their stored values when a marketplace object
// does not give them, so a re-sync does not reset a price or re-enable a
// tenant disabled by hand.
func ParseImportOver(data []byte, now time.Time, publicURL string, stored func(Key) *Config) ([]Config, error) {
	if len(data) > MaxImportSize {
		return nil, importErr("", "file is %d bytes; the limit is %d MiB", len(data), MaxImportSize>>20)
	}
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, importErr("", "the file must be a JSON object")
	}
	if msg, ok := top["error"]; ok && string(msg) != "null" && string(msg) != `""` && string(msg) != "false" {
		return nil, importErr("error", "the developer platform answered with an error: %s", clip(string(msg)))
	}

	var entries []json.RawMessage
	prefix := func(int) string { return "" }
	if raw, ok := top["marketplaces"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil || entries == nil {
			return nil, importErr("marketplaces", "must be an array of marketplace objects")
		}
		if len(entries) == 0 {
			return nil, importErr("marketplaces", "is empty: no tenant to import")
		}
		if len(entries) > MaxImportTenants {
			return nil, importErr("marketplaces", "has %d entries; the limit is %d", len(entries), MaxImportTenants)
		}
		prefix = func(i int) string { return "marketplaces[" + strconv.Itoa(i) + "]." }
	} else {
		entries = []json.RawMessage{data}
	}

	var problems []Problem
	configs := make([]Config, 0, len(entries))
	index := make([]int, 0, len(entries)) // configs[i] is entries[index[i]]
	seen := make(map[Key]int, len(entries))
	for i, raw := range entries {
		pre := prefix(i)
		c, probs := decodeMarketplace(raw, pre)
		problems = append(problems, probs...)
		if len(probs) > 0 {
			continue
		}
		if stored != nil {
			if old := stored(Key(strings.ToLower(strings.TrimSpace(string(c.Key))))); old != nil {
				keepOwn(&c, old, present(raw))
			}
		}
		c.Normalize()
		if j, dup := seen[c.Key]; dup && c.Key != "" {
			problems = append(problems, Problem{Field: pre + "marketplace", Message: fmt.Sprintf("%q repeats %s", c.Key, strings.TrimSuffix(prefix(j), "."))})
		}
		seen[c.Key] = i
		for _, e := range c.Validate(now, publicURL).Errors {
			problems = append(problems, Problem{Field: pre + e.Field, Message: e.Message})
		}
		configs = append(configs, c)
		index = append(index, i)
	}
	problems = append(problems, PathConflicts(configs, func(i int) string { return prefix(index[i]) })...)
	if len(problems) > 0 {
		return nil, &ImportError{Problems: problems}
	}
	return configs, nil
}

// checkJSON makes one streaming pass that rejects what encoding/json
// accepts silently: duplicate member names (the last would win, hiding the
// first), nesting deeper than any real document, and trailing data.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkJSON(dec, "", 0); err != nil {
		return syntaxProblem(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return importErr("", "unexpected data after the JSON document")
	}
	return nil
}

type dupKeyError struct{ path, key string }

func (e *dupKeyError) Error() string { return fmt.Sprintf("duplicate key %q", e.key) }

type depthError struct{ path string }

func (e *depthError) Error() string {
	return fmt.Sprintf("nested deeper than %d levels", maxImportDepth)
}

func walkJSON(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxImportDepth {
		return &depthError{path: path}
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if seen[k] {
				return &dupKeyError{path: path, key: k}
			}
			seen[k] = true
			if err := walkJSON(dec, joinPath(path, k), depth+1); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func joinPath(path, k string) string {
	if path == "" {
		return clip(k)
	}
	return path + "." + clip(k)
}

// syntaxProblem turns a walk error into an ImportError with a position.
func syntaxProblem(data []byte, err error) error {
	var dup *dupKeyError
	var deep *depthError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &dup):
		return importErr(dup.path, "%v", dup)
	case errors.As(err, &deep):
		return importErr(deep.path, "%v", deep)
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return importErr("", "invalid JSON at line %d, column %d: %v", line, col, syn)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return importErr("", "invalid JSON: the document ends early")
	}
	return importErr("", "invalid JSON: %v", err)
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// object reads one JSON object field by field, so that a wrong type is
// reported against its path and every such problem is collected.
type object struct {
	fields map[string]json.RawMessage
	path   string // with a trailing "." when not empty
	probs  *[]Problem
}

func (o object) problem(name, msg string) {
	*o.probs = append(*o.probs, Problem{Field: o.path + name, Message: msg})
}

// raw returns a member, treating null like absence.
func (o object) raw(name string) (json.RawMessage, bool) {
	r, ok := o.fields[name]
	if !ok || string(r) == "null" {
		return nil, false
	}
	return r, true
}

func (o object) sub(name string) object {
	child := object{path: o.path + name + ".", probs: o.probs}
	r, ok := o.raw(name)
	if !ok {
		return child
	}
	if err := json.Unmarshal(r, &child.fields); err != nil {
		o.problem(name, "must be an object")
	}
	return child
}

func (o object) str(name string) string {
	r, ok := o.raw(name)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		o.problem(name, "must be a string")
	}
	return s
}

// audiences reads one string or a list of strings.
func (o object) audiences(name string) Audiences {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var a Audiences
	if err := a.UnmarshalJSON(r); err != nil {
		o.problem(name, "must be a string or a list of strings")
		return nil
	}
	return a
}

func (o object) boolean(name string) *bool {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		o.problem(name, "must be true or false")
		return nil
	}
	return &b
}

func (o object) integer(name string) int64 {
	r, ok := o.raw(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(string(r), 10, 64)
	if err != nil {
		o.problem(name, "must be a whole number")
	}
	return n
}

func (o object) strings(name string) []string {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var list []string
	if err := json.Unmarshal(r, &list); err != nil {
		o.problem(name, "must be a list of strings")
	}
	return list
}

func (o object) duration(name string) Duration {
	r, ok := o.raw(name)
	if !ok {
		return 0
	}
	var d Duration
	if err := d.UnmarshalJSON(r); err != nil {
		o.problem(name, "must be a number of seconds")
	}
	return d
}

// decodeMarketplace maps one marketplace object onto a Config.
func decodeMarketplace(raw json.RawMessage, path string) (Config, []Problem) {
	var probs []Problem
	m := object{path: path, probs: &probs}
	if err := json.Unmarshal(raw, &m.fields); err != nil || m.fields == nil {
		return Config{}, []Problem{{Field: strings.TrimSuffix(path, "."), Message: "must be a marketplace object"}}
	}
	var c Config
	mkt, key := m.str("marketplace"), m.str("key")
	switch {
	case mkt != "" && key != "" && mkt != key:
		m.problem("key", fmt.Sprintf("%q differs from marketplace %q", clip(key), clip(mkt)))
	case mkt != "":
		c.Key = Key(mkt)
	case key != "":
		c.Key = Key(key)
	default:
		m.problem("marketplace", "required (it becomes the tenant key)")
	}
	c.DisplayName = m.str("display_name")
	c.Enabled = true
	if b := m.boolean("enabled"); b != nil {
		c.Enabled = *b
	}
	c.Environment = m.str("environment")
	c.App.Host = m.sub("app").str("host")

	api := m.sub("api")
	c.API = API{ID: api.str("id"), Key: Secret(api.str("key")), Host: api.str("host"), Base: api.str("base")}

	sso := m.sub("sso")
	c.SSO = SSO{
		IdP:             sso.str("idp"),
		SSOURL:          sso.str("sso_url"),
		IdPIssuer:       sso.str("idp_issuer"),
		X509Certificate: sso.str("x509_certificate"),
		X509Fingerprint: sso.str("x509_fingerprint"),
		CreationMode:    sso.str("creation_mode"),
		Audience:        sso.audiences("audience"),
		PostLoginURL:    sso.str("post_login_url"),
		IdM:             sso.str("idm"),
		InitPath:        sso.str("init_path"),
		ConsumePath:     sso.str("consume_path"),
	}
	if b := sso.boolean("allow_idp_initiated"); b != nil {
		c.SSO.AllowIdPInitiated = *b
	}

	connec := m.sub("connec")
	c.Connec = Connec{
		Host:         connec.str("host"),
		BasePath:     connec.str("base_path"),
		Timeout:      connec.duration("timeout"),
		ExternalIDs:  connec.boolean("external_ids"),
		Collections:  connec.strings("collections"),
		PullInterval: connec.duration("pull_interval"),
	}
	hooks := m.sub("webhooks")
	c.Hooks.Account.GroupPath = hooks.sub("account").str("group_path")
	c.Hooks.Account.GroupUserPath = hooks.sub("account").str("group_user_path")
	c.Hooks.Connec.NotificationPath = hooks.sub("connec").str("notification_path")
	hookIDs := hooks.sub("connec").boolean("external_ids")
	switch {
	case hookIDs == nil:
	case c.Connec.ExternalIDs == nil:
		c.Connec.ExternalIDs = hookIDs
	case *hookIDs != *c.Connec.ExternalIDs:
		connec.problem("external_ids", "contradicts webhooks.connec.external_ids")
	}

	billing := m.sub("billing")
	c.Billing = Billing{
		PriceCents:  billing.integer("price_cents"),
		Currency:    billing.str("currency"),
		Description: billing.str("description"),
	}
	return c, probs
}

// keepOwn copies from old the settings of c that are Tenantdesk's own
// (SPEC §3.1: display name, enabled, SSO policy, Connec! pulls, billing)
// and that the marketplace object does not carry. Fields of the developer
// platform's own vocabulary (api, sso.idp, certificates, fingerprints,
// hosts, paths) always come from the document: one it dropped is dropped.
func keepOwn(c, old *Config, has func(path ...string) bool) {
	keep := func(path string, apply func()) {
		if !has(strings.Split(path, ".")...) {
			apply()
		}
	}
	keep("display_name", func() { c.DisplayName = old.DisplayName })
	keep("enabled", func() { c.Enabled = old.Enabled })
	keep("sso.sso_url", func() { c.SSO.SSOURL = old.SSO.SSOURL })
	keep("sso.idp_issuer", func() { c.SSO.IdPIssuer = old.SSO.IdPIssuer })
	keep("sso.creation_mode", func() { c.SSO.CreationMode = old.SSO.CreationMode })
	keep("sso.audience", func() { c.SSO.Audience = old.SSO.Audience })
	keep("sso.allow_idp_initiated", func() { c.SSO.AllowIdPInitiated = old.SSO.AllowIdPInitiated })
	keep("sso.post_login_url", func() { c.SSO.PostLoginURL = old.SSO.PostLoginURL })
	if !has("connec", "external_ids") && !has("webhooks", "connec", "external_ids") {
		c.Connec.ExternalIDs = old.Connec.ExternalIDs
	}
	keep("connec.collections", func() { c.Connec.Collections = old.Connec.Collections })
	keep("connec.pull_interval", func() { c.Connec.PullInterval = old.Connec.PullInterval })
	keep("billing.price_cents", func() { c.Billing.PriceCents = old.Billing.PriceCents })
	keep("billing.currency", func() { c.Billing.Currency = old.Billing.Currency })
	keep("billing.description", func() { c.Billing.Description = old.Billing.Description })
}

// present reports whether a JSON object has a non-null member at path.
func present(raw json.RawMessage) func(path ...string) bool {
	return func(path ...string) bool {
		cur := raw
		for _, name := range path {
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return false
			}
			v, ok := m[name]
			if !ok || string(v) == "null" {
				return false
			}
			cur = v
		}
		return true
	}
}

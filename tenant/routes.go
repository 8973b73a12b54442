package tenant

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Route is one tenant-scoped listener route (SPEC §4).
type Route int

const (
	RouteMetadata Route = iota
	RouteSAMLInit
	RouteSAMLConsume
	RouteSPMetadata
	RouteSession
	RouteGroup
	RouteGroupUser
	RouteConnecReceive
	RouteLogout
)

// hostSSO and hostApp say which registered host a path hangs off: the hub
// sends browsers to sso.idm and calls webhooks on app.host.
const (
	hostSSO = iota + 1
	hostApp
)

var routes = [...]struct {
	method, path, label string
	// registered is the path this route may also be reached on, as
	// registered on the developer platform (SPEC §3.2); host says on which
	// of the tenant's hosts; field names it for messages.
	registered func(*Config) string
	host       int
	field      string
}{
	RouteMetadata:      {method: "GET", path: "/metadata", label: "Metadata"},
	RouteSAMLInit:      {"GET", "/saml/initialize", "SSO initialize", func(c *Config) string { return c.SSO.InitPath }, hostSSO, "sso.init_path"},
	RouteSAMLConsume:   {"POST", "/saml/consume", "SSO consume (ACS)", func(c *Config) string { return c.SSO.ConsumePath }, hostSSO, "sso.consume_path"},
	RouteSPMetadata:    {method: "GET", path: "/saml/metadata.xml", label: "SP metadata"},
	RouteSession:       {method: "GET", path: "/session", label: "Session"},
	RouteGroup:         {"DELETE", "/account/group/{id}", "Group webhook", func(c *Config) string { return c.Hooks.Account.GroupPath }, hostApp, "webhooks.account.group_path"},
	RouteGroupUser:     {"DELETE", "/account/group/{group_id}/user/{id}", "Group user webhook", func(c *Config) string { return c.Hooks.Account.GroupUserPath }, hostApp, "webhooks.account.group_user_path"},
	RouteConnecReceive: {"POST", "/connec/receive", "Connec! notifications", func(c *Config) string { return c.Hooks.Connec.NotificationPath }, hostApp, "webhooks.connec.notification_path"},
	RouteLogout:        {method: "GET", path: "/logout", label: "Logout"},
}

// Routes lists every tenant-scoped route.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i := range routes {
		out[i] = Route(i)
	}
	return out
}

const prefix = "/mno-enterprise/"

// Pattern is the net/http pattern of the route, e.g.
// "POST /mno-enterprise/{tenant}/saml/consume".
func (r Route) Pattern() string { return routes[r].method + " " + prefix + "{tenant}" + routes[r].path }

// Method is the HTTP method of the route.
func (r Route) Method() string { return routes[r].method }

// Label names the route for people (GUI, README).
func (r Route) Label() string { return routes[r].label }

// Path is the route's path for a tenant, with {id} placeholders replaced
// by the SDKs' `:id` spelling (`:group_id`, `:id`) for webhook paths.
func (r Route) Path(key Key) string {
	p := routes[r].path
	p = strings.ReplaceAll(p, "{group_id}", ":group_id")
	p = strings.ReplaceAll(p, "{id}", ":id")
	return prefix + string(key) + p
}

// URL is the route's full URL under the public base URL.
func (r Route) URL(publicURL string, key Key) string {
	return strings.TrimRight(publicURL, "/") + r.Path(key)
}

// Registrable reports whether the route may have a registered path.
func (r Route) Registrable() bool { return routes[r].registered != nil }

// Field is the configuration field of the route's registered path
// ("sso.consume_path"), "" for routes that have none.
func (r Route) Field() string { return routes[r].field }

// RegisteredPath is the path the tenant registered for this route on the
// developer platform, "" when none. A registered path equal to the route's
// own /mno-enterprise/ path counts as none: the route serves it already.
func (r Route) RegisteredPath(c *Config) string {
	if routes[r].registered == nil {
		return ""
	}
	p := routes[r].registered(c)
	if p == r.Path(c.Key) {
		return ""
	}
	return p
}

// RegisteredURL is the URL the hub calls for this route: sso.idm (for the
// SSO routes) or app.host (for webhooks) plus the registered path; a
// missing host falls back to the other one, then to the public URL. ""
// when no path is registered.
func (r Route) RegisteredURL(c *Config, publicURL string) string {
	p := r.RegisteredPath(c)
	if p == "" {
		return ""
	}
	hosts := []string{c.SSO.IdM, c.App.Host}
	if routes[r].host == hostApp {
		hosts[0], hosts[1] = hosts[1], hosts[0]
	}
	for _, h := range append(hosts, publicURL) {
		if h != "" {
			return strings.TrimRight(h, "/") + p
		}
	}
	return p
}

// TenantURL is the URL the tenant's hub knows for this route: the
// registered one when there is one, else the /mno-enterprise/ URL. It is
// the ACS URL of the AuthnRequest, and the Destination and Recipient a
// response must carry.
func (r Route) TenantURL(c *Config, publicURL string) string {
	if u := r.RegisteredURL(c, publicURL); u != "" {
		return u
	}
	return r.URL(publicURL, c.Key)
}

// TenantPath is the path the tenant's hub uses for this route: the
// registered one, or the /mno-enterprise/ path.
func (r Route) TenantPath(c *Config) string {
	if p := r.RegisteredPath(c); p != "" {
		return p
	}
	return r.Path(c.Key)
}

// Alias is a registered path served as one of a tenant's routes.
type Alias struct {
	Key   Key
	Route Route
	Path  string // as registered, query included
	// segments of the path; ":name" is a placeholder for one segment.
	segments []string
	// query the request must carry (each name with this value).
	query url.Values
}

// parseAlias splits a registered path into segments and query.
func parseAlias(key Key, r Route, p string) (Alias, error) {
	a := Alias{Key: key, Route: r, Path: p}
	path, rawQuery, _ := strings.Cut(p, "?")
	if !strings.HasPrefix(path, "/") {
		return a, fmt.Errorf("must start with '/'")
	}
	if strings.ContainsAny(p, "# \\") || hasControl(p) || strings.Contains(path, "//") || len(p) > MaxStringLen {
		return a, fmt.Errorf("must be a plain path, optionally with a query (no fragment, spaces or '//')")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return a, fmt.Errorf("query does not parse: %v", err)
	}
	for name, vals := range q {
		if name == "" || len(vals) != 1 {
			return a, fmt.Errorf("query must name each parameter once (%q)", clip(name))
		}
	}
	a.query = q
	a.segments = strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, seg := range a.segments {
		if seg == "." || seg == ".." {
			return a, fmt.Errorf("must not contain '.' or '..' segments")
		}
	}
	want := map[string]bool{}
	switch r {
	case RouteGroup:
		want[":id"] = true
	case RouteGroupUser:
		want[":group_id"], want[":id"] = true, true
	}
	for _, s := range a.segments {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		if !want[s] {
			return a, fmt.Errorf("placeholder %q is not one of this path's (%s)", clip(s), placeholders(r))
		}
		delete(want, s)
	}
	if len(want) > 0 {
		return a, fmt.Errorf("must contain %s", placeholders(r))
	}
	if strings.HasPrefix(path, prefix) || path == "/healthz" {
		return a, fmt.Errorf("is under %s, which the listener's own routes serve; register this tenant's own %s or a path outside it", strings.TrimSuffix(prefix, "/"), r.Path(key))
	}
	return a, nil
}

func placeholders(r Route) string {
	switch r {
	case RouteGroup:
		return ":id"
	case RouteGroupUser:
		return ":group_id and :id"
	}
	return "no placeholder"
}

// claim is what two tenants may not share: method, path shape with the
// placeholders unnamed, and the query.
func (a Alias) claim() string {
	segs := make([]string, len(a.segments))
	for i, s := range a.segments {
		if strings.HasPrefix(s, ":") {
			s = ":"
		}
		segs[i] = s
	}
	return routes[a.Route].method + " /" + strings.Join(segs, "/") + "?" + a.query.Encode()
}

// Match reports whether a request (method, unescaped path, query) is this
// alias, and returns the placeholder values by their route names
// ("id", "group_id").
func (a Alias) Match(path string, q url.Values) (map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) != len(a.segments) || !strings.HasPrefix(path, "/") {
		return nil, false
	}
	var vals map[string]string
	for i, s := range a.segments {
		if strings.HasPrefix(s, ":") {
			if segs[i] == "" {
				return nil, false
			}
			if vals == nil {
				vals = map[string]string{}
			}
			vals[s[1:]] = segs[i]
			continue
		}
		if segs[i] != s {
			return nil, false
		}
	}
	for name, want := range a.query {
		got := q[name]
		if len(got) != 1 || len(want) != 1 || got[0] != want[0] {
			return nil, false
		}
	}
	return vals, true
}

// Specificity orders aliases that match the same request: more query
// conditions first, then more literal segments.
func (a Alias) Specificity() int {
	n := 0
	for _, s := range a.segments {
		if !strings.HasPrefix(s, ":") {
			n++
		}
	}
	return len(a.query)*1000 + n
}

// Method is the HTTP method the alias answers.
func (a Alias) Method() string { return routes[a.Route].method }

// Aliases are the registered paths of every enabled or disabled tenant
// (a disabled one still answers "disabled", as its own routes do), most
// specific first. Paths that do not parse are left out; Validate reports
// them.
func Aliases(cs []Config) []Alias {
	var out []Alias
	for i := range cs {
		for _, r := range Routes() {
			if p := r.RegisteredPath(&cs[i]); p != "" {
				if a, err := parseAlias(cs[i].Key, r, p); err == nil {
					out = append(out, a)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Specificity() > out[j].Specificity() })
	return out
}

// PathConflicts lists the registered paths that two tenants (or two routes
// of one tenant) claim alike. where names a tenant for messages
// ("marketplaces[2]." or "tenants[0]."; "" for none).
func PathConflicts(cs []Config, where func(i int) string) []Problem {
	type owner struct {
		i     int
		key   Key
		field string
	}
	seen := map[string]owner{}
	var probs []Problem
	for i := range cs {
		for _, r := range Routes() {
			p := r.RegisteredPath(&cs[i])
			if p == "" {
				continue
			}
			a, err := parseAlias(cs[i].Key, r, p)
			if err != nil {
				continue
			}
			c := a.claim()
			if o, dup := seen[c]; dup {
				probs = append(probs, Problem{
					Field:   where(i) + r.Field(),
					Message: fmt.Sprintf("%q is already registered by tenant %q (%s)", clip(p), o.key, o.field),
				})
				continue
			}
			seen[c] = owner{i: i, key: cs[i].Key, field: r.Field()}
		}
	}
	return probs
}

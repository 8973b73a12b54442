package tenant

import "strings"

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
)

var routes = [...]struct {
	method, path, label string
}{
	RouteMetadata:      {"GET", "/metadata", "Metadata"},
	RouteSAMLInit:      {"GET", "/saml/initialize", "SSO initialize"},
	RouteSAMLConsume:   {"POST", "/saml/consume", "SSO consume (ACS)"},
	RouteSPMetadata:    {"GET", "/saml/metadata.xml", "SP metadata"},
	RouteSession:       {"GET", "/session", "Session"},
	RouteGroup:         {"DELETE", "/account/group/{id}", "Group webhook"},
	RouteGroupUser:     {"DELETE", "/account/group/{group_id}/user/{id}", "Group user webhook"},
	RouteConnecReceive: {"POST", "/connec/receive", "Connec! notifications"},
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

// Package tenant owns a tenant's configuration and everything scoped by a
// tenant key: the key itself (ParseKey), validation, the Registry that keeps
// configurations in the store, routes, the metadata document, import of the
// developer platform's marketplaces document, and the masked views that
// keep api.key out of logs and exports. Sub-packages hold the listener (server),
// SAML SSO (sso), Connec! (connec), the account API (api) and billing.
package tenant

import "time"

// Key is a tenant's slug: `[a-z0-9][a-z0-9-]{0,63}`, unique and immutable.
type Key string

// Config is one tenant's configuration (SPEC §3.1). It is stored as JSON.
type Config struct {
	Key         Key     `json:"key"`
	DisplayName string  `json:"display_name"`
	Enabled     bool    `json:"enabled"`
	Environment string  `json:"environment,omitempty"`
	App         App     `json:"app"`
	API         API     `json:"api"`
	SSO         SSO     `json:"sso"`
	Connec      Connec  `json:"connec"`
	Billing     Billing `json:"billing"`
	// Hooks are the webhook paths registered on the developer platform
	// (webhooks{} of the marketplaces document), served as aliases.
	Hooks Hooks `json:"webhooks,omitzero"`
}

// App is app{}: the app's own host as the developer platform knows it.
type App struct {
	Host string `json:"host,omitempty"`
}

// API is api{}: our credentials on the tenant's hub and where it is.
type API struct {
	ID   string `json:"id"`
	Key  Secret `json:"key"`
	Host string `json:"host"`
	Base string `json:"base,omitempty"` // default /api/v1/
	// KeyLocked is set when the key is sealed in a file whose master key
	// is missing here: Key is empty, and stays unknown (SPEC §15).
	KeyLocked bool `json:"-"`
}

// SSO is sso{}: the tenant's IdP and how we accept its assertions.
type SSO struct {
	IdP               string    `json:"idp"`
	SSOURL            string    `json:"sso_url,omitempty"`
	IdPIssuer         string    `json:"idp_issuer,omitempty"`
	X509Certificate   string    `json:"x509_certificate"`
	X509Fingerprint   string    `json:"x509_fingerprint,omitempty"`
	CreationMode      string    `json:"creation_mode,omitempty"` // real | virtual
	Audience          Audiences `json:"audience,omitempty"`
	AllowIdPInitiated bool      `json:"allow_idp_initiated,omitempty"`
	PostLoginURL      string    `json:"post_login_url,omitempty"`
	// IdM, InitPath and ConsumePath are what the vendor registered on the
	// developer platform: the hub sends browsers to IdM+InitPath and posts
	// responses to IdM+ConsumePath; the listener serves both (routes.go).
	IdM         string `json:"idm,omitempty"`
	InitPath    string `json:"init_path,omitempty"`
	ConsumePath string `json:"consume_path,omitempty"`
}

// Hooks is webhooks{}: the paths the hub calls on app.host, with `:id` and
// `:group_id` placeholders and perhaps a query telling tenants apart.
type Hooks struct {
	Account AccountHooks `json:"account,omitzero"`
	Connec  ConnecHooks  `json:"connec,omitzero"`
}

// AccountHooks is webhooks.account{}.
type AccountHooks struct {
	GroupPath     string `json:"group_path,omitempty"`
	GroupUserPath string `json:"group_user_path,omitempty"`
}

// ConnecHooks is webhooks.connec{} (external_ids maps onto connec{}).
type ConnecHooks struct {
	NotificationPath string `json:"notification_path,omitempty"`
}

// Connec is connec{}: the tenant's Connec! data-sharing API.
type Connec struct {
	Host        string   `json:"host,omitempty"`
	BasePath    string   `json:"base_path,omitempty"`    // default /api/v2
	ExternalIDs *bool    `json:"external_ids,omitempty"` // default true
	Timeout     Duration `json:"timeout,omitempty"`      // seconds in JSON
	// Collections are pulled from Connec! (SPEC §7 "Pull"); default ["invoices"].
	Collections []string `json:"collections,omitempty"`
	// PullInterval is the period of delta pulls in serve and the GUI
	// ("15m", or seconds); 0 = no periodic pulls.
	PullInterval Duration `json:"pull_interval,omitempty"`
}

// Billing is billing{}: what a group of this tenant pays per month.
type Billing struct {
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency,omitempty"` // default AUD
	Description string `json:"description,omitempty"`
}

// Audiences is sso.audience: the Audience values an assertion may name.
// JSON takes one string or a list of strings (audience.go); values are any
// strings, not only URIs: a SAML entity ID such as "app-acme" is a name.
type Audiences []string

// Secret is a credential: it never prints, logs or marshals for display
// (see secret.go). Storage marshals it through Config.MarshalStored.
type Secret string

// Duration is a time.Duration written as seconds in JSON.
type Duration time.Duration

package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// tenantForm is the add/edit form of a tenant. Every field has a message
// label beside it that shows the field's problem from Validate.
type tenantForm struct {
	key, name                          *widget.Entry
	enabled                            *widget.Check
	apiID, apiKey, apiHost, apiBase    *widget.Entry
	idp, ssoURL, idpIssuer, cert       *widget.Entry
	fingerprint, audience, postLogin   *widget.Entry
	mode                               *widget.Select
	allowIdP                           *widget.Check
	connecHost, connecBase, connecTime *widget.Entry
	collections, pullEvery             *widget.Entry
	externalIDs                        *widget.Check
	price, currency, description       *widget.Entry
	loadPEM                            *widget.Button
	certInfo                           *widget.Label
	errs                               map[string]*widget.Label
	rows                               []fyne.CanvasObject
	environment                        string // kept from the loaded config (not edited here)
	appHost                            string
	// registered paths (developer platform), kept from the loaded config
	idm, initPath, consumePath string
	hooks                      tenant.Hooks
}

// field paths as Validate names them.
var tenantFields = []string{
	"key", "display_name", "api.id", "api.key", "api.host", "api.base",
	"sso.idp", "sso.sso_url", "sso.idp_issuer", "sso.x509_certificate", "sso.x509_fingerprint",
	"sso.creation_mode", "sso.audience", "sso.post_login_url",
	"connec.host", "connec.base_path", "connec.timeout", "connec.collections", "connec.pull_interval",
	"billing.price_cents", "billing.currency", "billing.description",
}

func newTenantForm(loadPEM func()) *tenantForm {
	f := &tenantForm{errs: map[string]*widget.Label{}}
	entry := func(placeholder string) *widget.Entry {
		e := widget.NewEntry()
		e.SetPlaceHolder(placeholder)
		return e
	}
	f.key = entry("acme (lowercase letters, digits, '-')")
	f.name = entry("Acme Marketplace")
	f.enabled = widget.NewCheck("Enabled (answers SSO and webhooks, billed)", nil)
	f.enabled.SetChecked(true)
	f.apiID = entry("app-…")
	f.apiKey = widget.NewPasswordEntry()
	f.apiKey.SetPlaceHolder("API key (secret)")
	f.apiHost = entry("https://api-hub.example.com")
	f.apiBase = entry("/api/v1/ (default)")
	f.idp = entry("https://idp.example.com")
	f.ssoURL = entry("default: IdP + /api/v1/auth/saml")
	f.idpIssuer = entry("default: the SSO URL")
	f.cert = widget.NewMultiLineEntry()
	f.cert.SetPlaceHolder("-----BEGIN CERTIFICATE-----")
	f.cert.SetMinRowsVisible(3)
	f.cert.TextStyle = fyne.TextStyle{Monospace: true}
	f.fingerprint = entry("optional SHA-1/SHA-256, ab:cd:…")
	f.mode = widget.NewSelect([]string{tenant.ModeReal, tenant.ModeVirtual}, nil)
	f.mode.SetSelected(tenant.ModeReal)
	f.audience = entry("default: api.id, public URL origin (with and without /); comma-separated")
	f.allowIdP = widget.NewCheck("Allow IdP-initiated login", nil)
	f.postLogin = entry("default: the tenant's session page")
	f.connecHost = entry("https://api-connec.example.com (empty: no Connec!)")
	f.connecBase = entry("/api/v2 (default)")
	f.connecTime = entry("60 (seconds)")
	f.collections = entry("invoices (default); comma-separated")
	f.pullEvery = entry("e.g. 15m (empty: no periodic pulls)")
	f.externalIDs = widget.NewCheck("External ids ({id, provider, realm} triplets)", nil)
	f.externalIDs.SetChecked(true)
	f.price = entry("4900 (cents)")
	f.currency = entry("AUD (default)")
	f.description = entry("default: <name> subscription <period>")
	f.loadPEM = widget.NewButtonWithIcon("Load PEM file…", theme.FolderOpenIcon(), loadPEM)
	f.certInfo = widget.NewLabel("")
	f.certInfo.Wrapping = fyne.TextWrapWord
	f.cert.OnChanged = func(string) { f.updateCertInfo() }

	section := func(title string) {
		h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		f.rows = append(f.rows, h, layout.NewSpacer())
	}
	row := func(label, field string, w fyne.CanvasObject) {
		msg := widget.NewLabel("")
		msg.Importance = widget.DangerImportance
		msg.Truncation = fyne.TextTruncateEllipsis
		msg.Hide()
		f.errs[field] = msg
		f.rows = append(f.rows, widget.NewLabel(label),
			container.NewBorder(nil, nil, nil, container.New(messageColumn{width: 250}, msg), w))
	}
	section("Tenant")
	row("Key", "key", f.key)
	row("Display name", "display_name", f.name)
	f.rows = append(f.rows, layout.NewSpacer(), f.enabled)
	section("Account API")
	row("API id", "api.id", f.apiID)
	row("API key", "api.key", f.apiKey)
	row("API host", "api.host", f.apiHost)
	row("API base", "api.base", f.apiBase)
	section("Single Sign-On")
	row("IdP host", "sso.idp", f.idp)
	row("SSO URL", "sso.sso_url", f.ssoURL)
	row("IdP issuer", "sso.idp_issuer", f.idpIssuer)
	row("IdP certificate", "sso.x509_certificate", container.NewBorder(nil, container.NewBorder(nil, nil, f.loadPEM, nil, f.certInfo), nil, nil, f.cert))
	row("Fingerprint", "sso.x509_fingerprint", f.fingerprint)
	row("Creation mode", "sso.creation_mode", f.mode)
	row("Audience", "sso.audience", f.audience)
	row("After login", "sso.post_login_url", f.postLogin)
	f.rows = append(f.rows, layout.NewSpacer(), f.allowIdP)
	section("Connec!")
	row("Connec! host", "connec.host", f.connecHost)
	row("Base path", "connec.base_path", f.connecBase)
	row("Timeout (s)", "connec.timeout", f.connecTime)
	row("Collections", "connec.collections", f.collections)
	row("Pull every", "connec.pull_interval", f.pullEvery)
	f.rows = append(f.rows, layout.NewSpacer(), f.externalIDs)
	section("Billing")
	row("Price (cents)", "billing.price_cents", f.price)
	row("Currency", "billing.currency", f.currency)
	row("Description", "billing.description", f.description)
	return f
}

func (f *tenantForm) content() fyne.CanvasObject {
	return container.New(layout.NewFormLayout(), f.rows...)
}

// load fills the form from a configuration (a zero one for a new tenant).
func (f *tenantForm) load(c tenant.Config, isNew bool) {
	f.key.SetText(string(c.Key))
	if isNew {
		f.key.Enable()
	} else {
		f.key.Disable() // keys are immutable
	}
	f.name.SetText(c.DisplayName)
	f.enabled.SetChecked(c.Enabled || isNew)
	f.environment, f.appHost = c.Environment, c.App.Host
	f.idm, f.initPath, f.consumePath, f.hooks = c.SSO.IdM, c.SSO.InitPath, c.SSO.ConsumePath, c.Hooks
	f.apiID.SetText(c.API.ID)
	f.apiKey.SetText(c.API.Key.Reveal())
	f.apiKey.Password = true
	f.apiKey.Refresh()
	f.apiHost.SetText(c.API.Host)
	f.apiBase.SetText(c.API.Base)
	f.idp.SetText(c.SSO.IdP)
	f.ssoURL.SetText(c.SSO.SSOURL)
	f.idpIssuer.SetText(c.SSO.IdPIssuer)
	f.cert.SetText(c.SSO.X509Certificate)
	f.fingerprint.SetText(c.SSO.X509Fingerprint)
	f.mode.SetSelected(c.CreationMode())
	f.audience.SetText(c.SSO.Audience.String())
	f.allowIdP.SetChecked(c.SSO.AllowIdPInitiated)
	f.postLogin.SetText(c.SSO.PostLoginURL)
	f.connecHost.SetText(c.Connec.Host)
	f.connecBase.SetText(c.Connec.BasePath)
	f.connecTime.SetText("")
	if c.Connec.Timeout > 0 {
		f.connecTime.SetText(strconv.FormatFloat(time.Duration(c.Connec.Timeout).Seconds(), 'f', -1, 64))
	}
	f.externalIDs.SetChecked(c.ExternalIDs())
	f.collections.SetText(strings.Join(c.Connec.Collections, ", "))
	f.pullEvery.SetText("")
	if c.Connec.PullInterval > 0 {
		f.pullEvery.SetText(time.Duration(c.Connec.PullInterval).String())
	}
	f.price.SetText("")
	if c.Billing.PriceCents != 0 || !isNew {
		f.price.SetText(strconv.FormatInt(c.Billing.PriceCents, 10))
	}
	f.currency.SetText(c.Billing.Currency)
	f.description.SetText(c.Billing.Description)
	f.showProblems(tenant.Problems{})
	f.updateCertInfo()
}

// config reads the form. Fields that do not even parse (a price that is
// not a number) come back as problems of their own.
func (f *tenantForm) config() (tenant.Config, []tenant.Problem) {
	var local []tenant.Problem
	c := tenant.Config{
		Key: tenant.Key(f.key.Text), DisplayName: f.name.Text, Enabled: f.enabled.Checked,
		Environment: f.environment, App: tenant.App{Host: f.appHost},
		API: tenant.API{ID: f.apiID.Text, Key: tenant.Secret(f.apiKey.Text), Host: f.apiHost.Text, Base: f.apiBase.Text},
		SSO: tenant.SSO{IdP: f.idp.Text, SSOURL: f.ssoURL.Text, IdPIssuer: f.idpIssuer.Text,
			X509Certificate: f.cert.Text, X509Fingerprint: f.fingerprint.Text, CreationMode: f.mode.Selected,
			Audience: tenant.ParseAudiences(f.audience.Text), AllowIdPInitiated: f.allowIdP.Checked, PostLoginURL: f.postLogin.Text,
			IdM: f.idm, InitPath: f.initPath, ConsumePath: f.consumePath},
		Hooks:   f.hooks,
		Connec:  tenant.Connec{Host: f.connecHost.Text, BasePath: f.connecBase.Text},
		Billing: tenant.Billing{Currency: f.currency.Text, Description: f.description.Text},
	}
	ext := f.externalIDs.Checked
	c.Connec.ExternalIDs = &ext
	if s := strings.TrimSpace(f.connecTime.Text); s != "" {
		d, err := tenant.ParseSeconds(s)
		if err != nil {
			local = append(local, tenant.Problem{Field: "connec.timeout", Message: "must be a number of seconds"})
		}
		c.Connec.Timeout = d
	}
	for _, col := range strings.Split(f.collections.Text, ",") {
		if col = strings.TrimSpace(col); col != "" {
			c.Connec.Collections = append(c.Connec.Collections, col)
		}
	}
	if s := strings.TrimSpace(f.pullEvery.Text); s != "" {
		d, err := tenant.ParseSeconds(s)
		if err != nil {
			local = append(local, tenant.Problem{Field: "connec.pull_interval", Message: "a duration like 15m, or seconds"})
		}
		c.Connec.PullInterval = d
	}
	if s := strings.TrimSpace(f.price.Text); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			local = append(local, tenant.Problem{Field: "billing.price_cents", Message: "must be a whole number of cents (4900 = 49.00)"})
		}
		c.Billing.PriceCents = n
	}
	return c, local
}

// showProblems puts each field's first error beside it and clears the rest.
func (f *tenantForm) showProblems(p tenant.Problems) {
	for _, field := range tenantFields {
		msg := f.errs[field]
		if text := p.Field(field); text != "" {
			msg.SetText("⚠ " + text)
			msg.Show()
		} else {
			msg.SetText("")
			msg.Hide()
		}
	}
}

// problemCount is how many field messages are showing.
func (f *tenantForm) problemCount() int {
	n := 0
	for _, msg := range f.errs {
		if msg.Visible() {
			n++
		}
	}
	return n
}

// updateCertInfo says when the pasted certificate expires.
func (f *tenantForm) updateCertInfo() {
	if strings.TrimSpace(f.cert.Text) == "" {
		f.certInfo.SetText("")
		return
	}
	c := tenant.Config{SSO: tenant.SSO{X509Certificate: f.cert.Text}}
	certs, err := c.Certificates()
	if err != nil {
		f.certInfo.Importance = widget.DangerImportance
		f.certInfo.SetText("Does not parse: " + err.Error())
		return
	}
	var parts []string
	f.certInfo.Importance = widget.MediumImportance
	for _, cert := range certs {
		left := time.Until(cert.NotAfter)
		s := fmt.Sprintf("%s, expires %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
		switch {
		case left < 0:
			s += " — expired"
			f.certInfo.Importance = widget.DangerImportance
		case left < tenant.CertWarningWindow:
			s += fmt.Sprintf(" ⚠ in %d days", admin.DaysLeft(left))
			if f.certInfo.Importance != widget.DangerImportance {
				f.certInfo.Importance = widget.WarningImportance
			}
		}
		parts = append(parts, s)
	}
	f.certInfo.SetText(strings.Join(parts, "\n"))
}

// messageColumn gives a field's message a fixed width beside the field (the
// whole text is also listed above the form), and no width when hidden.
type messageColumn struct{ width float32 }

func (c messageColumn) MinSize(objs []fyne.CanvasObject) fyne.Size {
	for _, o := range objs {
		if o.Visible() {
			return fyne.NewSize(c.width, o.MinSize().Height)
		}
	}
	return fyne.Size{}
}

func (c messageColumn) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.Position{})
	}
}

// problemSummary lists every field problem as "Label: message" lines.
func (f *tenantForm) problemSummary(p tenant.Problems) string {
	var lines []string
	for _, e := range p.Errors {
		lines = append(lines, fieldLabel(e.Field)+": "+e.Message)
	}
	return strings.Join(lines, "\n")
}

// fieldLabel names a field as the form labels it.
func fieldLabel(field string) string {
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	return field
}

var fieldLabels = map[string]string{
	"key": "Key", "display_name": "Display name", "api.id": "API id", "api.key": "API key", "api.host": "API host",
	"api.base": "API base", "sso.idp": "IdP host", "sso.sso_url": "SSO URL", "sso.idp_issuer": "IdP issuer",
	"sso.x509_certificate": "IdP certificate", "sso.x509_fingerprint": "Fingerprint", "sso.creation_mode": "Creation mode",
	"sso.audience": "Audience", "sso.post_login_url": "After login", "connec.host": "Connec! host",
	"connec.base_path": "Base path", "connec.timeout": "Timeout", "connec.collections": "Collections", "connec.pull_interval": "Pull every", "billing.price_cents": "Price",
	"billing.currency": "Currency", "billing.description": "Description",
}

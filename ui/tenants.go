package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tenantdesk/tenantdesk/tenant"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// maxFileRead bounds files the user picks (imports, certificates).
const maxFileRead = tenant.MaxImportSize

// tenantsScreen lists tenants and edits one at a time.
type tenantsScreen struct {
	m *mainWindow

	list    *dataTable[admin.TenantSummary]
	search  *widget.Entry
	form    *tenantForm
	heading *widget.Label
	warning *widget.Label
	urls    *fyne.Container
	tabs    *container.AppTabs

	save, test, toggle, remove *widget.Button
	detail                     fyne.CanvasObject
	placeholder                fyne.CanvasObject
	right                      *fyne.Container
	root                       fyne.CanvasObject

	// Sync from the developer platform: its button, and a panel under the
	// toolbar with progress, then the result or the error.
	syncBtn      *widget.Button
	syncProgress *widget.ProgressBarInfinite
	syncStatus   *widget.Label
	syncBox      *fyne.Container
	syncing      bool
	lastSync     admin.ImportResult // of the last sync that worked (tests)
	lastSyncErr  error

	editing tenant.Key // "" while adding a new tenant
	isNew   bool
	current admin.TenantSummary
	saving  bool
	loads   loadSeq

	importProblems []string // of the last rejected import (tests)
}

func newTenantsScreen(m *mainWindow) *tenantsScreen {
	s := &tenantsScreen{m: m}
	s.list = newDataTable("tenants", "No tenants yet.\nClick “Add tenant” to enter one, or “Import…”\nto load the developer platform's marketplaces file.",
		column[admin.TenantSummary]{title: "", width: 34, text: func(t admin.TenantSummary) string {
			if t.Enabled {
				return "enabled"
			}
			return "disabled"
		}, dot: func(t admin.TenantSummary) bool { return t.Enabled }, importance: func(t admin.TenantSummary) widget.Importance {
			if t.Enabled {
				return widget.SuccessImportance
			}
			return widget.LowImportance
		}},
		column[admin.TenantSummary]{title: "Key", width: 110, text: func(t admin.TenantSummary) string { return string(t.Key) }},
		column[admin.TenantSummary]{title: "Groups", width: 80, text: func(t admin.TenantSummary) string {
			if !t.Enabled {
				return "disabled"
			}
			return fmt.Sprintf("%d group%s", t.Groups, plural(t.Groups, "s"))
		}, compare: func(a, b admin.TenantSummary) int { return a.Groups - b.Groups }},
		column[admin.TenantSummary]{title: "Certificate", width: 130, text: func(t admin.TenantSummary) string {
			if len(t.Warnings) > 0 {
				if t.CertExpiry.IsZero() {
					return "⚠ unreadable"
				}
				return "⚠ " + t.CertExpiry.UTC().Format(time.DateOnly)
			}
			if t.CertExpiry.IsZero() {
				return ""
			}
			return t.CertExpiry.UTC().Format(time.DateOnly)
		}, importance: func(t admin.TenantSummary) widget.Importance {
			if len(t.Warnings) > 0 {
				return widget.WarningImportance
			}
			return widget.MediumImportance
		}, compare: func(a, b admin.TenantSummary) int { return a.CertExpiry.Compare(b.CertExpiry) }},
		column[admin.TenantSummary]{title: "Last activity", width: 130, text: func(t admin.TenantSummary) string { return ago(t.LastActivity) },
			compare: func(a, b admin.TenantSummary) int { return a.LastActivity.Compare(b.LastActivity) }},
	)
	s.list.OnSelected = s.edit

	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Filter tenants (Ctrl+F)")
	s.search.OnChanged = func(q string) {
		q = strings.ToLower(strings.TrimSpace(q))
		if q == "" {
			s.list.SetFilter(nil)
			return
		}
		s.list.SetFilter(func(t admin.TenantSummary) bool {
			return strings.Contains(string(t.Key), q) || strings.Contains(strings.ToLower(t.DisplayName), q)
		})
	}

	s.form = newTenantForm(s.loadPEM)
	s.heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.warning = widget.NewLabel("")
	s.warning.Importance = widget.WarningImportance
	s.warning.Wrapping = fyne.TextWrapWord
	s.warning.Hide()
	s.urls = container.NewVBox()
	s.form.key.OnChanged = func(string) { s.refreshURLs() }

	s.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.saveTenant)
	s.save.Importance = widget.HighImportance
	s.test = widget.NewButtonWithIcon("Test connection", theme.MediaPlayIcon(), s.testConnection)
	s.toggle = widget.NewButtonWithIcon("Disable", theme.VisibilityOffIcon(), s.toggleEnabled)
	s.remove = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), s.confirmDelete)
	s.remove.Importance = widget.DangerImportance

	urlIntro := widget.NewLabel("Register these with the marketplace (developer platform → app → URLs).\nThey are built from the public URL in Settings.")
	urlIntro.Importance = widget.LowImportance
	formScroll := container.NewVScroll(container.NewVBox(s.warning, s.form.content()))
	s.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Configuration", theme.SettingsIcon(), formScroll),
		container.NewTabItemWithIcon("URLs to register", theme.ContentCopyIcon(), container.NewVScroll(container.NewVBox(urlIntro, s.urls))),
	)
	buttons := container.NewHBox(s.test, s.toggle, s.remove, widget.NewSeparator(), s.save)
	s.detail = container.NewBorder(container.NewPadded(s.heading), container.NewPadded(buttons), nil, nil, s.tabs)
	hint := widget.NewLabel("Select a tenant to edit it, or click “Add tenant”.")
	hint.Importance = widget.LowImportance
	s.placeholder = container.NewCenter(hint)
	s.right = container.NewStack(s.placeholder)

	importBtn := widget.NewButtonWithIcon("Import…", theme.UploadIcon(), s.importFile)
	s.syncBtn = widget.NewButtonWithIcon("Sync from developer platform", theme.ViewRefreshIcon(), s.syncFromPlatform)
	addBtn := widget.NewButtonWithIcon("Add tenant", theme.ContentAddIcon(), s.newTenant)
	addBtn.Importance = widget.HighImportance
	top := container.NewBorder(nil, nil, widget.NewLabelWithStyle("Tenants", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(importBtn, s.syncBtn, addBtn), s.search)
	s.syncProgress = widget.NewProgressBarInfinite()
	s.syncProgress.Stop()
	s.syncProgress.Hide()
	s.syncStatus = widget.NewLabel("")
	s.syncStatus.Wrapping = fyne.TextWrapWord
	s.syncStatus.Selectable = true
	closeSync := widget.NewButtonWithIcon("", theme.CancelIcon(), func() { s.syncBox.Hide() })
	closeSync.Importance = widget.LowImportance
	s.syncBox = container.NewBorder(nil, nil, nil, container.NewVBox(closeSync), container.NewVBox(s.syncProgress, s.syncStatus))
	s.syncBox.Hide()
	split := container.NewHSplit(s.list, s.right)
	split.Offset = 0.47
	s.root = container.NewBorder(container.NewVBox(container.NewPadded(top), s.syncBox), nil, nil, nil, split)
	return s
}

func (s *tenantsScreen) content() fyne.CanvasObject { return s.root }
func (s *tenantsScreen) shown()                     { s.reload("") }

// reload fetches the list off the UI goroutine; selectKey is shown after.
func (s *tenantsScreen) reload(selectKey tenant.Key) {
	current := s.loads.next()
	background(s.m.svc.Tenants, func(list []admin.TenantSummary, err error) {
		if !current() {
			return
		}
		if err != nil {
			s.m.showError("Could not read tenants", err)
			return
		}
		s.list.SetRows(list)
		for _, t := range list {
			if t.Key == s.editing && !s.isNew {
				s.setCurrent(t)
			}
			if selectKey != "" && t.Key == selectKey {
				s.setCurrent(t)
			}
		}
	})
}

func (s *tenantsScreen) setCurrent(t admin.TenantSummary) {
	s.current = t
	s.warning.Importance = widget.WarningImportance
	if t.Enabled {
		s.toggle.SetText("Disable")
		s.toggle.SetIcon(theme.VisibilityOffIcon())
	} else {
		s.toggle.SetText("Enable")
		s.toggle.SetIcon(theme.VisibilityIcon())
	}
	if len(t.Warnings) > 0 {
		s.warning.SetText("⚠ " + strings.Join(t.Warnings, "\n⚠ "))
		s.warning.Show()
	} else {
		s.warning.Hide()
	}
}

func (s *tenantsScreen) showDetail() {
	s.right.Objects = []fyne.CanvasObject{s.detail}
	s.right.Refresh()
}

// newTenant opens an empty form.
func (s *tenantsScreen) newTenant() {
	s.editing, s.isNew = "", true
	s.list.table.UnselectAll()
	s.heading.SetText("New tenant")
	s.form.load(tenant.Config{}, true)
	s.warning.Hide()
	s.toggle.Hide()
	s.remove.Hide()
	s.showDetail()
	s.refreshURLs()
	s.m.win.Canvas().Focus(s.form.key)
}

// edit loads a tenant into the form.
func (s *tenantsScreen) edit(t admin.TenantSummary) {
	key := t.Key
	background(func() (tenant.Config, error) { return s.m.svc.Tenant(key) }, func(c tenant.Config, err error) {
		if err != nil {
			s.m.showError("Could not read tenant "+string(key), err)
			return
		}
		s.editing, s.isNew = key, false
		s.heading.SetText(c.DisplayName + " (" + string(key) + ")")
		s.form.load(c, false)
		s.setCurrent(t)
		s.toggle.Show()
		s.remove.Show()
		s.showDetail()
		s.refreshURLs()
	})
}

// refreshURLs lists the registration URLs for the key in the form.
func (s *tenantsScreen) refreshURLs() {
	key, err := tenant.ParseKey(strings.TrimSpace(s.form.key.Text))
	s.urls.Objects = nil
	if err != nil {
		l := widget.NewLabel("Enter a valid key to see the URLs.")
		l.Importance = widget.LowImportance
		s.urls.Add(l)
		return
	}
	urls := s.m.svc.RegistrationURLs(key)
	heading := func(text string) {
		s.urls.Add(widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
	}
	for i, u := range urls {
		switch {
		case i == 0 && u.Registered:
			heading("Registered on the developer platform — what the hub calls:")
		case i > 0 && urls[i-1].Registered && !u.Registered:
			heading("Our own /mno-enterprise/ routes, also served (\"alternative\": the hub uses the URL above):")
		}
		url := u.URL
		title := u.Label + "  ·  " + u.Method
		if u.Alternative {
			title += "  ·  alternative"
		}
		label := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		value := widget.NewLabel(url)
		value.Wrapping = fyne.TextWrapBreak
		// Monospace at the body text size: at caption size the font's
		// underscore falls below the line and ":group_id" read ":group id".
		value.TextStyle = fyne.TextStyle{Monospace: true}
		value.Selectable = true
		cp := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
			s.m.app.Clipboard().SetContent(url)
		})
		s.urls.Add(container.NewBorder(nil, nil, nil, container.NewCenter(cp), container.NewVBox(label, value)))
	}
	s.urls.Refresh()
}

// saveTenant validates and saves the form; problems appear beside fields.
func (s *tenantsScreen) saveTenant() {
	if s.saving {
		return
	}
	cfg, local := s.form.config()
	if !s.isNew {
		cfg.Key = s.editing
	}
	isNew := s.isNew
	s.saving = true
	s.save.Disable()
	type outcome struct{ p tenant.Problems }
	background(func() (outcome, error) {
		if len(local) > 0 {
			p := s.m.svc.ValidateTenant(cfg)
			p.Errors = append(local, p.Errors...)
			return outcome{p}, p.Err()
		}
		p, err := s.m.svc.SaveTenant(cfg, isNew)
		return outcome{p}, err
	}, func(o outcome, err error) {
		s.saving = false
		s.save.Enable()
		s.form.showProblems(o.p)
		if n := s.form.problemCount(); n > 0 {
			s.tabs.SelectIndex(0)
			s.warning.Importance = widget.DangerImportance
			what := "1 field needs"
			if n > 1 {
				what = fmt.Sprintf("%d fields need", n)
			}
			s.warning.SetText("Not saved: " + what + " attention (marked beside each):\n" + s.form.problemSummary(o.p))
			s.warning.Show()
		}
		var ve *tenant.ValidationError
		switch {
		case err == nil:
		case errors.As(err, &ve) || errors.Is(err, admin.ErrTenantExists) || !o.p.OK():
			return // the messages beside the fields say it
		default:
			s.m.showError("Could not save the tenant", err)
			return
		}
		cfg.Normalize()
		s.editing, s.isNew = cfg.Key, false
		s.form.key.Disable()
		s.heading.SetText(cfg.DisplayName + " (" + string(cfg.Key) + ")")
		s.toggle.Show()
		s.remove.Show()
		s.reload(cfg.Key)
	})
}

func (s *tenantsScreen) toggleEnabled() {
	key, enable := s.editing, !s.current.Enabled
	if key == "" {
		return
	}
	background(func() (struct{}, error) { return struct{}{}, s.m.svc.SetTenantEnabled(key, enable) },
		func(_ struct{}, err error) {
			if err != nil {
				s.m.showError("Could not change the tenant", err)
				return
			}
			s.form.enabled.SetChecked(enable)
			s.reload(key)
		})
}

// confirmDelete asks before removing the tenant being edited.
func (s *tenantsScreen) confirmDelete() {
	key := s.editing
	if key == "" || s.isNew {
		return
	}
	dialog.ShowConfirm("Delete tenant "+string(key)+"?",
		"Its configuration is removed and its routes answer 404 at once.\n"+
			"Its users, groups, invoices and identity-map rows stay, marked as orphaned.",
		func(ok bool) {
			if !ok {
				return
			}
			background(func() (struct{}, error) { return struct{}{}, s.m.svc.RemoveTenant(key) },
				func(_ struct{}, err error) {
					if err != nil {
						s.m.showError("Could not delete the tenant", err)
						return
					}
					s.editing = ""
					s.right.Objects = []fyne.CanvasObject{s.placeholder}
					s.right.Refresh()
					s.list.table.UnselectAll()
					s.reload("")
				})
		}, s.m.win)
}

// testConnection pings the tenant's API with the credentials in the form.
func (s *tenantsScreen) testConnection() {
	cfg, _ := s.form.config()
	s.test.Disable()
	background(func() (string, error) {
		ctx, cancel := context.WithTimeout(s.m.ctx, 20*time.Second)
		defer cancel()
		return s.m.svc.TestConnection(ctx, cfg)
	}, func(msg string, err error) {
		s.test.Enable()
		if err != nil {
			s.m.showError("Connection failed", err)
			return
		}
		dialog.ShowInformation("Connection works", msg, s.m.win)
	})
}

// importFile reads a marketplaces document and imports it, all or nothing.
func (s *tenantsScreen) importFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			s.m.showError("Could not open the file", err)
			return
		}
		if r == nil {
			return
		}
		s.importFrom(r.URI().Name(), func() ([]byte, error) {
			defer r.Close()
			return readLimited(r)
		})
	}, s.m.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".json"}))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// importFrom reads a file off the UI goroutine and imports it; a rejected
// file shows every problem.
func (s *tenantsScreen) importFrom(name string, read func() ([]byte, error)) {
	background(func() ([]tenant.Key, error) {
		data, err := read()
		if err != nil {
			return nil, err
		}
		return s.m.svc.ImportTenants(data)
	}, func(keys []tenant.Key, err error) {
		var ie *tenant.ImportError
		if errors.As(err, &ie) {
			s.showImportProblems(name, ie)
			return
		}
		if err != nil {
			s.m.showError("Import failed", err)
			return
		}
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = string(k)
		}
		dialog.ShowInformation("Import done", fmt.Sprintf("Imported %d tenant%s: %s.", len(keys), plural(len(keys), "s"), strings.Join(names, ", ")), s.m.win)
		s.reload("")
	})
}

// syncFromPlatform fetches the developer platform's marketplaces document
// and imports it, off the UI goroutine; progress, then the result or the
// error, show in the panel under the toolbar. Nothing changes on an error.
func (s *tenantsScreen) syncFromPlatform() {
	if s.syncing {
		return
	}
	s.syncing = true
	s.syncBtn.Disable()
	s.syncStatus.Importance = widget.MediumImportance
	s.syncStatus.SetText("Syncing from the developer platform…")
	s.syncProgress.Show()
	s.syncProgress.Start()
	s.syncBox.Show()
	background(func() (admin.ImportResult, error) {
		if cfg, err := s.m.svc.DevPlatform(); err == nil {
			origin := cfg.Origin()
			uiDo(func() {
				if s.syncing {
					s.syncStatus.SetText("Fetching the marketplaces document from " + origin + "…")
				}
			})
		}
		ctx, cancel := context.WithTimeout(s.m.ctx, time.Minute)
		defer cancel()
		return s.m.svc.SyncTenants(ctx)
	}, func(res admin.ImportResult, err error) {
		s.syncing = false
		s.syncBtn.Enable()
		s.syncProgress.Stop()
		s.syncProgress.Hide()
		s.lastSync, s.lastSyncErr = res, err
		if err != nil {
			s.syncStatus.Importance = widget.DangerImportance
			s.syncStatus.SetText("Sync failed, nothing was changed.\n" + err.Error())
			return
		}
		s.syncStatus.Importance = widget.SuccessImportance
		s.syncStatus.SetText(fmt.Sprintf("Synced %d tenant%s from %s at %s: %s.", len(res.Keys()), plural(len(res.Keys()), "s"),
			res.Source, time.Now().Format("15:04"), res.Summary()))
		s.reload("")
	})
}

// showImportProblems lists every problem of a rejected import.
func (s *tenantsScreen) showImportProblems(name string, ie *tenant.ImportError) {
	lines := ie.Lines()
	s.importProblems = lines
	list := widget.NewList(func() int { return len(lines) },
		func() fyne.CanvasObject { l := widget.NewLabel(""); l.Wrapping = fyne.TextWrapWord; return l },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(lines[i]) })
	intro := widget.NewLabel(fmt.Sprintf("%s was not imported (nothing was changed). %d problem%s:", name, len(lines), plural(len(lines), "s")))
	intro.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Import rejected", "Close", container.NewBorder(intro, nil, nil, nil, list), s.m.win)
	d.Resize(fyne.NewSize(720, 420))
	d.Show()
}

// loadPEM reads a certificate file into the certificate field.
func (s *tenantsScreen) loadPEM() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			if err != nil {
				s.m.showError("Could not open the file", err)
			}
			return
		}
		background(func() (string, error) {
			defer r.Close()
			data, err := readLimited(r)
			if err != nil {
				return "", err
			}
			c := tenant.Config{SSO: tenant.SSO{X509Certificate: string(data)}}
			if _, err := c.Certificates(); err != nil {
				return "", fmt.Errorf("%s: %w", r.URI().Name(), err)
			}
			return strings.TrimSpace(string(data)) + "\n", nil
		}, func(pemText string, err error) {
			if err != nil {
				s.m.showError("Not a PEM certificate", err)
				return
			}
			s.form.cert.SetText(pemText)
		})
	}, s.m.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".pem", ".crt", ".cer"}))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileRead+1))
	if err != nil {
		return nil, fmt.Errorf("read file: %w", err)
	}
	if len(data) > maxFileRead {
		return nil, fmt.Errorf("the file is larger than %d MiB", maxFileRead>>20)
	}
	return data, nil
}

// ago formats a past time for lists: "3 min ago", "2 days ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return t.Local().Format(time.DateOnly)
}

module github.com/tenantdesk/tenantdesk

go 1.25.0

require (
	fyne.io/fyne/v2 v2.7.1 // indirect
	github.com/beevik/etree v1.8.1 // indirect
	github.com/crewjam/saml v0.6.3 // indirect
	github.com/jonboulle/clockwork v0.5.0 // indirect
	github.com/mattermost/xml-roundtrip-validator v0.1.0 // indirect
	github.com/russellhaering/gosaml2 v0.12.0 // indirect
	github.com/russellhaering/goxmldsig v1.6.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

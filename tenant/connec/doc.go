// Package connec is everything Tenantdesk does with a tenant's Connec! API
// (SPEC §7, maestrano-protocol §5): notifications in, local invoices and
// their pushes out, pulls of what Connec! already holds, the links back of
// what came from Connec!, and the mapping between the two sides.
//
// Where things are:
//
//	ids.go         Connec! ids and our {id, provider, realm} triplet; record headers
//	mapping.go     a Connec! invoice record <-> a local store.Invoice (amounts via tenant/money)
//	invoice.go     the rules of a local invoice: validation, statuses, SaveInvoice
//	outbox.go      the durable push queue: enqueue on save, backoff, retry by hand
//	push.go        the Worker that delivers the outbox
//	wake.go        what the Worker and the Puller share as owners of a Run loop
//	claims.go      on etcd, the tenants each replica's Worker and Puller claim
//	client.go      the HTTP client of one tenant's Connec!
//	parse.go       notifications: decode and check the body, nothing written
//	jsonscan.go    the body's JSON scanner, and invoices read without reflection
//	ingest.go      notifications and pulled pages: the rules that store each record
//	pull_queue.go  the pull queue: initial, periodic and by-hand pulls (Puller)
//	pull.go        one pull of a (tenant, group, collection): pages, cursor, outcome
//	link.go        links back: our triplet sent once for each record made from Connec!
package connec

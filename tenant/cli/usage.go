package cli

// usage is what --help prints before the global flags.
const usage = `Usage: tenantdesk [global flags] [command]

Commands:
  (none)                                   GUI and listener
  serve [--admin-addr HOST:PORT]           listener only, no display; --admin-addr adds the admin API over TLS
  tenant import FILE|-                     add or update tenants from a marketplaces JSON file
  tenant list [--json]                     tenants, secrets masked
  tenant remove KEY                        remove a tenant (its records stay, orphaned)
  tenant sync                              import the developer platform's marketplaces document
                                           (MNO_DEVPL_HOST, MNO_DEVPL_API_PATH, MNO_DEVPL_ENV_KEY,
                                           MNO_DEVPL_ENV_SECRET, or the devpl-* settings)
  idmap list [--tenant K] [--entity E] [--search NAME] [--json | --csv]
  export [--tenant K]                      JSON of users, groups, memberships, identity map, invoices, bills
  bill preview --period YYYY-MM [--tenant K]
  bill run --period YYYY-MM [--tenant K] [--rebill UID[,UID…]]...
  bill cancel --period YYYY-MM --tenant K --group UID
  connec pull [--tenant K] [--group G] [--full]
                                           pull records from Connec! now; counts per collection
  activity [--tenant K] [--limit N] [--json]  the activity log, newest first
  backup FILE                              consistent copy of the database
  restore FILE                             replace the database with a backup, checked whole first (the old
                                           file kept as <db>.before-restore; serve and the GUI keep running)
  compact                                  purge expired logins and rewrite the file without its free
                                           pages (through the GUI or serve when one has the file open)
  rekey                                    seal every secret under a new master key (--key-file, or the OS keyring)
  admin-token [--revoke]                   new bearer token for serve --admin-addr (the old one stops working)
  admin-cert                               the admin address's certificate (PEM), for --server-ca
  settings [get KEY | set KEY VALUE | unset KEY]
                                           settings kept in the data file (flag > env > stored > default)
  service install|remove|start|stop       Windows: run serve on this data file as the service Tenantdesk
                                           (log in <db>.service.log)
  store copy --from URL|FILE --to URL|FILE copy every record between a data file and an etcd store
                                           (refuses a target that holds data)
  cluster status [--json]                  serve replicas (address, version, last seen) and etcd members
  demo-data                                fill the database with demonstration tenants and records
  version

While the GUI or serve has the data file open, every command but serve and
the GUI runs through that process (its control socket, <db>.sock; on Windows a named pipe).
With --store etcd://…, every command works on the cluster directly and serve
is one replica of any number (SPEC §14).

Global flags (before the command):
`

package guard

import (
	"net"

	"golang.org/x/net/netutil"
)

// reservedFiles are the descriptors kept for everything but accepted
// connections: the data file, the control socket, outbound calls to the
// marketplaces, log files, the TLS files being reloaded.
const reservedFiles = 64

// ConnLimits are the most connections each listener holds open at once,
// derived from the process's open-file limit (RLIMIT_NOFILE) so that the
// two caps and the reserve fit in it together: a flood of one listener
// (half-open TLS handshakes on the admin address, say) waits in the
// kernel's backlog and cannot take the descriptors the other one needs.
type ConnLimits struct {
	Public, Admin int
}

// Limits divides the open-file limit: three quarters of what the reserve
// leaves to the tenants' listener, one eighth to the admin address.
func Limits() ConnLimits { return limitsFor(openFileLimit()) }

func limitsFor(files int) ConnLimits {
	usable := max(files-reservedFiles, 32)
	return ConnLimits{Public: usable * 3 / 4, Admin: max(usable/8, 4)}
}

// LimitListener caps the connections l holds open at n; Accept waits for
// one to close beyond that.
func LimitListener(l net.Listener, n int) net.Listener { return netutil.LimitListener(l, n) }

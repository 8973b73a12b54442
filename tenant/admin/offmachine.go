package admin

import (
	"errors"
	"fmt"

	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// ErrOnMachineOnly is returned to a client off the owner's machine (the
// admin address) for a change that only the machine itself may make: a
// host-level setting (SPEC §15).
var ErrOnMachineOnly = errors.New("works only on the machine itself")

// OffMachine is api as the admin address serves it: host-level settings
// (file paths, the listener's address, the trusted proxies) are refused
// before anything looks at their value, so the answer is the same for a
// path that exists and one that does not, and nothing is written. Every
// other method is api's own.
func OffMachine(api API) API { return offMachine{api} }

type offMachine struct{ API }

func refuseHostLevel(keys ...settings.Key) error {
	for _, k := range keys {
		if d, err := settings.Lookup(string(k)); err == nil && d.HostLevel {
			return fmt.Errorf("setting %s %w (the GUI, or `tenantdesk settings` there), not through the admin address: %w",
				k, ErrOnMachineOnly, errHostLevel)
		}
	}
	return nil
}

// errHostLevel says why, for the message.
var errHostLevel = errors.New("it names something of the server's own machine")

func (o offMachine) SetSetting(key, value string) error {
	if err := refuseHostLevel(settings.Key(key)); err != nil {
		return err
	}
	return o.API.SetSetting(key, value)
}

func (o offMachine) UnsetSetting(key string) error {
	if err := refuseHostLevel(settings.Key(key)); err != nil {
		return err
	}
	return o.API.UnsetSetting(key)
}

func (o offMachine) SaveSettings(changes []settings.Change) error {
	keys := make([]settings.Key, len(changes))
	for i, c := range changes {
		keys[i] = c.Key
	}
	if err := refuseHostLevel(keys...); err != nil {
		return err
	}
	return o.API.SaveSettings(changes)
}

// SetListenerAddress is the addr setting's runtime twin: the public URL
// may change from afar, the address only on the machine.
func (o offMachine) SetListenerAddress(addr, publicURL string) error {
	if addr != o.API.Addr() {
		return refuseHostLevel(settings.Addr)
	}
	return o.API.SetListenerAddress(addr, publicURL)
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceName is the Windows service `tenantdesk service install` adds.
const serviceName = "Tenantdesk"

// controlService does one `tenantdesk service` verb through the service
// control manager (an elevated prompt is needed for install and remove,
// as for any service).
func controlService(verb, db string) (string, error) {
	m, err := mgr.Connect()
	if err != nil {
		return "", fmt.Errorf("service control manager: %w (install and remove need an elevated prompt)", err)
	}
	defer m.Disconnect()
	if verb == "install" {
		return installService(m, db)
	}
	s, err := m.OpenService(serviceName)
	if err != nil {
		return "", fmt.Errorf("%s: %w (not installed?)", serviceName, err)
	}
	defer s.Close()
	switch verb {
	case "remove":
		_, _ = s.Control(svc.Stop) // a running one stops first; a stopped one says so
		if err := s.Delete(); err != nil {
			return "", err
		}
		return "removed service " + serviceName + " (the data file stays)", nil
	case "start":
		if err := s.Start(); err != nil {
			return "", err
		}
		return "started service " + serviceName, waitState(s, svc.Running)
	default: // stop
		if _, err := s.Control(svc.Stop); err != nil {
			return "", err
		}
		return "stopped service " + serviceName, waitState(s, svc.Stopped)
	}
}

func installService(m *mgr.Mgr, db string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	db, err = filepath.Abs(db)
	if err != nil {
		return "", err
	}
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return "", fmt.Errorf("%s is installed already (tenantdesk service remove first)", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "Tenantdesk listener",
		Description: "Tenantdesk's listener for the Maestrano marketplaces (tenantdesk serve) on " + db,
		StartType:   mgr.StartAutomatic,
	}, "--db", db, "service", "run")
	if err != nil {
		return "", err
	}
	defer s.Close()
	return fmt.Sprintf("installed service %s: %s --db %s service run (serve), starting with Windows; its log is %s", serviceName, exe, db, serviceLog(db)), nil
}

// waitState waits for the service to reach want, as `sc` users expect a
// start or stop to have happened when the command returns.
func waitState(s *mgr.Service, want svc.State) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.Query()
		if err != nil {
			return err
		}
		if st.State == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still in state %d after 30 s", st.State)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// serviceLog is where serve run as a service writes what it would print:
// a service has no console.
func serviceLog(db string) string { return db + ".service.log" }

// runService is `tenantdesk service run`, what the service manager
// starts: serve, with its output in serviceLog (a service has no
// console), reporting to the manager (running, stop pending, stopped) and
// ending on its Stop or Shutdown as serve does on Ctrl+C: in-flight
// requests finish and the data file is closed.
func runService(ctx context.Context, g globals, stderr io.Writer) int {
	log, err := os.OpenFile(serviceLog(g.db), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return exitf(stderr, "service run: %v", err)
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &serviceHandler{stop: cancel, serve: func() int { return cmdServe(ctx, g, nil, log, log) }}
	if err := svc.Run(serviceName, h); err != nil {
		return exitf(io.MultiWriter(stderr, log), "service run: %v (only the service manager starts this; use serve)", err)
	}
	return int(h.code)
}

type serviceHandler struct {
	stop  context.CancelFunc
	serve func() int
	code  uint32 // serve's exit code
}

func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	served := make(chan int, 1)
	go func() { served <- h.serve() }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case code := <-served: // serve ended of its own (it could not start)
			h.code = uint32(code)
			return code != 0, h.code
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 20000}
				h.stop()
				h.code = uint32(<-served)
				return h.code != 0, h.code
			}
		}
	}
}

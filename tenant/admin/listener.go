package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// ListenerState is where the embedded HTTP listener is in its life.
type ListenerState int

const (
	ListenerStopped ListenerState = iota
	ListenerStarting
	ListenerRunning
	ListenerStopping
	ListenerFailed
)

func (st ListenerState) String() string {
	switch st {
	case ListenerStarting:
		return "Starting"
	case ListenerRunning:
		return "Listening"
	case ListenerStopping:
		return "Stopping"
	case ListenerFailed:
		return "Failed"
	}
	return "Stopped"
}

// ListenerStatus is a snapshot of the listener for the status bar and Settings.
type ListenerStatus struct {
	State     ListenerState
	Addr      string
	PublicURL string
	Since     time.Time
	Err       error // why it failed, when State is ListenerFailed
}

type listenerState struct {
	status ListenerStatus
	cancel context.CancelFunc
	done   chan struct{}
}

// ErrListenerRunning is returned when a change needs the listener stopped.
var ErrListenerRunning = errors.New("the listener is running; stop it first")

// ListenerStatus reports the listener's state.
func (s *Service) ListenerStatus() ListenerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.listener.status
	if st.Addr == "" {
		st.Addr, st.PublicURL = s.addr, s.publicURL
	}
	return st
}

// SetListenerAddress changes the address and public URL the next start
// uses. It refuses while the listener runs and checks both values.
func (s *Service) SetListenerAddress(addr, publicURL string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("listener address %q: want HOST:PORT", addr)
	}
	if publicURL == "" {
		publicURL = "http://" + addr
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("public URL %q: want an http(s) URL with a host", publicURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.listener.status.State; st == ListenerRunning || st == ListenerStarting || st == ListenerStopping {
		return ErrListenerRunning
	}
	s.addr, s.publicURL = addr, strings.TrimRight(publicURL, "/")
	return nil
}

// StartListener starts the embedded listener in the background and waits
// until it accepts connections or fails to start.
func (s *Service) StartListener() error {
	s.mu.Lock()
	switch s.listener.status.State {
	case ListenerRunning, ListenerStarting, ListenerStopping:
		s.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	addr, publicURL := s.addr, s.publicURL
	s.listener = listenerState{
		status: ListenerStatus{State: ListenerStarting, Addr: addr, PublicURL: publicURL, Since: s.now()},
		cancel: cancel,
		done:   done,
	}
	s.mu.Unlock()

	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		err := serveListener(ctx, s, addr, publicURL, func(a net.Addr) { ready <- a })
		s.mu.Lock()
		if err != nil && !errors.Is(err, context.Canceled) {
			s.listener.status = ListenerStatus{State: ListenerFailed, Addr: addr, PublicURL: publicURL, Since: s.now(), Err: err}
		} else {
			s.listener.status = ListenerStatus{State: ListenerStopped, Addr: addr, PublicURL: publicURL, Since: s.now()}
		}
		s.mu.Unlock()
		errc <- err
	}()
	select {
	case bound := <-ready:
		s.mu.Lock()
		if s.listener.status.State == ListenerStarting {
			s.listener.status.State = ListenerRunning
			s.listener.status.Since = s.now()
			s.listener.status.Addr = bound.String() // the real port when addr asked for :0
		}
		s.mu.Unlock()
		return nil
	case err := <-errc:
		cancel()
		if err == nil {
			err = errors.New("listener stopped before it was ready")
		}
		return fmt.Errorf("start listener on %s: %w", addr, err)
	}
}

// StopListener stops the listener gracefully: in-flight requests finish
// (bounded by ctx).
func (s *Service) StopListener(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.listener.cancel, s.listener.done
	if cancel == nil || s.listener.status.State == ListenerStopped || s.listener.status.State == ListenerFailed {
		s.mu.Unlock()
		return nil
	}
	s.listener.status.State = ListenerStopping
	s.mu.Unlock()
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop listener: %w", ctx.Err())
	}
}

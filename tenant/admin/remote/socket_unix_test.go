//go:build unix

package remote

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The control socket answers its own user only: a listener told that the
// owner is another uid drops this process's connection unanswered, and
// one told the truth answers it (SO_PEERCRED read on a real socket).
func TestControlSocketDropsPeersOfAnotherUser(t *testing.T) {
	svc := demoService(t)
	for _, tc := range []struct {
		name   string
		uid    int
		answer bool
	}{
		{"same user", os.Getuid(), true},
		{"another user", os.Getuid() + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: Handler(svc, Info{Name: "owner"}, nil, nil)}
			go func() { _ = srv.Serve(&sameUserListener{Listener: l, uid: tc.uid, log: slog.New(slog.DiscardHandler)}) }()
			t.Cleanup(func() { _ = srv.Close() })
			c := &Client{Name: "test", base: "http://tenantdesk", http: &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", path)
				},
			}}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = c.hello(ctx)
			if got := err == nil; got != tc.answer {
				t.Fatalf("answered: %v (err %v), want %v", got, err, tc.answer)
			}
			if tc.answer && c.Info.Name != "owner" {
				t.Fatalf("hello: %+v", c.Info)
			}
		})
	}
}

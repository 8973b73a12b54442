package store

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("reserve ids of invoices: %w", status.Error(codes.Unavailable, "error reading from server: EOF")), true},
		{fmt.Errorf("etcd commit: %w", rpctypes.ErrLeaderChanged), true},
		{fmt.Errorf("etcd commit: %w", rpctypes.ErrTimeout), true},
		{fmt.Errorf("etcd: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("etcd: %w", status.Error(codes.InvalidArgument, "too many operations in txn request")), false},
		{fmt.Errorf("tenant: %w", ErrNotFound), false},
		{ErrConflict, false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

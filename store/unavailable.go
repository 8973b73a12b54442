package store

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Unavailable reports whether err says the store could not be reached or
// could not commit in time: on etcd, while the cluster elects a new leader
// or a member is down (SPEC §14: writes may then answer 503, and service
// resumes within 15 s), as opposed to an error that trying again would not
// cure. It is how callers tell "try again" from "failed" without an etcd
// type outside store/.
func Unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// etcd's client gives either a gRPC status or its own typed errors
	// (rpctypes.EtcdError: "leader changed", "request timed out"), both
	// with a code.
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) {
		return unavailableCode(grpcErr.GRPCStatus().Code())
	}
	var etcdErr interface{ Code() codes.Code }
	if errors.As(err, &etcdErr) {
		return unavailableCode(etcdErr.Code())
	}
	return false
}

func unavailableCode(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}

//go:build !unix

package server_test

import (
	"testing"
	"time"
)

// cpuTime is not measured here: cpu-µs/req reads 0.
func cpuTime(*testing.B) time.Duration { return 0 }

//go:build !unix

package harness

import (
	"context"
	"errors"
	"time"

	"github.com/wschaos/wschaos/result"
)

// process is an outside client; on this system there is none, as the harness
// relies on process groups to stop a client and everything it started.
type process struct {
	pid   int
	done  chan struct{}
	err   error
	grace time.Duration
}

func startProcess(context.Context, []string, []string, func(kind result.Kind, line string)) (*process, error) {
	return nil, errors.New("outside clients need a unix system (process groups)")
}

func (p *process) stop() {}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// coldBuild is a newcomer's first build: `go build ./cmd/idp` with an
// empty build cache (the module cache, downloads, is kept: the network is
// not what is measured).
type coldBuild struct {
	wall      time.Duration
	cpu       time.Duration // user+system of the go command and its children
	binaryMiB float64
}

func (c *coldBuild) describe() string {
	return fmt.Sprintf("cold go build ./cmd/idp: %.0f s wall clock, %.0f CPU-s, binary %.1f MiB", c.wall.Seconds(), c.cpu.Seconds(), c.binaryMiB)
}

// measureColdBuild builds ./cmd/idp with GOCACHE in a new temporary
// directory, on every CPU this process may use.
func measureColdBuild(ctx context.Context) (*coldBuild, error) {
	dir, err := os.MkdirTemp("", "flexidp-coldbuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "idp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/flexidp/flexidp/cmd/idp")
	cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(dir, "cache"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("cold go build ./cmd/idp: %v\n%s", err, out)
	}
	c := &coldBuild{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if fi, err := os.Stat(bin); err == nil {
		c.binaryMiB = float64(fi.Size()) / (1 << 20)
	}
	return c, nil
}

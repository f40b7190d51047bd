package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profileAll records a CPU profile of every process in ops (name → base URL
// of its ops port) at once, for d, into dir/<name>.pprof. Taken during the
// bulk phase, the profiles show where each worker's time goes under load,
// which the issue asks for wherever a target is missed.
func profileAll(ctx context.Context, dir string, ops map[string]string, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]string, 0)
	var mu sync.Mutex
	for name, base := range ops {
		wg.Go(func() {
			if err := profileOne(ctx, filepath.Join(dir, name+".pprof"), base, d); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("profiles: %s", strings.Join(errs, "; "))
	}
	// A readable summary beside each profile, when a Go toolchain is at
	// hand (it is wherever make bench runs): what BENCHMARKS.md quotes.
	for name := range ops {
		path := filepath.Join(dir, name+".pprof")
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", path).Output()
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".top.txt"), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func profileOne(ctx context.Context, path, base string, d time.Duration) error {
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

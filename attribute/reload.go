package attribute

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// trainedModel is the trained model in force: the last one a reload
// swapped in, else the one loaded at start (Config.DataDriven).
func (a *Attributor) trainedModel() *TrainedModel {
	if m := a.trained.Load(); m != nil {
		return m
	}
	return a.Config.DataDriven
}

// UseTrained makes m the trained model in force.
func (a *Attributor) UseTrained(m *TrainedModel) {
	old := a.trainedModel()
	a.trained.Store(m)
	if old != nil && old.Version != m.Version {
		a.Metrics.trainedInfo.DeleteLabelValues(old.Method, old.Version)
	}
	a.Metrics.trainedInfo.WithLabelValues(m.Method, m.Version).Set(1)
}

// reloadTrained checks a newly read model file b against the model in force
// and swaps it in if it is a new version. It refuses, keeping the running
// model, a file that does not parse or validate, one of another method than
// the running one (the paid-model configuration names the method), and one
// that reuses the running version for other credits: a version must name
// one set of credits, since attributions and commission entries record it.
func (a *Attributor) reloadTrained(b []byte) (changed bool, err error) {
	m, err := ParseTrainedModel(b)
	if err != nil {
		return false, err
	}
	cur := a.trainedModel()
	switch {
	case cur == nil:
		return false, fmt.Errorf("no trained model loaded at start") // Watch is only started with one
	case m.Method != cur.Method:
		return false, fmt.Errorf("method %s: the running model is %s; restart with a matching --paid-model to change method", m.Method, cur.Method)
	case m.Version == cur.Version:
		if same, err := sameModel(m, *cur); err != nil || !same {
			return false, fmt.Errorf("version %s is running with other credits: publish a new version", m.Version)
		}
		return false, nil
	}
	a.UseTrained(&m)
	return true, nil
}

func sameModel(x, y TrainedModel) (bool, error) {
	bx, err := json.Marshal(x)
	if err != nil {
		return false, err
	}
	by, err := json.Marshal(y)
	return string(bx) == string(by), err
}

// WatchTrained re-reads the trained model file at path every interval
// until ctx ends and swaps in a new version (see reloadTrained). Polling,
// not inotify, because Kubernetes ConfigMaps change by symlink swap, which
// inotify watches lose. A refused file is logged once per content.
func (a *Attributor) WatchTrained(ctx context.Context, path string, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var refused [sha256.Size]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			log.Warn("trained model unreadable, keeping the running one", "path", path, "err", err)
			continue
		}
		sum := sha256.Sum256(b)
		if sum == refused {
			continue
		}
		prev := a.trainedModel()
		changed, err := a.reloadTrained(b)
		switch {
		case err != nil:
			refused = sum
			a.Metrics.trainedReloads.WithLabelValues("refused").Inc()
			log.Error("new trained model refused, keeping the running one", "path", path, "running", prev.Version, "err", err)
		case changed:
			a.Metrics.trainedReloads.WithLabelValues("ok").Inc()
			log.Info("trained model reloaded", "method", a.trainedModel().Method, "version", a.trainedModel().Version, "previous", prev.Version)
		}
	}
}

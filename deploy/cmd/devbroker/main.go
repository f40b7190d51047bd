// Command devbroker is a DEVELOPMENT Kafka broker: franz-go's kfake, one
// in-process broker speaking the Kafka protocol, with reftrack's topics
// created up front and its log persisted under --data-dir. It supports what
// the workers use (consumer groups, transactions, read_committed), and
// evicts group members that died mid-join, which kfake alone keeps forever
// (see package devbroker). It is not a production broker: no replication,
// no tuning, no security.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reftrack/reftrack/deploy/devbroker"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func main() { cli.Main("devbroker", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("devbroker", flag.ContinueOnError)
	port := fs.Int("port", devports.Default(devports.Broker), "TCP port to listen on (127.0.0.1 and all interfaces kfake binds)")
	dataDir := fs.String("data-dir", "", "directory persisting the log across restarts (empty: memory only)")
	partitions := fs.Int("partitions", 4, "partitions per reftrack topic")
	prefix := fs.String("topic-prefix", "", "topic prefix, as the workers' --topic-prefix")
	pprofAddr := fs.String("pprof-addr", "", "listen address of /debug/pprof/ (empty: none); the bench profiles the broker beside the workers")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *port < 1 || *port > 65535 || *partitions < 1 || *partitions > 1024 {
		return fmt.Errorf("--port must be 1..65535 and --partitions 1..1024")
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.SeedTopics(int32(*partitions), schemas.AllTopics(*prefix)...),
		kfake.DefaultNumPartitions(*partitions),
		kfake.AllowAutoTopicCreation(),
	}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := devbroker.Start(log, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	log.Info("dev broker listening", "addrs", c.ListenAddrs(), "topics", schemas.AllTopics(*prefix), "partitions", *partitions, "data_dir", *dataDir)
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		worker.MountPprof(mux)
		go func() {
			if err := worker.Serve(ctx, *pprofAddr, mux, log); err != nil {
				log.Error("pprof server", "err", err)
			}
		}()
	}
	<-ctx.Done()
	log.Info("dev broker stopping")
	return nil
}

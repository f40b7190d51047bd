// Package devbroker is reftrack's DEVELOPMENT Kafka broker: franz-go's kfake
// (one in-process broker speaking the Kafka protocol) plus what it needs so
// that a dev stack under kill loops behaves like a real broker.
//
// kfake keeps a classic consumer-group member forever when its connection
// dies while its JoinGroup is parked (no newer kfake fixes it, see
// reaper.go), and the partitions assigned to it then sit unconsumed until
// the stage restarts. A Broker therefore runs a reaper that evicts such
// members a session timeout after their group went stable, as Kafka does.
// Everything else is kfake unchanged.
package devbroker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sweepEvery is how often the reaper looks at the groups: eviction lands at
// most this much after a member's session timeout.
const sweepEvery = 500 * time.Millisecond

// Broker is a running kfake cluster with its dead-member reaper.
type Broker struct {
	cluster *kfake.Cluster
	admin   *kgo.Client
	reaper  *reaper
	stop    context.CancelFunc
	done    chan struct{}
}

// Start starts kfake with opts and the reaper beside it.
func Start(log *slog.Logger, opts ...kfake.Opt) (*Broker, error) {
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID("devbroker-reaper"))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("create the reaper's client: %w", err)
	}
	r := newReaper(c.GroupInfo, leaveGroup(admin), log)
	r.install(c)
	ctx, stop := context.WithCancel(context.Background())
	b := &Broker{cluster: c, admin: admin, reaper: r, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		r.run(ctx, sweepEvery)
	}()
	return b, nil
}

// Cluster is the kfake cluster, for its addresses and test controls.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// ListenAddrs are the broker's addresses.
func (b *Broker) ListenAddrs() []string { return b.cluster.ListenAddrs() }

// Evicted counts the members the reaper has evicted.
func (b *Broker) Evicted() int64 { return b.reaper.evicted.Load() }

// Close stops the reaper, then the cluster.
func (b *Broker) Close() {
	b.stop()
	<-b.done
	b.admin.Close()
	b.cluster.Close()
}

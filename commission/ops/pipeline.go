package ops

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pipeline is where a command that asks the commission stage for something
// (an adjustment, a decision, a period close) sends its request: the
// brokers and the pipeline's topic prefix, as every such command spells
// them.
type pipeline struct {
	brokers, prefix string
}

func (p *pipeline) register(fs *flag.FlagSet) {
	fs.StringVar(&p.brokers, "brokers", "127.0.0.1:9092", "Kafka seed brokers")
	fs.StringVar(&p.prefix, "topic-prefix", "", "topic prefix of the pipeline")
}

// client is a producer that waits for every in-sync replica: a request the
// command reports as sent must not be lost with one broker.
func (p *pipeline) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(p.brokers, ",")...), kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create kafka client: %w", err)
	}
	return cl, nil
}

// send produces one request, what naming it in an error.
func (p *pipeline) send(ctx context.Context, what string, rec *kgo.Record) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce %s to %s: %w", what, rec.Topic, err)
	}
	return nil
}

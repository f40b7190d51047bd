package ops

import (
	"context"
	"flag"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/kafkaconn"
)

// pipeline is where a command that asks the commission stage for something
// (an adjustment, a decision, a period close) sends its request: the
// brokers, with the workers' TLS and SASL flags (kafkaconn), and the
// pipeline's topic prefix, as every such command spells them.
type pipeline struct {
	kafka  kafkaconn.Config
	prefix string
}

func (p *pipeline) register(fs *flag.FlagSet) {
	p.kafka.RegisterFlags(fs)
	fs.StringVar(&p.prefix, "topic-prefix", "", "topic prefix of the pipeline")
}

// client is a producer that waits for every in-sync replica: a request the
// command reports as sent must not be lost with one broker. It has reached
// the brokers (kafkaconn.Connect): brokers that refuse the login fail the
// command at once, not in a produce that retries until ctx ends.
func (p *pipeline) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	return p.kafka.Connect(ctx, append([]kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
}

// send produces one request, what naming it in an error.
func (p *pipeline) send(ctx context.Context, what string, rec *kgo.Record) error {
	cl, err := p.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce %s to %s: %w", what, rec.Topic, err)
	}
	return nil
}

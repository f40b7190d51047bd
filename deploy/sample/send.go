package sample

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/reftrack/reftrack/schemas"
)

// Send delivers a data set: Kafka records to topic (referrals.inbound with
// prefix) keyed by the tenant-scoped lead (schemas.LeadKey), so that each
// partner's lead keeps its order and two partners' leads with one id do not
// share a key; HTTP records as one JSON array per partner's lead to
// apiURL/v1/events, leads in parallel but each lead's records in order.
// Invalid records over HTTP still get 202 (they are JSON objects; validate
// rejects them), so any other status is an error.
// authz is the Authorization header for the API.
func Send(ctx context.Context, ds *Dataset, cl *kgo.Client, topic, apiURL, authz string) error {
	var recs []*kgo.Record
	byLead := map[string][][]byte{} // by schemas.Scoped(partner, lead)
	var order []string
	for _, r := range ds.Records {
		if !r.HTTP {
			recs = append(recs, &kgo.Record{Topic: topic, Key: schemas.LeadKey(r.Partner, r.Lead), Value: r.Value})
			continue
		}
		lead := schemas.Scoped(r.Partner, r.Lead)
		if _, ok := byLead[lead]; !ok {
			order = append(order, lead)
		}
		byLead[lead] = append(byLead[lead], r.Value)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for i := 0; i < len(recs); i += 5000 {
			if err := cl.ProduceSync(gctx, recs[i:min(i+5000, len(recs))]...).FirstErr(); err != nil {
				return fmt.Errorf("produce to %s: %w", topic, err)
			}
		}
		return nil
	})
	var mu sync.Mutex
	next := 0
	for range 8 {
		g.Go(func() error {
			for {
				mu.Lock()
				if next == len(order) {
					mu.Unlock()
					return nil
				}
				lead := order[next]
				next++
				mu.Unlock()
				if err := post(gctx, apiURL, authz, byLead[lead]); err != nil {
					return fmt.Errorf("lead %s: %w", lead, err)
				}
			}
		})
	}
	return g.Wait()
}

func post(ctx context.Context, apiURL, authz string, events [][]byte) error {
	body := append([]byte{'['}, bytes.Join(events, []byte{','})...)
	body = append(body, ']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post events: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post events: %s: %s", resp.Status, msg)
	}
	return nil
}

// Package worker is the runtime every reftrack stage runs in: it consumes a
// bounded batch from Kafka, hands it to the stage's pure Processor, produces
// the outputs and dead letters, and commits the input offsets in the same
// Kafka transaction (franz-go's GroupTransactSession).
//
// A stage declares itself in one Settings value (name, inputs, outputs, and
// a transactional App or a StoreApp); Settings.Main is every stage binary's
// run, and Exec its main.
//
// Contract for stages:
//   - A batch either commits whole (outputs visible to read_committed readers
//     and input offsets advanced together) or aborts whole; after an abort the
//     same records are polled again. Processing must therefore be deterministic
//     and any side effect outside Kafka idempotent under replay.
//   - A record whose error is a *RejectError or marked Permanent goes to the
//     dead-letter topic with its original bytes, source position and reasons;
//     the rest of the batch goes on. Any other error aborts the batch, which is
//     retried after a jittered backoff: transient faults never lose records.
//   - A panic in a Func is turned into a permanent error for that record, so
//     one poison record cannot crash the worker.
//   - On shutdown the batch in flight gets ShutdownTimeout to commit; past it
//     the transaction is aborted and a successor re-processes the batch.
//     Transactional IDs are stable per stage and instance, so a restarted
//     worker fences a crashed predecessor instead of waiting on it.
//
// A stage pays per transaction (five broker round trips, and Redis's for a
// stateful one) more than per record, so at a low rate its consumer asks the
// broker to hold each fetch until --fetch-min-bytes have arrived or
// --fetch-max-wait has passed: a poll brings a batch, and a record waits at
// most --fetch-max-wait per stage for others to share its transaction.
//
// RunStore is the at-least-once variant for the sink, whose output (ClickHouse)
// cannot join a Kafka transaction: it gathers polls for up to
// StoreStage.Linger or StoreStage.MaxRecords, writes them at once (each
// partition's records one contiguous range), then commits offsets, and
// resumes from the store's own high-water mark.
package worker

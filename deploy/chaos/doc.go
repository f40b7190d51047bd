// Package chaos is the fault suite the project runs on itself (`make
// chaos`, issue #14): each scenario starts a fresh stack of its own — a dev
// broker, a Redis, a ClickHouse database, the six workers as processes, on
// loopback ports below the kernel's ephemeral range — pushes generated
// traffic through it while injecting one kind of fault, drains, and judges
// what landed against the generator's oracle (package sample) and the
// pipeline's own invariants: no id twice after FINAL, exact raw counts, no
// open transaction, lag back to zero.
//
// A scenario's verdict is one Result line. The suite also runs a negative
// control that breaks the data on purpose: a judge that cannot fail it
// proves nothing, so the suite fails when the control passes.
package chaos

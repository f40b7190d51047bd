// Package ops holds the commission stage's operator commands (statements,
// whatif, adjust, decide, close-period, verify, explain, fraud), each a cli.RunFunc so that
// its own binary under cmd/ and the reftrack CLI run the same code (fraud,
// a scheduled rule, runs only as `reftrack fraud`).
package ops

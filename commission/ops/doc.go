// Package ops holds the commission stage's operator commands (statements,
// whatif, adjust, decide, close-period, verify, explain), each a cli.RunFunc so that
// its own binary under cmd/ and the reftrack CLI run the same code.
package ops

package chaos

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// Ports hands out loopback TCP ports from [Lo, Hi), a range below the
// kernel's ephemeral one (32768 and up on Linux): a listener there cannot
// collide with the source port of some outbound connection, which is how
// stacks on ephemeral ports failed at random (issue #14). A port is handed
// out once per Ports, and only if it can be bound right now.
type Ports struct {
	Lo, Hi int
	mu     sync.Mutex
	next   int
}

// Next returns a port nobody listens on, never one it returned before.
func (p *Ports) Next() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next < p.Lo {
		p.next = p.Lo
	}
	for ; p.next < p.Hi; p.next++ {
		if free(p.next) {
			p.next++
			return p.next - 1, nil
		}
	}
	return 0, fmt.Errorf("no free port left in %d..%d", p.Lo, p.Hi-1)
}

func free(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// addr is a loopback address.
func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

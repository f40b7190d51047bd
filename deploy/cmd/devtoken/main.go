// Command devtoken prints a bearer token for the DEV stack's ingest, signed
// with the dev-only HS256 secret of deploy/devstack. Useless anywhere else.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/ingest/auth"
)

func main() {
	role := flag.String("role", auth.RoleAdmin, "partner, agent or admin")
	partner := flag.String("partner", "", "partner_id claim (role partner)")
	agent := flag.String("agent", "", "agent_id claim (role agent)")
	flag.Parse()
	tok, err := auth.Sign([]byte(devstack.DevJWTSecret), devstack.DevJWTIssuer, "reftrack-ingest",
		auth.Claims{Role: *role, PartnerID: *partner, AgentID: *agent}, 12*time.Hour)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devtoken:", err)
		os.Exit(1)
	}
	fmt.Println(tok)
}

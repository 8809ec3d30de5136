// Writes ../operator.conf, an operator-mode nats-server configuration (an operator, an
// account with JetStream and the system account, resolver MEMORY), and ../node.creds,
// a user of that account, as nsc would write them. Run: go run . (needs Go; CI does
// not run it: the files it wrote are committed).
package main

import (
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func main() {
	okp := must(nkeys.CreateOperator())
	opub := must(okp.PublicKey())
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "peo-test"
	ojwt := must(oc.Encode(okp))

	akp := must(nkeys.CreateAccount())
	apub := must(akp.PublicKey())
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "PEO"
	ac.Limits.JetStreamLimits.DiskStorage = -1
	ac.Limits.JetStreamLimits.MemoryStorage = -1
	ajwt := must(ac.Encode(okp))

	skp := must(nkeys.CreateAccount())
	spub := must(skp.PublicKey())
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt := must(sc.Encode(okp))
	oc.SystemAccount = spub
	ojwt = must(oc.Encode(okp))

	ukp := must(nkeys.CreateUser())
	upub := must(ukp.PublicKey())
	uc := jwt.NewUserClaims(upub)
	uc.Name = "node"
	uc.IssuerAccount = apub
	ujwt := must(uc.Encode(akp))
	seed := must(ukp.Seed())
	creds := must(jwt.FormatUserConfig(ujwt, seed))
	if err := os.WriteFile("../node.creds", creds, 0o600); err != nil {
		panic(err)
	}

	conf := fmt.Sprintf(`# An operator-mode (JWT) nats-server configuration for the tests: the operator,
# one account with JetStream, its JWT preloaded (resolver MEMORY), as nsc would
# write them. node.creds signs in as a user of that account. Written by
# tests/nats/make-jwt (go run .); the keys are test keys, committed on purpose.
operator: %s
system_account: %s
resolver: MEMORY
resolver_preload: {
  %s: %s
  %s: %s
}
`, ojwt, spub, apub, ajwt, spub, sjwt)
	if err := os.WriteFile("../operator.conf", []byte(conf), 0o644); err != nil {
		panic(err)
	}
}

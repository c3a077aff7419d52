// Command referrers-registry serves go-containerregistry's in-memory OCI registry with the OCI 1.1
// referrers API switched on (crane's `registry serve` leaves it off), for the tests that need a
// registry answering GET /v2/<name>/referrers/<digest>. Loopback only; nothing is kept on disk.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("address", "127.0.0.1:0", "host:port to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The harness reads this line to learn the port.
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr().String())
	srv := &http.Server{Handler: registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(os.Stderr, "", log.LstdFlags)))}
	log.Fatal(srv.Serve(ln))
}

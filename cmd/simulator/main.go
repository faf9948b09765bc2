// Command simulator serves a simulated Apache CloudStack management server API for the demo and the
// end-to-end tests, with an admin endpoint for counts and fault injection (see docs/simulator.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address of the CloudStack API (served under /client/api)")
	catalog := flag.String("catalog", "test/catalog/catalog.yaml", "YAML catalog of the simulated cloud")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this certificate file (needs --tls-key)")
	tlsKey := flag.String("tls-key", "", "private key file for --tls-cert")
	jobLatency := flag.Duration("job-latency", 2*time.Second, "how long asynchronous jobs take (0 = done within the request)")
	adminListen := flag.String("admin-listen", "127.0.0.1:8081", "address of the admin endpoint (empty = off)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error; debug logs every request")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("parsing --log-level %q: %w", *logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	cat, err := simulator.LoadCatalog(*catalog)
	if err != nil {
		return err
	}
	opts := []simulator.Option{simulator.WithListenAddress(*listen), simulator.WithJobLatency(*jobLatency), simulator.WithLogger(log)}
	if *tlsCert != "" {
		opts = append(opts, simulator.WithTLS(*tlsCert, *tlsKey))
	}
	sim, err := simulator.New(cat, opts...)
	if err != nil {
		return err
	}
	defer sim.Close()
	log.Info("serving CloudStack API", "url", sim.URL(), "catalog", *catalog, "job-latency", *jobLatency)

	var admin *http.Server
	if *adminListen != "" {
		ln, err := net.Listen("tcp", *adminListen)
		if err != nil {
			return fmt.Errorf("listening for the admin endpoint on %s: %w", *adminListen, err)
		}
		admin = &http.Server{Handler: sim.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin endpoint stopped", "error", err)
			}
		}()
		log.Info("serving admin endpoint", "url", "http://"+ln.Addr().String())
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	if admin != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = admin.Shutdown(shutdown)
	}
	return nil
}

package simulator_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func benchServer(b *testing.B) (*simulator.Server, *csgo.CloudStackClient) {
	b.Helper()
	c, err := simulator.LoadCatalog(catalogPath)
	if err != nil {
		b.Fatal(err)
	}
	c.Settings.ExpungeDelay = simulator.Duration{Duration: time.Hour}
	c.Accounts[1].Limits = simulator.Limits{}
	for i := range c.Zones {
		c.Zones[i].Capacity = simulator.ZoneCapacity{}
	}
	sim, err := simulator.New(c, simulator.WithJobLatency(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Close)
	return sim, csgo.NewClient(sim.URL(), userKey, userSecret, false)
}

func ids(b *testing.B, cs *csgo.CloudStackClient) (offering, template, zone, network string) {
	b.Helper()
	var err error
	if zone, _, err = cs.Zone.GetZoneID("zone-a"); err != nil {
		b.Fatal(err)
	}
	if offering, _, err = cs.ServiceOffering.GetServiceOfferingID("small"); err != nil {
		b.Fatal(err)
	}
	if template, _, err = cs.Template.GetTemplateID("ubuntu-24.04-kube-v1.36-amd64", "executable", zone); err != nil {
		b.Fatal(err)
	}
	if network, _, err = cs.Network.GetNetworkID("isolated-a"); err != nil {
		b.Fatal(err)
	}
	return
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkListZones measures a simple signed GET through the SDK.
func BenchmarkListZones(b *testing.B) {
	_, cs := benchServer(b)
	p := cs.Zone.NewListZonesParams()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cs.Zone.ListZones(p); err != nil {
				b.Error(err)
			}
		}
	})
	reportRate(b)
}

// BenchmarkDeployVirtualMachine measures deploy (a form POST) with zero job latency.
func BenchmarkDeployVirtualMachine(b *testing.B) {
	_, cs := benchServer(b)
	offering, template, zone, network := ids(b, cs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := cs.VirtualMachine.NewDeployVirtualMachineParams(offering, template, zone)
		p.SetName(fmt.Sprintf("bench-%d", i))
		p.SetNetworkids([]string{network})
		if _, err := cs.VirtualMachine.DeployVirtualMachine(p); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkListVirtualMachines1000 lists all of 1000 VMs (no paging), and one of them by id.
func BenchmarkListVirtualMachines1000(b *testing.B) {
	sim, cs := benchServer(b)
	offering, template, zone, network := ids(b, cs)
	for i := 0; i < 1000; i++ {
		p := cs.VirtualMachine.NewDeployVirtualMachineParams(offering, template, zone)
		p.SetName(fmt.Sprintf("bench-%d", i))
		p.SetNetworkids([]string{network})
		if _, err := cs.VirtualMachine.DeployVirtualMachine(p); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("all", func(b *testing.B) {
		p := cs.VirtualMachine.NewListVirtualMachinesParams()
		for i := 0; i < b.N; i++ {
			l, err := cs.VirtualMachine.ListVirtualMachines(p)
			if err != nil || l.Count != 1000 {
				b.Fatalf("count %v, err %v", l, err)
			}
		}
		reportRate(b)
	})
	// The SDK's decoding of 1000 VMs dominates "all"; "all-raw" measures the simulator alone with a signed
	// GET whose body is read and discarded.
	b.Run("all-raw", func(b *testing.B) {
		params := url.Values{"command": {"listVirtualMachines"}, "apiKey": {userKey}, "response": {"json"},
			"signatureversion": {"3"}, "expires": {time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}}
		q := csgo.EncodeValues(params)
		mac := hmac.New(sha1.New, []byte(userSecret))
		mac.Write([]byte(strings.ToLower(q)))
		target := sim.URL() + "?" + q + "&signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			resp, err := http.Get(target)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n < 1000*500 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
		}
		reportRate(b)
	})
	b.Run("by-id", func(b *testing.B) {
		l, err := cs.VirtualMachine.ListVirtualMachines(cs.VirtualMachine.NewListVirtualMachinesParams())
		if err != nil {
			b.Fatal(err)
		}
		p := cs.VirtualMachine.NewListVirtualMachinesParams()
		p.SetId(l.VirtualMachines[500].Id)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := cs.VirtualMachine.ListVirtualMachines(p); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
}

package instancetype

import (
	"strconv"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
)

// PriceKey is the service offering detail or resource tag that sets an offering's hourly price, for operators who
// keep prices in CloudStack rather than in the controller's configuration.
const PriceKey = apis.Group + "/price"

// Weights of the fallback price formula, per hour in an arbitrary currency. CloudStack has no price API; Karpenter
// only needs prices to order instance types, so the formula just has to grow strictly with every dimension of size:
// a vCPU weighs as much as 4 GiB of memory (the usual public-cloud ratio) and a GPU as much as 25 vCPUs.
const (
	pricePerCPU       = 0.02
	pricePerMemoryGiB = 0.005
	pricePerGPU       = 0.5
)

// FormulaPrice is the documented fallback price of a shape: strictly monotonic in vCPUs, memory and GPUs.
func FormulaPrice(cpu, memoryMiB, gpus int) float64 {
	return pricePerCPU*float64(cpu) + pricePerMemoryGiB*float64(memoryMiB)/1024 + pricePerGPU*float64(gpus)
}

// price resolves the price of one instance type, most specific source first:
//  1. the configured price map, by instance-type name (the only way to price one rung of a customized ladder), then
//     offering UUID, then offering name;
//  2. for a fixed offering, the PriceKey service offering detail, then the PriceKey resource tag;
//  3. FormulaPrice.
//
// Customized offerings skip step 2: one price for every rung would make the ladder's prices flat, which breaks
// Karpenter's cheapest-first ordering and consolidation.
func (p *DefaultProvider) price(o *csgo.ServiceOffering, s size, gpus int, tags map[string]string) float64 {
	for _, key := range []string{s.name, o.Id, o.Name} {
		if v, ok := p.prices[key]; ok && (key == s.name || !s.customized) {
			return v
		}
	}
	if !s.customized {
		for _, raw := range []string{o.Serviceofferingdetails[PriceKey], tags[PriceKey]} {
			if v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64); err == nil && v >= 0 {
				return v
			}
		}
	}
	return FormulaPrice(s.cpu, s.memoryMiB, gpus)
}

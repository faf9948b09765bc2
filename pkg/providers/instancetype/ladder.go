package instancetype

import (
	"fmt"
	"strconv"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
)

// Bounds assumed for a customized offering that sets no serviceofferingdetails min/max. CloudStack then accepts any
// size the account limits allow; these keep the synthesized ladder to sizes a Kubernetes worker plausibly needs
// (1 vCPU/1 GiB is below a useful node, 32 vCPU/256 GiB is where operators typically define fixed offerings).
const (
	DefaultCustomMinCPU       = 1
	DefaultCustomMaxCPU       = 32
	DefaultCustomMinMemoryMiB = 1024
	DefaultCustomMaxMemoryMiB = 256 * 1024
)

// DefaultCPUSpeedMHz is sent as the cpuSpeed detail when a customized offering does not fix the CPU speed itself:
// CloudStack requires one then, and 2 GHz is the clock most hosts guarantee per vCPU share.
const DefaultCPUSpeedMHz = 2000

// Keys of serviceofferingdetails that bound a constrained customized offering (memory in MiB).
const (
	detailMinCPU    = "mincpunumber"
	detailMaxCPU    = "maxcpunumber"
	detailMinMemory = "minmemory"
	detailMaxMemory = "maxmemory"
)

// memoryPerCPUGiB are the memory-to-vCPU ratios of the ladder: compute-, general-, memory- and large-memory-shaped
// sizes, the same spread public clouds offer per vCPU count.
var memoryPerCPUGiB = []int{1, 2, 4, 8}

// size is one concrete shape of an offering: the only one of a fixed offering, or one rung of a customized ladder.
type size struct {
	name       string
	cpu        int
	memoryMiB  int
	customized bool
}

// IsCustomized reports whether the offering's cpu and memory are chosen at deploy time through details.
func IsCustomized(o *csgo.ServiceOffering) bool {
	return o.Iscustomized && (o.Cpunumber == 0 || o.Memory == 0)
}

// sizes returns the shapes an offering becomes. A fixed offering is one size named like the CCM names it. A
// customized offering becomes a ladder: vCPU counts 1, 2, 4, 8, ... up to the first power of two at or above the
// maximum, each clipped into [min, max] (so the bounds themselves are rungs), times 1, 2, 4 and 8 GiB per vCPU, each
// clipped into the memory bounds; duplicates after clipping collapse. Rungs are named
// "<sanitized offering name>-<cpu>c<memory>" with memory as "<n>g" for whole GiB and "<n>m" otherwise, so names are
// stable across restarts and label-safe.
func sizes(o *csgo.ServiceOffering) []size {
	base := SanitizeName(o.Name)
	if !IsCustomized(o) {
		if base == "" {
			return nil
		}
		return []size{{name: base, cpu: o.Cpunumber, memoryMiB: o.Memory}}
	}
	minCPU, maxCPU, minMem, maxMem := customBounds(o)
	// An offering may fix one dimension and leave the other customizable; the fixed one is then a single rung.
	if o.Cpunumber > 0 {
		minCPU, maxCPU = o.Cpunumber, o.Cpunumber
	}
	if o.Memory > 0 {
		minMem, maxMem = o.Memory, o.Memory
	}
	if minCPU < 1 || minCPU > maxCPU || minMem < 1 || minMem > maxMem {
		return nil
	}
	var out []size
	seen := map[[2]int]bool{}
	for p := 1; ; p *= 2 {
		cpu := clamp(p, minCPU, maxCPU)
		for _, ratio := range memoryPerCPUGiB {
			mem := clamp(cpu*ratio*1024, minMem, maxMem)
			if seen[[2]int{cpu, mem}] {
				continue
			}
			seen[[2]int{cpu, mem}] = true
			out = append(out, size{name: ladderName(base, cpu, mem), cpu: cpu, memoryMiB: mem, customized: true})
		}
		if p >= maxCPU {
			break
		}
	}
	return out
}

func customBounds(o *csgo.ServiceOffering) (minCPU, maxCPU, minMem, maxMem int) {
	d := o.Serviceofferingdetails
	return detailInt(d, detailMinCPU, DefaultCustomMinCPU), detailInt(d, detailMaxCPU, DefaultCustomMaxCPU),
		detailInt(d, detailMinMemory, DefaultCustomMinMemoryMiB), detailInt(d, detailMaxMemory, DefaultCustomMaxMemoryMiB)
}

func detailInt(details map[string]string, key string, def int) int {
	v, err := strconv.Atoi(strings.TrimSpace(details[key]))
	if err != nil || v <= 0 {
		return def
	}
	return v
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

func ladderName(base string, cpu, memMiB int) string {
	mem := fmt.Sprintf("%dm", memMiB)
	if memMiB%1024 == 0 {
		mem = fmt.Sprintf("%dg", memMiB/1024)
	}
	suffix := fmt.Sprintf("%dc%s", cpu, mem)
	if limit := maxLabelValueLength - len(suffix) - 1; len(base) > limit {
		base = strings.TrimRight(base[:limit], "-_.")
	}
	if base == "" {
		return suffix
	}
	return base + "-" + suffix
}

// DeployDetails returns the deployVirtualMachine details that size a VM of a customized offering, or nil for a fixed
// offering. Each of cpuNumber, memory and cpuSpeed is sent only when the offering leaves it open: CloudStack's
// validateCustomParameters rejects a value for a dimension the offering predefines ("... is not customizable") and
// requires one for every dimension it does not.
func DeployDetails(o *csgo.ServiceOffering, cpu, memoryMiB int) map[string]string {
	if !IsCustomized(o) {
		return nil
	}
	details := map[string]string{}
	if o.Cpunumber <= 0 {
		details["cpuNumber"] = strconv.Itoa(cpu)
	}
	if o.Memory <= 0 {
		details["memory"] = strconv.Itoa(memoryMiB)
	}
	if o.Cpuspeed <= 0 {
		details["cpuSpeed"] = strconv.Itoa(DefaultCPUSpeedMHz)
	}
	return details
}

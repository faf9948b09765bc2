package environment

import (
	"fmt"
	"sort"
	"strconv"
)

// The chart's fixed choices that ControllerEnv reproduces: its Deployment's env list resolves these for the
// default values (release "karpenter-cloudstack" in namespace "karpenter").
const (
	// ChartRelease and ChartNamespace are the release the local controller stands in for.
	ChartRelease   = "karpenter-cloudstack"
	ChartNamespace = "karpenter"
	// ChartCredentialsMountPath is where the chart mounts the credentials Secret; locally a directory with the same
	// files takes its place.
	ChartCredentialsMountPath = "/var/run/secrets/cloudstack"
	// chartMemoryLimit and chartCPURequestsMilli are the default resources.limits.memory (1Gi) and
	// resources.requests.cpu (500m), which the chart passes down as MEMORY_LIMIT and CPU_REQUESTS.
	chartMemoryLimit      = 1 << 30
	chartCPURequestsMilli = 500
)

// ChartOptionalSettings maps chart values (paths under .Values) to the environment variables the chart's
// Deployment sets only when the value is given: the same list, in the same order, as the $optional list in
// charts/karpenter-cloudstack/templates/deployment.yaml.
var ChartOptionalSettings = [][2]string{
	{"settings.logLevel", "LOG_LEVEL"},
	{"settings.logOutputPaths", "LOG_OUTPUT_PATHS"},
	{"settings.logErrorOutputPaths", "LOG_ERROR_OUTPUT_PATHS"},
	{"settings.kubeClientQPS", "KUBE_CLIENT_QPS"},
	{"settings.kubeClientBurst", "KUBE_CLIENT_BURST"},
	{"settings.enableProfiling", "ENABLE_PROFILING"},
	{"settings.disableControllerWarmup", "DISABLE_CONTROLLER_WARMUP"},
	{"settings.disableClusterStateObservability", "DISABLE_CLUSTER_STATE_OBSERVABILITY"},
	{"settings.batchMaxDuration", "BATCH_MAX_DURATION"},
	{"settings.batchIdleDuration", "BATCH_IDLE_DURATION"},
	{"settings.preferencePolicy", "PREFERENCE_POLICY"},
	{"settings.minValuesPolicy", "MIN_VALUES_POLICY"},
	{"settings.ignoreDRARequests", "IGNORE_DRA_REQUESTS"},
	{"settings.legacyNodeRepair", "LEGACY_NODE_REPAIR"},
	{"settings.featureGates", "FEATURE_GATES"},
	{"settings.schedulerConfig", "SCHEDULER_CONFIG"},
	{"settings.gcGracePeriod", "GC_GRACE_PERIOD"},
	{"settings.userDataMaxLength", "USERDATA_MAX_LENGTH"},
	{"settings.offeringPrices", "OFFERING_PRICES"},
	{"settings.vmMemoryOverheadPercent", "VM_MEMORY_OVERHEAD_PERCENT"},
	{"settings.cloudstack.apiQPS", "CLOUDSTACK_API_QPS"},
	{"settings.cloudstack.apiBurst", "CLOUDSTACK_API_BURST"},
	{"settings.cloudstack.listPageSize", "CLOUDSTACK_LIST_PAGE_SIZE"},
	{"settings.cloudstack.httpTimeout", "CLOUDSTACK_HTTP_TIMEOUT"},
	{"settings.cloudstack.project", "CLOUDSTACK_PROJECT"},
	{"settings.cacheTTLs.zones", "ZONES_CACHE_TTL"},
	{"settings.cacheTTLs.networks", "NETWORKS_CACHE_TTL"},
	{"settings.cacheTTLs.templates", "TEMPLATES_CACHE_TTL"},
	{"settings.cacheTTLs.offerings", "OFFERINGS_CACHE_TTL"},
	{"settings.cacheTTLs.instanceTypes", "INSTANCE_TYPES_CACHE_TTL"},
	{"settings.cacheTTLs.unavailableOfferings", "UNAVAILABLE_OFFERINGS_TTL"},
}

// ChartValues are the chart values the local controller runs with: values paths (as for helm --set) to values.
// settings.clusterName, settings.metricsPort and settings.healthProbePort are required.
type ChartValues map[string]string

// ControllerEnv is the controller container's environment as the chart renders it for these values, with the
// credentials directory at credentialsDir instead of the Secret's mount path. It is sorted by name.
func ControllerEnv(values ChartValues, credentialsDir string) ([]string, error) {
	for _, required := range []string{"settings.clusterName", "settings.metricsPort", "settings.healthProbePort"} {
		if values[required] == "" {
			return nil, fmt.Errorf("chart value %s is required", required)
		}
	}
	leaderElectionDisabled, err := strconv.ParseBool(valueOr(values, "settings.leaderElection.disabled", "false"))
	if err != nil {
		return nil, fmt.Errorf("chart value settings.leaderElection.disabled, %w", err)
	}
	env := map[string]string{
		"CLUSTER_NAME":               values["settings.clusterName"],
		"CLOUDSTACK_CREDENTIALS_DIR": credentialsDir,
		"KARPENTER_SERVICE":          ChartRelease,
		"METRICS_PORT":               values["settings.metricsPort"],
		"HEALTH_PROBE_PORT":          values["settings.healthProbePort"],
		"DISABLE_LEADER_ELECTION":    strconv.FormatBool(leaderElectionDisabled),
		"LEADER_ELECTION_NAME":       valueOr(values, "settings.leaderElection.name", ChartRelease+"-leader-election"),
		"LEADER_ELECTION_NAMESPACE":  ChartNamespace,
		"MEMORY_LIMIT":               strconv.Itoa(chartMemoryLimit),
		"CPU_REQUESTS":               strconv.Itoa(chartCPURequestsMilli),
	}
	known := map[string]bool{"settings.clusterName": true, "settings.metricsPort": true, "settings.healthProbePort": true,
		"settings.leaderElection.disabled": true, "settings.leaderElection.name": true}
	for _, o := range ChartOptionalSettings {
		known[o[0]] = true
		if v := values[o[0]]; v != "" {
			env[o[1]] = v
		}
	}
	for k := range values {
		if !known[k] {
			return nil, fmt.Errorf("chart value %s is not one ControllerEnv mirrors", k)
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

func valueOr(values ChartValues, key, def string) string {
	if v := values[key]; v != "" {
		return v
	}
	return def
}

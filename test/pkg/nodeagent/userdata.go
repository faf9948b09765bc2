package nodeagent

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// KubeletConfig is what a node learns about itself from its rendered userData: the kubelet flags of the bootstrap
// contract.
type KubeletConfig struct {
	// Labels are the --node-labels.
	Labels map[string]string
	// Taints are the --register-with-taints.
	Taints []corev1.Taint
	// MaxPods is --max-pods (110, the kubelet's default, when absent).
	MaxPods int64
	// KubeReserved and SystemReserved are --kube-reserved and --system-reserved.
	KubeReserved, SystemReserved corev1.ResourceList
	// EvictionHard is --eviction-hard as signal -> threshold (a quantity or a percentage).
	EvictionHard map[string]string
	// ProviderID is --provider-id as written in the userData, before the boot script filled in the instance ID
	// (see NewRegistration); empty when the userData passes none.
	ProviderID string
	// HostnameOverride is --hostname-override: the node name instead of the VM's hostname.
	HostnameOverride string
	// CloudProvider is --cloud-provider; "external" makes the kubelet wait for a cloud-controller-manager.
	CloudProvider string
	// EvictionHardSet tells whether the userData passed --eviction-hard; without it the kubelet's defaults apply.
	EvictionHardSet bool
}

// defaultMaxPods is the kubelet's own default.
const defaultMaxPods = 110

// A flag's value ends at whitespace or at a quote: shell and YAML quoting around the value is not part of it.
var flagPattern = regexp.MustCompile(`--(node-labels|register-with-taints|max-pods|kube-reserved|system-reserved|eviction-hard|provider-id|hostname-override|cloud-provider)=([^\s"']*)`)

// DecodeUserData turns the userdata parameter CloudStack received (base64, usually of gzip) into text.
func DecodeUserData(encoded string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("decoding base64 userData, %w", err)
	}
	// gzip magic: cloud-init accepts both, and so does a node.
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return "", fmt.Errorf("opening gzip'ed userData, %w", err)
		}
		defer zr.Close()
		out, err := io.ReadAll(zr)
		if err != nil {
			return "", fmt.Errorf("gunzipping userData, %w", err)
		}
		return string(out), nil
	}
	return string(raw), nil
}

// ReadKubeletConfig is the kubelet configuration a node of that distro boots with from the rendered userData:
// the flags of KubeletCommandLine.
func ReadKubeletConfig(userData string, distro Distro) (*KubeletConfig, error) {
	cmdline, err := KubeletCommandLine(userData, distro)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseKubeletConfig(cmdline)
	if err != nil {
		return nil, fmt.Errorf("on a %s-family image, %w", distro.Name, err)
	}
	return cfg, nil
}

// ParseKubeletConfig reads the kubelet flags out of rendered userData. It fails when the userData carries no
// --register-with-taints: a node without it would register without karpenter.sh/unregistered, which breaks the
// bootstrap contract, so such a VM must not join.
func ParseKubeletConfig(userData string) (*KubeletConfig, error) {
	cfg := &KubeletConfig{Labels: map[string]string{}, MaxPods: defaultMaxPods, EvictionHard: map[string]string{}}
	seenTaints := false
	for _, m := range flagPattern.FindAllStringSubmatch(userData, -1) {
		name, value := m[1], m[2]
		var err error
		switch name {
		case "node-labels":
			err = parsePairs(value, "=", func(k, v string) { cfg.Labels[k] = v })
		case "register-with-taints":
			seenTaints = true
			cfg.Taints, err = parseTaints(value)
		case "max-pods":
			cfg.MaxPods, err = strconv.ParseInt(value, 10, 64)
		case "kube-reserved":
			cfg.KubeReserved, err = parseResources(value)
		case "system-reserved":
			cfg.SystemReserved, err = parseResources(value)
		case "eviction-hard":
			cfg.EvictionHardSet = true
			err = parsePairs(value, "<", func(k, v string) { cfg.EvictionHard[k] = v })
		case "provider-id":
			cfg.ProviderID = value
		case "hostname-override":
			cfg.HostnameOverride = value
		case "cloud-provider":
			cfg.CloudProvider = value
		}
		if err != nil {
			return nil, fmt.Errorf("parsing --%s=%q in userData, %w", name, value, err)
		}
	}
	if !seenTaints {
		return nil, fmt.Errorf("the kubelet gets no --register-with-taints flag; docs/bootstrap.md shows how to pass {{ .KubeletArgs }} through a kubelet drop-in every distribution reads")
	}
	return cfg, nil
}

func parsePairs(value, sep string, add func(k, v string)) error {
	if value == "" {
		return nil
	}
	for _, pair := range strings.Split(value, ",") {
		k, v, ok := strings.Cut(pair, sep)
		if !ok || k == "" {
			return fmt.Errorf("%q is not key%svalue", pair, sep)
		}
		add(k, v)
	}
	return nil
}

func parseTaints(value string) ([]corev1.Taint, error) {
	if value == "" {
		return nil, nil
	}
	var taints []corev1.Taint
	for _, spec := range strings.Split(value, ",") {
		kv, effect, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q has no effect", spec)
		}
		t := corev1.Taint{Effect: corev1.TaintEffect(effect)}
		t.Key, t.Value, _ = strings.Cut(kv, "=")
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("taint %q has unknown effect %q", spec, effect)
		}
		taints = append(taints, t)
	}
	return taints, nil
}

func parseResources(value string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	var parseErr error
	err := parsePairs(value, "=", func(k, v string) {
		q, err := resource.ParseQuantity(v)
		if err != nil && parseErr == nil {
			parseErr = fmt.Errorf("%s=%s, %w", k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	})
	if err != nil {
		return nil, err
	}
	return out, parseErr
}
